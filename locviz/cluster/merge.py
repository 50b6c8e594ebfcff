"""``locviz merge DIR``: the part files of a finished cluster run as one table, in input order.

The rows pass through :func:`locviz.table.arrow_rows` into the same :class:`locviz.table.RowWriter` the
single process writes with, so a merged TSV, CSV or JSON file reads exactly like ``locviz predict``'s.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locviz import pipeline, table
from locviz.cluster.manifest import ERRORS_FILE, TEMPORARY, RunFolder
from locviz.cluster.plan import sha256_file
from locviz.errors import InputError

MERGE_FORMATS = (*table.FORMATS, table.PARQUET)


@dataclass
class MergeSummary:
    path: str
    rows: int
    parts: int


def output_format(path: str, chosen: str | None = None) -> str:
    """``chosen``, else ``parquet`` for a ``.parquet`` file, else the text format :func:`locviz.table.format_for`
    picks."""
    if chosen == table.PARQUET or (chosen is None and path.lower().endswith((".parquet", ".pq"))):
        return table.PARQUET
    if chosen is not None and chosen not in MERGE_FORMATS:
        raise InputError(f"format must be one of {', '.join(MERGE_FORMATS)}, got {chosen!r}")
    return table.format_for(path, chosen)


def finished_parts(out_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's identity and its manifest entries in input order, every part checked against its sha256.

    Raises:
        InputError: no run in ``out_dir``, a partition not finished, or a part file missing or changed.
    """
    run = RunFolder(out_dir)
    ident = run.identity() if run.path.is_dir() else None
    if ident is None:
        raise InputError(
            f"{out_dir} holds no cluster run (no run.json); give the --out folder of locviz predict --cluster"
        )
    count = len(ident["partitions"])
    entries = run.finished()
    missing = [k for k in range(count) if k not in entries]
    if missing:
        raise InputError(
            f"{len(missing)} of {count} partitions of {out_dir} are not finished (first: partition {missing[0]}); run "
            "the same locviz predict --cluster command again to finish them"
        )
    if not run.checked():
        raise InputError(
            f"{out_dir}: every partition is finished but the check for names repeated across partitions did not run "
            "(the run was stopped just before it); run the same locviz predict --cluster command again: it only does "
            "that check"
        )
    ordered = [entries[k] for k in range(count)]
    for entry in ordered:
        for key, sha_key in (("file", "sha256"), ("attention_file", "attention_sha256")):
            name = entry.get(key)
            if not name:
                continue
            path = run.path / name
            if not path.is_file() or sha256_file(path) != entry[sha_key]:
                raise InputError(
                    f"{path} is missing or changed since it was written (sha256 differs from the manifest); run the "
                    "same locviz predict --cluster command again to redo it"
                )
    return ident, ordered


def call_tally(out_dir: str | Path) -> pipeline.CallTally:
    """The calls of a run's finished parts by compartment and support level (the single process's end-of-run
    lines), read from their ``prediction`` and ``support`` columns only."""
    import pyarrow.parquet as pq

    run, tally = RunFolder(out_dir), pipeline.CallTally()
    for entry in run.finished().values():
        if entry.get("file"):
            columns = pq.read_table(run.path / entry["file"], columns=["prediction", "support"]).to_pydict()
            tally.add(columns["prediction"], columns["support"])
    return tally


def merge(out_dir: str | Path, out: str, fmt: str | None = None) -> MergeSummary:
    """Join the parts of a finished run into ``out`` (TSV, CSV, JSON or Parquet; ``-`` for stdout, text only)."""
    import pyarrow.parquet as pq

    fmt = output_format(out, fmt)
    table.check_output_path(out, "the merged table")
    _, entries = finished_parts(out_dir)
    folder = Path(out_dir)
    rows = 0
    if fmt == table.PARQUET:
        if out == "-":
            raise InputError("Parquet cannot go to stdout; give a file name")
        _refuse_empty(out_dir, entries)
        temporary = f"{out}{TEMPORARY}merge"
        schema = pq.read_schema(folder / entries[0]["file"])
        with pq.ParquetWriter(temporary, schema) as writer:
            for entry in entries:
                part = table.read_parquet(folder / entry["file"])
                writer.write_table(part)
                rows += part.num_rows
        os.replace(temporary, out)
        return MergeSummary(out, rows, len(entries))
    _refuse_empty(out_dir, entries)
    handle = table.open_pending(out)  # OUT.partial until every part is in: a stopped merge never looks complete
    finished = False
    try:
        writer = None
        for entry in entries:
            part = table.read_parquet(folder / entry["file"])
            if writer is None:
                meta = part.schema.metadata or {}
                about = {"model": meta.get(b"model", b"").decode(), "classes": _classes(meta)}
                writer = table.RowWriter(handle, fmt, part.schema.names, meta=about, rows_key="predictions")
            writer.write(table.arrow_rows(part))
            rows += part.num_rows
        if writer is not None:
            writer.close()
        finished = True
    finally:
        if handle is not sys.stdout:
            handle.close()
        table.settle_pending([out], finished)
    return MergeSummary("stdout" if out == "-" else out, rows, len(entries))


def _refuse_empty(out_dir: str | Path, entries: list[dict[str, Any]]) -> None:
    """No table of headers alone (plain ``locviz predict`` writes none either): say why instead."""
    if not sum(int(e["rows"]) for e in entries):
        raise InputError(f"{out_dir}: no record was predicted (every one was refused: see {ERRORS_FILE} there); no "
                         "table written")  # fmt: skip


def _classes(meta: dict[bytes, bytes]) -> list[str]:
    import json

    return list(json.loads(meta.get(b"classes", b"[]").decode()))


def merge_attention(out_dir: str | Path, out: str) -> MergeSummary:
    """The per-residue attention parts as one long table, as ``locviz predict --attention`` writes it."""
    table.check_output_path(out, "the merged table")
    ident, entries = finished_parts(out_dir)
    if not ident.get("attention"):
        raise InputError(f"{out_dir} was run without --attention; rerun it with --attention in a new --out folder")
    delimiter = "," if table.format_for(out, allowed=table.ATTENTION_FORMATS) == "csv" else "\t"
    _refuse_empty(out_dir, entries)
    handle = table.open_pending(out)
    rows, finished = 0, False
    try:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(table.ATTENTION_COLUMNS)
        for entry in entries:
            part = table.read_parquet(Path(out_dir) / entry["attention_file"])
            writer.writerows(table.attention_text_rows(part))
            rows += part.num_rows
        handle.flush()
        finished = True
    finally:
        if handle is not sys.stdout:
            handle.close()
        table.settle_pending([out], finished)
    return MergeSummary("stdout" if out == "-" else out, rows, len(entries))
