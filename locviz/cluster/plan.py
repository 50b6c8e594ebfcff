"""Cut a FASTA file into partitions: byte ranges that start at a record, found in one streaming pass.

Why byte ranges: a worker reads its own slice of the file (``seek`` + ``read``), so no process ever holds
the whole input, and the client only streams it once (16 MiB at a time) to hash it and place the cuts.
Cuts are placed at equal byte counts rather than equal record counts: bytes follow residues, and residues
are what the model spends its time on, so partitions of equal bytes take about equal time and the last
partitions of a run do not leave workers idle. The same pass counts the lines and records before every
cut, so a worker reports bad records by the line number of the whole file, as the single process does.
"""

from __future__ import annotations

import codecs
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from locviz.errors import InputError
from locviz.sequences import utf8_issue

BLOCK = 16 * 1024 * 1024
SAMPLE = 1024 * 1024
BOM = b"\xef\xbb\xbf"

MINUTE_OF_WORK = 2_500
"""Proteins one single-threaded worker predicts in about a minute (DeepLoc-sized proteins, 4-member ensemble:
~42 proteins/s per core, ``benchmarks/cluster.py``); the default partition size."""
PARTITIONS_PER_WORKER = 4
"""With the default size, a small input is still cut into at least this many partitions per worker (load balance)."""


@dataclass(frozen=True)
class Partition:
    """Records ``[start, end)`` of the input in bytes; ``first_line`` is the 1-based line at ``start``."""

    index: int
    start: int
    end: int
    first_line: int
    records: int

    def to_list(self) -> list[int]:
        return [self.start, self.end, self.first_line, self.records]


@dataclass(frozen=True)
class Plan:
    """The input's identity (size, sha256) and its partitions, in input order."""

    path: Path
    size: int
    sha256: str
    target_bytes: int
    partitions: tuple[Partition, ...]

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)

    def first_record(self, index: int) -> int:
        """The 1-based number, in the whole input, of partition ``index``'s first record."""
        return 1 + sum(p.records for p in self.partitions[:index])


def is_fasta(path: Path) -> bool:
    """Whether the first non-blank character (after a UTF-8 byte-order mark) is '>'."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE).removeprefix(BOM).lstrip()
    return head.startswith(b">")


def mean_record_bytes(path: Path) -> float:
    """Bytes per record in the first MiB of the file (the whole MiB when it holds fewer than one record)."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE)
    records = head.count(b"\n>") + head.removeprefix(BOM).startswith(b">")
    return len(head) / max(records, 1)


def target_bytes(path: Path, partition_size: int | None, workers: int) -> int:
    """Bytes per partition: ``partition_size`` proteins' worth, or by default a minute of work, cut finer when the
    input is small so that every worker gets :data:`PARTITIONS_PER_WORKER`; the count of partitions is then rounded
    up to a multiple of the worker count, so the last round of partitions keeps every worker busy."""
    size = path.stat().st_size
    per_record = mean_record_bytes(path)
    workers = max(workers, 1)
    if partition_size is None:
        wanted = min(MINUTE_OF_WORK * per_record, size / (PARTITIONS_PER_WORKER * workers))
    else:
        wanted = partition_size * per_record
    count = max(1, math.ceil(size / max(wanted, 1.0)))
    count = math.ceil(count / workers) * workers
    return max(1, math.ceil(size / count))


def scan(path: Path, target: int) -> Plan:
    """One pass over ``path``: its sha256, and a cut at the first record at or after every ``target`` bytes.

    A file that does not start with a FASTA header (one raw sequence, text the reader will refuse, or stray text
    before the records, which the reader reports with the first record) is one partition, so it meets exactly
    the single-process reader and its messages.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256()
    fasta = is_fasta(path)
    cuts: list[tuple[int, int, int]] = [(0, 1, 0)]  # (byte offset, line at the offset, records before it)
    next_cut = target if fasta else size + 1
    offset, lines, records = 0, 0, 0
    previous = b"\n"  # the byte before the block: a '>' at offset 0 starts a record
    utf8 = codecs.getincrementaldecoder("utf-8")()  # the single process refuses other encodings; so do the workers
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
            try:
                utf8.decode(block)
            except UnicodeDecodeError as exc:
                raise InputError(utf8_issue(path) or f"{path} is not UTF-8 text: save it as UTF-8") from exc
            view = previous + (b"\n" * len(BOM) + block[len(BOM) :] if offset == 0 and block.startswith(BOM) else block)
            # in `view`, a record starting at block index i is an occurrence of b"\n>" at view index i
            while next_cut < offset + len(block):
                local = max(next_cut - offset, 0)
                found = view.find(b"\n>", local)
                if found < 0 or found >= len(block):
                    break  # no record starts in the rest of this block: look on in the next one
                cuts.append((offset + found, lines + block.count(b"\n", 0, found) + 1,
                             records + view.count(b"\n>", 0, found)))  # fmt: skip
                next_cut = max(offset + found + 1, len(cuts) * target)
            lines += block.count(b"\n")
            records += view.count(b"\n>")  # every record that starts in this block
            previous = block[-1:]
            offset += len(block)
        try:
            utf8.decode(b"", final=True)  # a multi-byte character cut off by the end of the file
        except UnicodeDecodeError as exc:
            raise InputError(utf8_issue(path) or f"{path} is not UTF-8 text: save it as UTF-8") from exc
    if not fasta:
        records = 1  # the reader hands the whole text over as one record
    bounds = [*cuts, (size, lines + 1, records)]
    partitions = tuple(
        Partition(k, start, end, line, after - before)
        for k, ((start, line, before), (end, _, after)) in enumerate(zip(bounds, bounds[1:], strict=False))
    )
    return Plan(path, size, digest.hexdigest(), target, partitions)


def sha256_file(path: Path) -> str:
    """The sha256 of a (part) file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()
