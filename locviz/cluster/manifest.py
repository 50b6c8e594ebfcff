"""The out folder of a cluster run: what run it holds, which partitions are finished, which records were refused.

Files in ``DIR``:

- ``run.json``: the run's identity (input sha256, model weights sha256, the options that change the table) and its
  partition plan, written once when the run starts; a later command with another input, model or options is
  refused instead of mixing two runs in one table.
- ``manifest.jsonl``: one line per finished partition (rows, refused records, sha256 of the part file, input byte
  range, model sha256), appended by the client only after the part file is complete under its final name; a line
  cut short by a crash is ignored, so the partition is simply done again.
- ``part-NNNNN.parquet`` (and ``attention-NNNNN.parquet`` with ``--attention``): the table, one file per partition.
- ``errors.tsv``: every refused record (partition, line, record, message), rebuilt from the manifest.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from locviz.cluster.plan import Partition, Plan, sha256_file
from locviz.errors import InputError

RUN_FILE = "run.json"
MANIFEST_FILE = "manifest.jsonl"
ERRORS_FILE = "errors.tsv"
LOCK_FILE = ".lock"
ERROR_COLUMNS = ("partition", "line", "record", "message")
FORMAT = 1
TEMPORARY = ".tmp-"  # marks a file a worker is still writing (renamed when complete)
CHECKED = "duplicates_checked"  # the manifest line saying the run is whole (every partition, repeated names refused)


def file_name(kind: str, index: int, count: int) -> str:
    """``part-00007.parquet``; the number has as many digits as the largest index needs (at least 5), so the
    names sort in input order for any Parquet reader that lists the folder."""
    width = max(5, len(str(max(count - 1, 0))))
    return f"{kind}-{index:0{width}d}.parquet"


class RunFolder:
    """``DIR`` of one cluster run (see the module docstring); only the client writes here, workers write parts."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ------------------------------------------------------------------ opening
    def create(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path} is a file; with --cluster, --out names a folder for the partitions")
        if not self.path.parent.is_dir():
            raise InputError(f"the folder {self.path.parent} does not exist; create it or choose another --out")
        self.path.mkdir(exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``DIR/.lock`` for the run: a second command on the same folder is refused, not interleaved."""
        import fcntl

        with open(self.path / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InputError(f"another locviz command is writing to {self.path}; wait for it to end") from None
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def identity(self) -> dict[str, Any] | None:
        """The ``run.json`` of an earlier run in this folder, or None."""
        path = self.path / RUN_FILE
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path} is not readable ({exc}); delete {self.path} to start again") from exc

    def start(self, identity: dict[str, Any], plan: Plan) -> None:
        """Write ``run.json`` for a new run, or check that an earlier run here is this run.

        Raises:
            InputError: the folder holds a run of another input, model or options (one line saying which).
        """
        earlier = self.identity()
        if earlier is not None:
            refuse_mismatch(self.path, earlier, identity)
            return
        if any(self.path.glob("part-*.parquet")):
            raise InputError(f"{self.path} holds part files but no {RUN_FILE}; choose an empty folder for --out")
        document = {"format": FORMAT, **identity, "partitions": [p.to_list() for p in plan.partitions]}
        write_atomically(self.path / RUN_FILE, json.dumps(document, indent=1) + "\n")

    # ------------------------------------------------------------------ finished partitions
    def finished(self) -> dict[int, dict[str, Any]]:
        """Manifest entries by partition index (a later line for the same partition replaces an earlier one)."""
        return {int(entry["partition"]): entry for entry in self._lines() if "partition" in entry}

    def _lines(self) -> Iterator[dict[str, Any]]:
        """The manifest's readable lines, in order (a line cut short by a crash is skipped: that partition is done
        again)."""
        path = self.path / MANIFEST_FILE
        if not path.is_file():
            return
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    yield entry

    def verified(self, partitions: tuple[Partition, ...], model_sha256: str) -> dict[int, dict[str, Any]]:
        """The finished entries that still hold: same byte range and model, part files present with their sha256."""
        good = {}
        for index, entry in self.finished().items():
            if index >= len(partitions) or entry.get("bytes") != [partitions[index].start, partitions[index].end]:
                continue
            if entry.get("model_sha256") != model_sha256:
                continue
            files = [(entry["file"], entry["sha256"])]
            if entry.get("attention_file"):
                files.append((entry["attention_file"], entry["attention_sha256"]))
            if all((self.path / name).is_file() and sha256_file(self.path / name) == sha for name, sha in files):
                good[index] = entry
        return good

    def record(self, entry: dict[str, Any]) -> None:
        """Append one finished partition to the manifest (one line, flushed and synced before returning)."""
        self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n"
        with open(self.path / MANIFEST_FILE, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def mark_checked(self) -> None:
        """Say in the manifest that every partition is finished and the names repeated across partitions were
        refused: until then a folder may hold both copies of a name, and :func:`locviz.cluster.merge.merge`
        refuses it."""
        self._append({CHECKED: True})

    def checked(self) -> bool:
        """Whether the last manifest line is :meth:`mark_checked`'s (a partition written after it undoes it)."""
        checked = False
        for entry in self._lines():
            if "partition" in entry:
                checked = False
            elif entry.get(CHECKED):
                checked = True
        return checked

    def remove_temporaries(self) -> None:
        """Half-written part files of an interrupted run (never listed in the manifest)."""
        for path in self.path.glob(f"*{TEMPORARY}*"):
            path.unlink(missing_ok=True)

    def write_errors(self, entries: dict[int, dict[str, Any]]) -> int:
        """``errors.tsv`` from the manifest: every refused record in input order; returns how many."""
        rows = [(index, line, record or "", message)
                for index in sorted(entries) for line, record, message in entries[index].get("issues", [])]  # fmt: skip
        rows.sort(key=lambda r: (r[0], r[1]))
        text_path = self.path / ERRORS_FILE
        with open(f"{text_path}{TEMPORARY}errors", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(ERROR_COLUMNS)
            writer.writerows(rows)
        os.replace(f"{text_path}{TEMPORARY}errors", text_path)
        return len({(r[0], r[1]) for r in rows})


IDENTITY_WORDS = {
    "input_sha256": "input",
    "model_sha256": "model",
    "organism": "--organism",
    "neighbours": "--neighbours",
    "search_mode": "--search-mode",
    "attention": "--attention",
    "columns": "table columns (another locviz version)",
}


def refuse_mismatch(folder: Path, earlier: dict[str, Any], now: dict[str, Any]) -> None:
    """One clear line when ``folder`` holds another run than the one asked for."""
    if earlier.get("input_sha256") != now["input_sha256"]:
        raise InputError(
            f"{folder} holds predictions for another input ({earlier.get('input_path')}, sha256 "
            f"{str(earlier.get('input_sha256'))[:12]}...), not {now['input_path']} (sha256 {now['input_sha256'][:12]}"
            "...); choose another --out folder, or delete it to start again"
        )
    if earlier.get("model_sha256") != now["model_sha256"]:
        raise InputError(
            f"{folder} holds predictions of model {earlier.get('model')} (weights sha256 "
            f"{str(earlier.get('model_sha256'))[:12]}...), not {now['model']} ({now['model_sha256'][:12]}...); "
            "choose another --out folder, or delete it to start again"
        )
    if earlier.get("schema_version") != now["schema_version"]:
        raise InputError(
            f"{folder} was written by another locviz version (table schema_version {earlier.get('schema_version')}; "
            f"this one writes {now['schema_version']}); finish it with that version, or choose another --out folder"
        )
    if earlier.get("target_bytes") != now["target_bytes"]:
        raise InputError(
            f"{folder} was cut into partitions with --partition-size {earlier.get('partition_size') or 'default'}, "
            f"this command asks for {now['partition_size'] or 'the default'}; give the same size (or none) to finish "
            "it, or choose another --out folder"
        )
    for key, words in IDENTITY_WORDS.items():
        if earlier.get(key) != now[key]:
            raise InputError(
                f"{folder} was started with {words} = {earlier.get(key)!r}, this command has {now[key]!r}; "
                "run the same command as before to finish it, or choose another --out folder"
            )


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}{TEMPORARY}write")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
