"""Readers for the real data sets (MultiLoc, DeepLoc 1.0), their class maps and folds.

The data stay where they are (``../shared/data``); every reader takes the
folder as an argument and says exactly which file or record is wrong.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from locviz.errors import DatasetError
from locviz.sequences import ProteinRecord, clean_sequence, iter_fasta

MULTILOC_CLASSES = (
    "ER",
    "Golgi",
    "chloroplast",
    "cytoplasmic",
    "extracellular",
    "lysosomal",
    "mitochondrial",
    "nuclear",
    "peroxisomal",
    "plasma_membrane",
    "vacuolar",
)
DEEPLOC_CLASSES = (
    "Nucleus",
    "Cytoplasm",
    "Extracellular",
    "Mitochondrion",
    "Cell.membrane",
    "Endoplasmic.reticulum",
    "Plastid",
    "Golgi.apparatus",
    "Lysosome/Vacuole",
    "Peroxisome",
)
MULTILOC_TO_DEEPLOC = {
    "ER": "Endoplasmic.reticulum", "Golgi": "Golgi.apparatus", "chloroplast": "Plastid", "cytoplasmic": "Cytoplasm",
    "extracellular": "Extracellular", "lysosomal": "Lysosome/Vacuole", "mitochondrial": "Mitochondrion",
    "nuclear": "Nucleus", "peroxisomal": "Peroxisome", "plasma_membrane": "Cell.membrane",
    "vacuolar": "Lysosome/Vacuole",
}  # fmt: skip
"""The DeepLoc class of each MultiLoc class (DeepLoc joins lysosomal and vacuolar; MultiLoc splits them)."""
DATASETS = ("multiloc", "deeploc")
TEST_FOLD = {"multiloc": 0}
"""Folds never used for training, tuning or selection (MultiLoc's README)."""


def location_in(location: str, classes: Sequence[str]) -> str | None:
    """``location`` (a MultiLoc or DeepLoc class id) as one of ``classes``: itself, its counterpart in the other
    data set, or None where there is none (DeepLoc's Lysosome/Vacuole is two MultiLoc classes)."""
    if location in classes:
        return location
    counterparts = {MULTILOC_TO_DEEPLOC.get(location)} | {m for m, d in MULTILOC_TO_DEEPLOC.items() if d == location}
    found = [c for c in classes if c in counterparts]
    return found[0] if len(found) == 1 else None


@dataclass
class LabelledSet:
    """Proteins with a class index and a fold each, plus where they came from."""

    name: str
    classes: tuple[str, ...]
    records: list[ProteinRecord]
    labels: np.ndarray  # (N,) int64 index into classes
    folds: np.ndarray  # (N,) int64
    files: dict[str, str]  # file name -> sha256

    def subset(self, folds: list[int] | tuple[int, ...]) -> np.ndarray:
        """Indices of the records in any of ``folds``."""
        return np.flatnonzero(np.isin(self.folds, list(folds)))

    def __len__(self) -> int:
        return len(self.records)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"missing data file {path}; pass the folder that holds it (e.g. ../shared/data/...)")
    return path


def _read_folds(path: Path, columns: tuple[str, ...]) -> dict[str, dict[str, str]]:
    with open(_require(path), newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}; found {reader.fieldnames}")
        rows = {}
        for line_no, row in enumerate(reader, start=2):
            if not row["fold"].strip().isdigit():
                raise DatasetError(f"{path}, line {line_no}: fold {row['fold']!r} is not a whole number")
            rows[row["accession"]] = row
    return rows


def _clean(path: Path, rec_id: str, raw: str) -> ProteinRecord:
    seq, errors, warnings = clean_sequence(rec_id, raw)
    if seq is None:
        raise DatasetError(f"{path}: " + "; ".join(str(e) for e in errors))
    return ProteinRecord(rec_id, seq, notes=tuple(w.message for w in warnings))


def _assemble(
    name: str,
    classes: tuple[str, ...],
    entries: list[tuple[ProteinRecord, str]],
    folds: dict[str, dict[str, str]],
    files: dict[str, str],
    folds_path: Path,
) -> LabelledSet:
    index = {c: i for i, c in enumerate(classes)}
    records, labels, fold_of = [], [], []
    for record, location in entries:
        row = folds.get(record.id)
        if row is None:
            raise DatasetError(f"{folds_path}: no fold for accession {record.id}")
        if row["location"] != location:
            raise DatasetError(
                f"{folds_path}: {record.id} is '{row['location']}' there but '{location}' in the FASTA"
            )
        if location not in index:
            raise DatasetError(f"{record.id}: unknown location {location!r}; expected one of {classes}")
        records.append(record)
        labels.append(index[location])
        fold_of.append(int(row["fold"]))
    if len(records) != len(folds):
        missing = sorted(set(folds) - {r.id for r in records})[:5]
        raise DatasetError(f"{folds_path}: {len(folds) - len(records)} accessions have no sequence, e.g. {missing}")
    return LabelledSet(name, classes, records, np.array(labels), np.array(fold_of), files)


def load_multiloc(folder: str | Path) -> LabelledSet:
    """MultiLoc: one FASTA per compartment (``ER.fasta`` ...) and ``folds.tsv``."""
    folder = Path(folder)
    folds_path = folder / "folds.tsv"
    folds = _read_folds(folds_path, ("accession", "location", "fold"))
    entries, files = [], {"folds.tsv": sha256_of(folds_path)}
    for location in MULTILOC_CLASSES:
        path = _require(folder / f"{location}.fasta")
        files[path.name] = sha256_of(path)
        with open(path, encoding="utf-8") as handle:
            entries.extend((_clean(path, rid, raw), location) for rid, _, raw in iter_fasta(handle))
    return _assemble("multiloc", MULTILOC_CLASSES, entries, folds, files, folds_path)


def load_deeploc(folder: str | Path) -> LabelledSet:
    """DeepLoc 1.0 training set: ``train.fasta`` (``>ACC Location``) and ``folds.tsv``."""
    folder = Path(folder)
    folds_path = folder / "folds.tsv"
    fasta_path = _require(folder / "train.fasta")
    folds = _read_folds(folds_path, ("accession", "location", "fold"))
    entries = []
    with open(fasta_path, encoding="utf-8") as handle:
        for rid, description, raw in iter_fasta(handle):
            if not description:
                raise DatasetError(f"{fasta_path}: header of {rid} has no location ('>ACCESSION Location')")
            entries.append((_clean(fasta_path, rid, raw), description.split()[0]))
    files = {"train.fasta": sha256_of(fasta_path), "folds.tsv": sha256_of(folds_path)}
    return _assemble("deeploc", DEEPLOC_CLASSES, entries, folds, files, folds_path)


def load_dataset(name: str, folder: str | Path) -> LabelledSet:
    """Load ``multiloc`` or ``deeploc`` from ``folder``."""
    if name == "multiloc":
        return load_multiloc(folder)
    if name == "deeploc":
        return load_deeploc(folder)
    raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
