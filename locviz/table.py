"""The one prediction table: its columns, rounding and file formats, for the CLI and the app.

Columns, in order::

    id, length, prediction, confidence, p_<class> ... [, extra columns]

``p_<class>`` uses the class ids of the model card (``p_plasma_membrane``), so
a column name is a stable identifier; display names are for figures and pages.
Extra columns are declared once per table by whoever adds them (the combined
call, the support verdict, the nearest reference protein) and read from
``Prediction.extra``; a missing value is an empty cell (``null`` in JSON).

JSON output is an object carrying ``schema_version`` so readers can check what
they parse; bump :data:`SCHEMA_VERSION` whenever a column changes meaning.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from locviz.errors import InputError
from locviz.gff3 import Gff3Writer
from locviz.prediction import Prediction

SCHEMA_VERSION = 5  # 2: known_location, signal_conflicts, notes; 3: member_agreement, member_spread, attended_regions;
# 4: nearest_coverage, nearest_evalue, combined_confidence (with --neighbours); list cells joined by " | ";
# 5: the scan and mutate tables end with an organism column
FORMATS = ("tsv", "csv", "json")
PREDICTION_FORMATS = (*FORMATS, "gff3")
ATTENTION_FORMATS = ("tsv", "csv")  # the long per-residue table: one row per residue, no JSON document
"""The prediction table's formats: GFF3 (:mod:`locviz.gff3`) holds the call and the signal track, not every column."""
BASE_COLUMNS = ("id", "length", "prediction", "confidence")
DIGITS = 6  # significant digits of every probability written
ATTENTION_COLUMNS = ("id", "position", "residue", "attention", "seen", "relative_to_uniform")


def number(value: Any, digits: int = DIGITS) -> str:
    """Compact float text; NaN and None become an empty cell."""
    if value is None:
        return ""
    value = float(value)
    return "" if math.isnan(value) else f"{value:.{digits}g}"


def json_number(value: Any, digits: int = DIGITS) -> float | None:
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.{digits}g}") if math.isfinite(value) else None


LIST_SEPARATOR = " | "
"""Between a list's items in a TSV/CSV cell (``notes``, ``signals``, ...). Not ``; ``: the notes' own sentences
hold semicolons, so the cell could not be split back into its items."""


def _text_cell(value: Any) -> str:
    """A TSV/CSV cell; a list (the signal track, the notes) becomes its items' text joined by :data:`LIST_SEPARATOR`."""
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(_text_cell(v) for v in value)
    return number(value) if isinstance(value, float) else ("" if value is None else str(value))


def _json_cell(value: Any) -> Any:
    """A JSON value; list items with ``to_json()`` (:class:`locviz.signals.Signal`) become objects."""
    if isinstance(value, (list, tuple)):
        return [v.to_json() if hasattr(v, "to_json") else _json_cell(v) for v in value]
    return json_number(value) if isinstance(value, float) else value


TSV_SUFFIXES = ("", "tsv", "tab", "txt")
"""File suffixes written as TSV when no format is chosen (no suffix: ``-``, stdout)."""


def format_for(path: str, chosen: str | None = None, allowed: Sequence[str] = FORMATS) -> str:
    """The table format: ``chosen`` if given, else from the file suffix (``.csv``, ``.json``; TSV for
    :data:`TSV_SUFFIXES`); any other suffix (``.xlsx``) is refused rather than written as TSV under its name.

    ``allowed=PREDICTION_FORMATS`` (``locviz predict``) also knows ``gff3`` (suffix ``.gff3`` or ``.gff``).
    """
    if chosen:
        if chosen not in allowed:
            raise InputError(f"format must be one of {', '.join(allowed)}, got {chosen!r}")
        return chosen
    suffix = Path(path).suffix.lower().lstrip(".")
    named = {"gff": "gff3", "gff3": "gff3", "csv": "csv", "json": "json", **dict.fromkeys(TSV_SUFFIXES, "tsv")}
    if named.get(suffix) in allowed:
        return named[suffix]
    names = ", ".join(f".{f}" for f in allowed if f != "tsv")
    raise InputError(f"{path}: this table cannot be written as '.{suffix}'; name the file .tsv (or .txt) or one of "
                     f"{names}, or choose the format (--format / format=); spreadsheets open .csv")  # fmt: skip


def columns(classes: Sequence[str], extra_columns: Sequence[str] = ()) -> list[str]:
    return [*BASE_COLUMNS, *(f"p_{c}" for c in classes), *extra_columns]


def check_one_model(preds: Sequence[Prediction]) -> list[str]:
    """The classes of the one model all predictions come from: a table names one model in its header, so
    ``multiloc`` and ``multiloc-fast`` rows (same classes) cannot share it either."""
    classes = list(preds[0].classes) if preds else []
    model = preds[0].model_name if preds else ""
    for pred in preds:
        if list(pred.classes) != classes or pred.model_name != model:
            raise InputError(
                f"protein {pred.id!r} was predicted by {pred.model_name!r} (classes {list(pred.classes)}), the first "
                f"by {model!r} (classes {classes}); write predictions from one model at a time"
            )
    return classes


class RowWriter:
    """The one file writer behind every locviz table: TSV/CSV rows as they come, or one JSON object at close.

    Cells are written with :func:`number` (TSV/CSV) or :func:`json_number` (JSON) when they are floats.
    The JSON object is ``{"schema_version", **meta, "columns", rows_key: [row objects]}``; a row object may
    carry fields beyond the columns (``json_fields``), e.g. the attention of the app's JSON download.
    """

    def __init__(
        self, handle: IO[str], fmt: str, columns: Sequence[str], *, meta: dict | None = None, rows_key: str = "rows"
    ):
        if fmt not in FORMATS:
            raise InputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.handle, self.fmt, self.columns = handle, fmt, list(columns)
        self.meta, self.rows_key = dict(meta or {}), rows_key
        self.rows: list[dict] = []
        self._csv = None
        if fmt != "json":
            self._csv = csv.writer(handle, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
            self._csv.writerow(self.columns)

    def write_row(self, cells: Sequence[Any], json_fields: dict | None = None) -> None:
        """One row, cells in column order; ``json_fields`` are added to the row object in JSON only."""
        if self._csv is not None:
            self._csv.writerow([_text_cell(v) for v in cells])
        else:
            row = {c: _json_cell(v) for c, v in zip(self.columns, cells, strict=True)}
            self.rows.append({**row, **(json_fields or {})})

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for cells in rows:
            self.write_row(cells)
        self.handle.flush()

    def close(self) -> None:
        if self.fmt == "json":
            document = {"schema_version": SCHEMA_VERSION, **self.meta, "columns": self.columns}
            document[self.rows_key] = self.rows
            json.dump(document, self.handle, indent=1, allow_nan=False, ensure_ascii=False)
            self.handle.write("\n")
        self.handle.flush()


def rows_bytes(fmt: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, meta: dict | None = None) -> bytes:
    """A whole :class:`RowWriter` table as bytes (the app's downloads of the what-if tables)."""
    buffer = io.StringIO()
    writer = RowWriter(buffer, fmt, columns, meta=meta)
    writer.write(rows)
    writer.close()
    return buffer.getvalue().encode("utf-8")


def _attention_fields(pred: Prediction, with_notes: bool = True) -> dict[str, Any]:
    """The per-residue part of a JSON prediction row: sequence, attention (null where unseen), members, and the
    notes unless the table has them as a column."""
    attention = np.where(np.asarray(pred.seen, bool), np.asarray(pred.attention, float), np.nan)
    fields: dict[str, Any] = {"sequence": pred.sequence, "attention": [json_number(a) for a in attention]}
    if pred.member_probabilities is not None:
        fields["member_probabilities"] = [
            [json_number(p) for p in member] for member in np.asarray(pred.member_probabilities)
        ]
    if pred.filter_member is not None:
        fields["filter_member"] = int(pred.filter_member)
    if with_notes:
        fields["notes"] = list(pred.notes)
    return fields


def row_cells(pred: Prediction, extra_columns: Sequence[str] = ()) -> list[Any]:
    """One protein's cells in column order, unformatted (every writer, text or Parquet, starts from these)."""
    probs = [float(p) for p in np.asarray(pred.probabilities, dtype=float)]
    cells = [pred.id, pred.length, pred.label, float(pred.confidence), *probs]
    return cells + [pred.extra.get(c) for c in extra_columns]


class TableWriter:
    """The prediction table: one row per protein, written by :class:`RowWriter`.

    ``with_attention`` (JSON only) adds the sequence, the attention per residue
    (``null`` where the model did not look), member probabilities and notes.
    """

    def __init__(
        self,
        handle: IO[str],
        fmt: str,
        classes: Sequence[str],
        *,
        model: str = "",
        extra_columns: Sequence[str] = (),
        with_attention: bool = False,
    ):
        if with_attention and fmt != "json":
            raise InputError(f"per-residue attention goes in JSON only (a list per protein), not {fmt}; use the "
                             "long attention table (locviz predict --attention) for TSV or CSV")  # fmt: skip
        self.classes, self.extra_columns = list(classes), list(extra_columns)
        self.with_attention = with_attention
        self.columns = columns(self.classes, self.extra_columns)
        meta = {"model": model, "classes": self.classes}
        self._rows = RowWriter(handle, fmt, self.columns, meta=meta, rows_key="predictions")
        self.handle = handle

    def write(self, preds: Iterable[Prediction]) -> None:
        for pred in preds:
            if list(pred.classes) != self.classes:
                raise InputError(f"protein {pred.id!r} has classes {list(pred.classes)}, the table {self.classes}")
            cells = row_cells(pred, self.extra_columns)
            fields = _attention_fields(pred, "notes" not in self.extra_columns) if self.with_attention else None
            self._rows.write_row(cells, fields)
        self.handle.flush()

    def close(self) -> None:
        self._rows.close()


def writer_for(
    handle: IO[str],
    fmt: str,
    classes: Sequence[str],
    *,
    model: str = "",
    extra_columns: Sequence[str] = (),
    with_attention: bool = False,
) -> TableWriter | Gff3Writer:
    """The writer of one :data:`PREDICTION_FORMATS` file: the :class:`TableWriter`, or GFF3 (:mod:`locviz.gff3`:
    one feature per call and per signal; the probabilities of the other classes are left to the table)."""
    if fmt == "gff3":
        return Gff3Writer(handle)
    return TableWriter(handle, fmt, classes, model=model, extra_columns=extra_columns, with_attention=with_attention)


def table_bytes(
    preds: Sequence[Prediction], fmt: str = "csv", *, extra_columns: Sequence[str] = (), with_attention: bool = False
) -> bytes:
    """The whole table as bytes (the app's downloads); same columns and rounding as ``locviz predict``."""
    classes = check_one_model(preds)
    buffer = io.StringIO()
    model = preds[0].model_name if preds else ""
    writer = TableWriter(
        buffer, fmt, classes, model=model, extra_columns=extra_columns, with_attention=with_attention
    )
    writer.write(preds)
    writer.close()
    return buffer.getvalue().encode("utf-8")


def attention_rows(pred: Prediction) -> Iterable[list]:
    """Long format, one row per residue: id, 1-based position, residue, attention (empty if unseen), seen, × uniform."""
    attention = np.asarray(pred.attention, dtype=float)
    seen = np.asarray(pred.seen, dtype=bool) & np.isfinite(attention)
    n_seen = max(int(seen.sum()), 1)
    values, flags = attention.tolist(), seen.tolist()  # Python floats format faster than numpy's
    for i, (residue, a, s) in enumerate(zip(pred.sequence, values, flags, strict=True), start=1):
        if s:
            yield [pred.id, i, residue, number(a), "true", number(a * n_seen, 4)]
        else:
            yield [pred.id, i, residue, "", "false", ""]


class AttentionWriter:
    """The per-residue attention table (TSV or CSV), written protein by protein."""

    def __init__(self, handle: IO[str], fmt: str = "tsv"):
        self.handle = handle
        self._csv = csv.writer(handle, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        self._csv.writerow(ATTENTION_COLUMNS)

    def write(self, preds: Iterable[Prediction]) -> None:
        for pred in preds:
            self._csv.writerows(attention_rows(pred))
        self.handle.flush()


def attention_bytes(preds: Sequence[Prediction], fmt: str = "csv") -> bytes:
    buffer = io.StringIO()
    AttentionWriter(buffer, fmt).write(preds)
    return buffer.getvalue().encode("utf-8")


# ----------------------------------------------------------------------------- Parquet
# The cluster's part files (locviz.cluster) and `locviz merge --out x.parquet`: the same columns, typed, rounded as
# the text formats round them, with schema_version, model and classes in the file metadata. pyarrow is imported
# here, not at the top, so the CLI and the app do not pay for it when they write text.
PARQUET = "parquet"
SIGNAL_FIELDS = (("type", "string"), ("start", "int64"), ("end", "int64"), ("label", "string"), ("rule", "string"),
                 ("evidence", "string"))  # fmt: skip
"""One item of the ``signals`` cell in Parquet: the fields of :meth:`locviz.signals.Signal.to_json`."""
FLOAT_EXTRA_COLUMNS = frozenset({"nearest_identity", "nearest_coverage", "nearest_evalue", "combined_confidence",
                                 "member_spread"})
"""Extra columns stored as float64."""
TEXT_LIST_COLUMNS = frozenset({"signal_conflicts", "notes", "attended_regions"})
"""Extra columns stored as lists of text; ``signals`` is a list of structs; every other extra column is text."""


def _extra_arrow_type(column: str) -> Any:
    import pyarrow as pa

    if column in FLOAT_EXTRA_COLUMNS:
        return pa.float64()
    if column in TEXT_LIST_COLUMNS:
        return pa.list_(pa.string())
    if column == "signals":
        return pa.list_(pa.struct([(name, pa.type_for_alias(kind)) for name, kind in SIGNAL_FIELDS]))
    return pa.string()


def arrow_schema(classes: Sequence[str], extra_columns: Sequence[str] = (), *, model: str = "") -> Any:
    """The prediction table as a ``pyarrow.Schema``; its metadata carries ``schema_version``, ``model``, ``classes``."""
    import pyarrow as pa

    fields = [pa.field("id", pa.string()), pa.field("length", pa.int64()), pa.field("prediction", pa.string()),
              pa.field("confidence", pa.float64())]  # fmt: skip
    fields += [pa.field(f"p_{c}", pa.float64()) for c in classes]
    fields += [pa.field(c, _extra_arrow_type(c)) for c in extra_columns]
    meta = {"schema_version": str(SCHEMA_VERSION), "model": model, "classes": json.dumps(list(classes))}
    return pa.schema(fields, metadata=meta)


def _arrow_cell(value: Any, kind: Any) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_floating(kind):
        return json_number(value)  # the digits the text formats write; NaN becomes null
    if pa.types.is_list(kind):
        return [v.to_json() if hasattr(v, "to_json") else v for v in value]
    if pa.types.is_string(kind):
        return _text_cell(value)
    return value


def arrow_table(
    preds: Sequence[Prediction], classes: Sequence[str], *, model: str = "", extra_columns: Sequence[str] = ()
) -> Any:
    """The prediction table as a ``pyarrow.Table`` with :func:`arrow_schema` (one cluster partition's rows)."""
    import pyarrow as pa

    schema = arrow_schema(classes, extra_columns, model=model)
    rows = []
    for pred in preds:
        if list(pred.classes) != list(classes):
            raise InputError(f"protein {pred.id!r} has classes {list(pred.classes)}, the table {list(classes)}")
        rows.append(row_cells(pred, extra_columns))
    cells_by_column = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [pa.array([_arrow_cell(v, f.type) for v in cells], type=f.type)
              for cells, f in zip(cells_by_column, schema, strict=True)]  # fmt: skip
    return pa.Table.from_arrays(arrays, schema=schema)


def read_parquet(path: str | Any) -> Any:
    """A Parquet prediction (or attention) table, its ``schema_version`` checked.

    Raises:
        InputError: the file is not Parquet or was written with another schema version.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        tab = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path} is not a readable Parquet table: {exc}") from exc
    found = (tab.schema.metadata or {}).get(b"schema_version", b"?").decode()
    if found != str(SCHEMA_VERSION):
        raise InputError(f"{path} has table schema_version {found}; this locviz reads version {SCHEMA_VERSION}: "
                         "merge it with the locviz version that wrote it, or predict again into a new --out folder")
    return tab


def _signal_items(items: list[dict]) -> list:
    from locviz.signals import Signal

    return [Signal(d["type"], d["start"], d["end"], d["label"], d["evidence"]) for d in items]


def arrow_rows(tab: Any) -> Iterable[list[Any]]:
    """The rows of a Parquet prediction table as cells for :class:`RowWriter` (the same text and JSON as
    :class:`TableWriter` writes: a ``signals`` cell becomes :class:`locviz.signals.Signal` items again)."""
    import pyarrow as pa

    columns_ = []
    for f, column in zip(tab.schema, tab.columns, strict=True):
        values = column.to_pylist()
        if f.name == "signals" and pa.types.is_list(f.type):
            values = [None if v is None else _signal_items(v) for v in values]
        columns_.append(values)
    yield from (list(cells) for cells in zip(*columns_, strict=True))


def attention_schema() -> Any:
    import pyarrow as pa

    kinds = (pa.string(), pa.int64(), pa.string(), pa.float64(), pa.bool_(), pa.float64())
    fields = [pa.field(name, kind) for name, kind in zip(ATTENTION_COLUMNS, kinds, strict=True)]
    return pa.schema(fields, metadata={"schema_version": str(SCHEMA_VERSION)})


def attention_arrow(preds: Iterable[Prediction]) -> Any:
    """The per-residue attention table (:data:`ATTENTION_COLUMNS`) as a ``pyarrow.Table``: the numbers
    :func:`attention_rows` writes, rounded the same way (null where the model did not look)."""
    import pyarrow as pa

    ids, positions, residues, values, flags, relative = [], [], [], [], [], []
    for pred in preds:
        attention = np.asarray(pred.attention, dtype=float)
        seen = np.asarray(pred.seen, dtype=bool) & np.isfinite(attention)
        n_seen = max(int(seen.sum()), 1)
        ids += [pred.id] * len(pred.sequence)
        positions += range(1, len(pred.sequence) + 1)
        residues += list(pred.sequence)
        values += [json_number(a) if s else None for a, s in zip(attention.tolist(), seen.tolist(), strict=True)]
        flags += seen.tolist()
        relative += [json_number(a * n_seen, 4) if s else None
                     for a, s in zip(attention.tolist(), seen.tolist(), strict=True)]  # fmt: skip
    columns_ = (ids, positions, residues, values, flags, relative)
    schema = attention_schema()
    arrays = [pa.array(c, type=f.type) for c, f in zip(columns_, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def attention_text_rows(tab: Any) -> Iterable[list]:
    """The rows :func:`attention_rows` writes, from an :func:`attention_arrow` table."""
    columns_ = [c.to_pylist() for c in tab.columns]
    for pid, position, residue, value, seen, relative in zip(*columns_, strict=True):
        if seen:
            yield [pid, position, residue, number(value), "true", number(relative, 4)]
        else:
            yield [pid, position, residue, "", "false", ""]


def check_output_path(path: str, what: str = "the output", reads: str | None = None) -> None:
    """Fail before any work starts when ``path`` cannot be written (``-`` is standard output), or when it is the
    input file ``reads`` (writing it would empty the input before it is read)."""
    if path == "-":
        return
    target = Path(path)
    if reads not in (None, "-") and target.exists() and Path(reads).exists() and target.samefile(reads):
        raise InputError(f"{path} is the input file: writing {what} there would destroy it; choose another name")
    if target.is_dir():
        raise InputError(f"{path} is a folder; give a file name for {what}")
    if not target.parent.is_dir():
        raise InputError(f"the folder {target.parent} does not exist; create it or choose another output path")


def check_distinct_outputs(outputs: Mapping[str, str | None]) -> None:
    """Fail before any work starts when two outputs (option → path; None: not asked for) name one file, or
    standard output (``-``) twice: their rows would be written over each other."""
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if not path:
            continue
        key = "-" if path == "-" else str(Path(path).resolve())
        if key in seen:
            where = "standard output" if path == "-" else path
            raise InputError(f"{seen[key]} and {option} both write {where}; give each its own file")
        seen[key] = option


def open_output(path: str) -> IO[str]:
    """A text handle for a table (``-`` is standard output), or a clear error when it cannot be opened."""
    if path == "-":
        return sys.stdout
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from exc


PARTIAL_SUFFIX = ".partial"


def open_pending(path: str) -> IO[str]:
    """:func:`open_output`, but written as ``PATH.partial`` until :func:`settle_pending` names it ``PATH``: a long
    run that fails or is stopped never leaves a file that looks complete (a JSON document closes itself)."""
    return open_output(path if path == "-" else path + PARTIAL_SUFFIX)


def settle_pending(paths: Iterable[str | None], finished: bool, empty: bool = False) -> list[str]:
    """Rename each :func:`open_pending` file to its own name when the run ``finished``; otherwise leave it as
    ``PATH.partial`` and return one line per file saying so (what was written, and that ``PATH`` was not).
    An ``empty`` run (not one record predicted) leaves no file: a table of headers alone looks like a result."""
    notes = []
    for path in paths:
        if not path or path == "-" or not Path(path + PARTIAL_SUFFIX).exists():
            continue
        if empty:
            os.remove(path + PARTIAL_SUFFIX)
        elif finished:
            os.replace(path + PARTIAL_SUFFIX, path)
        else:
            before = " (the file there is from an earlier run)" if Path(path).exists() else ""
            notes.append(f"the run did not finish: the rows written so far are in {path}{PARTIAL_SUFFIX}; "
                         f"{path} was not written{before}")  # fmt: skip
    return notes
