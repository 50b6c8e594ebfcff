"""What runs on a Dask worker: the model loaded once per worker, and one partition in, one part file out.

A partition is a pure function of its inputs (:func:`predict_partition`): it reads its byte range of the
input with the one reader (:mod:`locviz.sequences`), predicts through the one chunk step
(:func:`locviz.pipeline.predict_chunk`) and writes the one table schema (:func:`locviz.table.arrow_table`).
The part file is written under a temporary name and renamed when complete, so a worker killed
mid-partition leaves nothing that looks finished; the client records the partition in the manifest only
when the result comes back, so a partition that ran twice (its first worker was lost) is counted once.
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from distributed import WorkerPlugin, get_worker

from locviz import homology, pipeline, table
from locviz.batching import DEFAULT_BATCH_SIZE
from locviz.cluster.manifest import TEMPORARY
from locviz.cluster.plan import Partition, sha256_file
from locviz.errors import BundleError, InputError
from locviz.predict import Predictor, load_model
from locviz.sequences import ProteinRecord, iter_record_texts, take_chunk

CHUNK = pipeline.CHUNK
"""Records predicted at a time inside a partition (as ``locviz predict``'s ``--chunk-size`` default)."""
PLUGIN_NAME = "locviz-model"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Which model a worker loads (the card path resolved on the client, its weights checked by sha256)."""

    card_path: str
    weights_sha256: str
    device: str = "auto"
    batch_size: int = DEFAULT_BATCH_SIZE
    neighbours: bool = False
    search_mode: str | None = None


@dataclass(frozen=True)
class PartitionTask:
    """Everything one partition needs; small, so the scheduler ships it cheaply."""

    partition: Partition
    input_path: str
    input_size: int
    out_dir: str
    part_file: str
    attention_file: str | None
    model: ModelSpec
    organism: str = "any"
    first_record: int = 1  # 1-based number of the partition's first record in the whole input (names record_N)


@dataclass
class PartitionResult:
    """What the client records in the manifest for a finished partition."""

    index: int
    file: str
    rows: int
    sha256: str
    issues: list[tuple[int, str | None, str]] = field(default_factory=list)  # (line, record id, message)
    refused: int = 0
    refused_ids: list[str] = field(default_factory=list)
    flagged: dict[str, list[str]] = field(default_factory=dict)  # pipeline.FLAGS -> the ids behind each count
    notes: list[tuple[int, str]] = field(default_factory=list)  # (line, message): said, not refused (no name ...)
    attention_file: str | None = None
    attention_sha256: str | None = None
    seconds: float = 0.0
    worker: str = ""


@dataclass
class Loaded:
    predictor: Predictor
    reference: homology.Reference | None
    columns: tuple[str, ...]


_LOADED: dict[ModelSpec, Loaded] = {}
_LOCK = threading.Lock()


def _worker_threads() -> int | None:
    try:
        return get_worker().state.nthreads
    except ValueError:  # not on a Dask worker (called in-process)
        return None


def plain_malloc() -> None:
    """Undo the malloc setting Dask's nanny gives workers, which slows PyTorch's CPU forward passes by 44 %.

    The nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (so idle workers hand memory back to the
    OS). Setting it also stops glibc from raising its mmap threshold, so every large tensor of the LSTM is mapped
    and unmapped again: 600 DeepLoc proteins on one thread took 20.6 s instead of 14.3 s. Raising the mmap and
    trim thresholds to glibc's own dynamic ceiling (32 MiB) gives the speed of a plain process back (13.9 s).
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    libc.mallopt(m_mmap_threshold, 32 * 2**20)
    libc.mallopt(m_trim_threshold, 64 * 2**20)


def loaded(spec: ModelSpec) -> Loaded:
    """The model (and reference set) of ``spec``, loaded once per worker process and kept.

    Threads: PyTorch gets as many as the worker has task threads (one by default: single-threaded workers),
    unless ``LOCVIZ_THREADS`` says otherwise; :mod:`locviz.cpu`'s per-core lock files then keep the workers of
    one machine from sharing a core, whatever else runs there.
    """
    with _LOCK:
        if spec not in _LOADED:
            plain_malloc()
            threads = _worker_threads()
            if threads and not os.environ.get("LOCVIZ_THREADS"):
                import torch

                torch.set_num_threads(threads)
            predictor = load_model(spec.card_path, device=spec.device, batch_size=spec.batch_size)
            if predictor.bundle.card.weights_sha256 != spec.weights_sha256:
                raise BundleError(
                    f"{spec.card_path} on worker {os.uname().nodename} has weights sha256 "
                    f"{predictor.bundle.card.weights_sha256[:12]}..., the client's {spec.weights_sha256[:12]}...; "
                    "every worker must see the same model files"
                )
            reference = None
            if spec.neighbours:
                reference = homology.Reference.for_search(
                    predictor.bundle, threads=threads or homology.default_threads(), sensitivity=spec.search_mode
                )
                reference.search([])  # builds the DIAMOND database now, once, not in the first partition
            _LOADED[spec] = Loaded(predictor, reference, pipeline.extra_columns(spec.neighbours))
        return _LOADED[spec]


class LoadedModel(WorkerPlugin):
    """Loads the bundle (and the DIAMOND reference) when a worker starts, so no partition pays for it.

    Registered once with the client; Dask applies it to every worker, also to those that join later or
    replace a lost one. A load that fails here is logged; the partition's own call raises it to the client.
    """

    name = PLUGIN_NAME

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    def setup(self, worker: object) -> None:
        try:
            loaded(self.spec)
        except Exception as exc:  # the task repeats the load and reports the error to the client
            log.warning("locviz: loading %s failed: %s", self.spec.card_path, exc)

    def teardown(self, worker: object) -> None:
        with _LOCK:
            _LOADED.pop(self.spec, None)


def read_records(task: PartitionTask) -> Iterator[tuple[int, str]]:
    """(line in the whole file, text) of each record in the partition's byte range, decoded as ``locviz predict``
    opens the file (UTF-8, which planning checked; byte-order mark dropped, any line ending)."""
    p = task.partition
    path = Path(task.input_path)
    if not path.is_file():
        raise InputError(f"{path} is not readable on worker {os.uname().nodename}; the input must be on a "
                         "file system every worker sees")  # fmt: skip
    if path.stat().st_size != task.input_size:
        raise InputError(f"{path} changed size since the run started; rerun the command to start over")
    with open(path, "rb") as handle:
        handle.seek(p.start)
        data = handle.read(p.end - p.start)
    encoding = "utf-8-sig" if p.start == 0 else "utf-8"
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding)
    for line, record_text in iter_record_texts(text):
        yield line + p.first_line - 1, record_text


def parse_partition(task: PartitionTask, result: PartitionResult) -> list[ProteinRecord]:
    """The partition's good records; bad ones go into ``result.issues`` with the single process's messages.

    Duplicate names are checked inside the partition here and across partitions by the client
    (:mod:`locviz.cluster.duplicates`) once every partition is done.
    """
    records: list[ProteinRecord] = []
    seen: set[str] = set()
    for number, (line, text) in enumerate(read_records(task), start=task.first_record):
        chunk = take_chunk(text, number, seen)
        result.notes += [(chunk.line_of(i, line), i.message) for i in chunk.notes]
        if chunk.errors:
            result.issues += [(chunk.line_of(i, line), i.record_id, str(i)) for i in chunk.errors]
            result.refused += chunk.bad_record + chunk.preamble
            result.refused_ids += list(dict.fromkeys(i.record_id for i in chunk.errors if i.record_id is not None))
        for record in chunk.records:
            if chunk.warned:
                result.flagged.setdefault("warned", []).append(record.id)
            records.append(record)
    return records


def predict_partition(task: PartitionTask) -> PartitionResult:
    """Predict one partition and write ``part-NNNNN.parquet`` (and its attention part); see the module docstring."""
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    model = loaded(task.model)
    predictor = model.predictor
    result = PartitionResult(task.partition.index, task.part_file, 0, "")
    records = parse_partition(task, result)
    out = Path(task.out_dir)
    tag = f"{TEMPORARY}{uuid.uuid4().hex}"
    schema = table.arrow_schema(predictor.classes, model.columns, model=predictor.name)
    part_tmp = out / f"{task.part_file}{tag}"
    attention_tmp = out / f"{task.attention_file}{tag}" if task.attention_file else None
    try:
        with pq.ParquetWriter(part_tmp, schema) as writer:
            attention_writer = pq.ParquetWriter(attention_tmp, table.attention_schema()) if attention_tmp else None
            try:
                for start in range(0, len(records), CHUNK):
                    chunk = records[start : start + CHUNK]
                    preds = pipeline.predict_chunk(predictor, chunk, organism=task.organism, reference=model.reference)
                    writer.write_table(table.arrow_table(preds, predictor.classes, model=predictor.name,
                                                         extra_columns=model.columns))  # fmt: skip
                    if attention_writer is not None:
                        attention_writer.write_table(table.attention_arrow(preds))
                    result.rows += len(preds)
                    for pred in preds:
                        for flag in pipeline.flagged(pred):
                            result.flagged.setdefault(flag, []).append(pred.id)
            finally:
                if attention_writer is not None:
                    attention_writer.close()
        result.sha256 = sha256_file(part_tmp)
        os.replace(part_tmp, out / task.part_file)
        if attention_tmp is not None:
            result.attention_file = task.attention_file
            result.attention_sha256 = sha256_file(attention_tmp)
            os.replace(attention_tmp, out / task.attention_file)
    finally:
        for path in (part_tmp, attention_tmp):
            if path is not None:
                path.unlink(missing_ok=True)
    result.seconds = round(time.perf_counter() - t0, 3)
    try:
        result.worker = get_worker().address
    except ValueError:
        result.worker = "client"
    return result
