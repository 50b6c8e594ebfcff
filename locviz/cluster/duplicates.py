"""Record names repeated across partitions: the later ones are refused, exactly as the single process refuses them.

``locviz predict`` keeps the first record of a name and refuses every later one (also a later one after a
refused record of that name). A worker sees only its partition, so the client finishes the job once every
partition is done: an id predicted in partition k is refused when any earlier partition holds that name.
The check reads only the ``id`` column and keeps 64-bit hashes (17 bytes a record, about 4 GB for
UniProtKB's 250 M), comparing the names themselves only where hashes meet across partitions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from locviz.cluster.manifest import TEMPORARY, RunFolder
from locviz.cluster.plan import sha256_file
from locviz.sequences import DUPLICATE_NAME, ParseIssue, split_header


def _ids(folder: Path, entry: dict[str, Any]) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(folder / entry["file"], columns=["id"]).column("id").to_pylist()


def _hashes(ids: list[str]) -> np.ndarray:
    import pandas as pd

    return pd.util.hash_array(np.array(ids, dtype=object)) if ids else np.zeros(0, np.uint64)


def find(folder: Path, entries: dict[int, dict[str, Any]]) -> dict[int, list[str]]:
    """Partition index → ids predicted there whose name an earlier partition already holds."""
    hashes, parts = [], []
    for k in sorted(entries):
        names = _ids(folder, entries[k]) + list(entries[k].get("refused_ids", []))
        hashes.append(_hashes(names))
        parts.append(np.full(len(names), k, np.int64))
    if not hashes:
        return {}
    h, part = np.concatenate(hashes), np.concatenate(parts)
    order = np.lexsort((part, h))
    h, part = h[order], part[order]
    if len(h) < 2:
        return {}
    same = h[1:] == h[:-1]
    across = same & (part[1:] != part[:-1])
    if not across.any():
        return {}
    candidates = np.unique(h[1:][across])
    involved = sorted(set(part[np.isin(h, candidates)].tolist()))
    first: dict[str, int] = {}
    dropped: dict[int, list[str]] = {}
    for k in involved:  # in input order, names compared exactly
        predicted = _ids(folder, entries[k])
        hit = np.isin(_hashes(predicted), candidates)
        for name in (n for n, c in zip(predicted, hit, strict=True) if c):
            if first.setdefault(name, k) < k:
                dropped.setdefault(k, []).append(name)
        refused = list(entries[k].get("refused_ids", []))
        for name in (n for n, c in zip(refused, np.isin(_hashes(refused), candidates), strict=True) if c):
            first.setdefault(name, k)
    return dropped


def header_lines(task_records: list[tuple[int, str]], names: set[str], refused_lines: set[int]) -> dict[str, int]:
    """The line of each name's predicted record (the first record of that name not refused in the partition)."""
    found: dict[str, int] = {}
    for line, text in task_records:
        if line in refused_lines or not text.startswith(">"):
            continue
        name = split_header(text.split("\n", 1)[0][1:])[0]
        if name in names and name not in found:
            found[name] = line
    return found


def drop(run: RunFolder, entry: dict[str, Any], names: list[str], lines: dict[str, int]) -> dict[str, Any]:
    """Rewrite one part (and its attention part) without ``names``; the manifest entry that describes it now."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    unwanted = pa.array(names, type=pa.string())
    entry = dict(entry)
    for key in ("file", "attention_file"):
        if not entry.get(key):
            continue
        path = run.path / entry[key]
        tab = pq.read_table(path)
        kept = tab.filter(pc.invert(pc.is_in(tab.column("id"), value_set=unwanted)))
        temporary = path.with_name(f"{path.name}{TEMPORARY}dedup")
        pq.write_table(kept, temporary)
        entry["sha256" if key == "file" else "attention_sha256"] = sha256_file(temporary)
        os.replace(temporary, path)
        if key == "file":
            entry["rows"] = kept.num_rows
    issues = [(lines.get(n, 0), n, str(ParseIssue(DUPLICATE_NAME, n))) for n in names]
    entry["issues"] = sorted([*map(tuple, entry.get("issues", [])), *issues], key=lambda i: i[0])
    entry["refused"] = entry.get("refused", 0) + len(names)
    entry["refused_ids"] = [*entry.get("refused_ids", []), *names]
    refused = set(names)  # a refused record counts in no note (cut, cleaned, known ...)
    entry["flagged"] = {flag: [i for i in ids if i not in refused] for flag, ids in entry.get("flagged", {}).items()}
    return entry
