"""The client side of a cluster run: reach a Dask cluster, hand it the unfinished partitions, record what returns.

Dask does the distributing (scheduling, moving work off a lost worker, the dashboard); this module only
decides what a run is (:func:`identity`), which partitions are left (:class:`~locviz.cluster.manifest.RunFolder`),
and reports progress through a callback, as the other long jobs of locviz do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from locviz import homology, pipeline
from locviz.cluster import duplicates
from locviz.cluster.manifest import RunFolder, file_name
from locviz.cluster.plan import Plan, scan, target_bytes
from locviz.cluster.spec import parse_spec
from locviz.cluster.worker import (
    LoadedModel,
    ModelSpec,
    PartitionResult,
    PartitionTask,
    predict_partition,
    read_records,
)
from locviz.encoding import LengthPolicy
from locviz.errors import BundleError, ClusterError, InputError, LocvizError
from locviz.organisms import check_organism
from locviz.sequences import SNIFF_BYTES, file_issue
from locviz.table import SCHEMA_VERSION, columns
from locviz.weights import read_card

DEFAULT_WORKER_MEMORY = "3GB"
"""A Slurm job's memory when neither --slurm-memory nor Dask's jobqueue config says: one worker with a shipped model
peaked at 1.3 GB on 1,400-protein partitions (``benchmarks/cluster.py``, docs/scale.md); larger partitions and
DIAMOND's search (``--neighbours``) add to it, and Dask stops a worker at 95 % of its limit."""


@dataclass(frozen=True)
class SlurmOptions:
    """``slurm:N`` job settings; None leaves each to Dask's config file (``jobqueue.slurm`` in ~/.config/dask)."""

    queue: str | None = None
    memory: str | None = None
    walltime: str | None = None
    account: str | None = None


@dataclass
class RunOptions:
    """One ``locviz predict --cluster`` run."""

    input: Path
    out_dir: Path
    model: str = "multiloc"
    cluster: str = "local:2"
    partition_size: int | None = None  # proteins per partition; None: about a minute of work
    organism: str = "any"
    neighbours: bool = False
    search_mode: str | None = None  # DIAMOND's sensitivity with neighbours; None: the card's (homology.search_mode)
    attention: bool = False
    device: str = "auto"
    batch_size: int = 32
    slurm: SlurmOptions = field(default_factory=SlurmOptions)
    dashboard_address: str = ":8787"


@dataclass
class Progress:
    """Where a run stands; handed to the callback at the start and after every partition."""

    partitions_total: int
    partitions_done: int = 0  # finished, including those an earlier run finished
    skipped_partitions: int = 0  # finished by an earlier run
    records_total: int = 0  # records of the partitions this run does
    records_done: int = 0
    skipped_records: int = 0
    refused: int = 0
    elapsed: float = 0.0
    dashboard: str = ""
    workers: int = 0
    latest: PartitionResult | None = None  # the partition that just finished (its refused records, to print)


@dataclass
class RunSummary:
    out_dir: Path
    model: str
    partitions: int
    predicted: int  # rows this run wrote
    skipped: int  # rows of partitions an earlier run finished
    refused: int  # records in errors.tsv
    flagged: dict[str, int]  # pipeline.FLAGS -> how many predicted records raise it (the end-of-run notes)
    length_policy: LengthPolicy  # what the model sees of a long protein, for the note on cut records
    failed: list[tuple[int, str]]  # partitions that could not be done this time (index, why)
    seconds: float
    complete: bool
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (line, message) refused across partitions


# ----------------------------------------------------------------------------- clusters
def slurm_cluster(options: SlurmOptions = SlurmOptions(), dashboard_address: str = ":8787") -> Any:
    """A ``dask_jobqueue.SLURMCluster`` of single-threaded one-worker jobs (not scaled yet: ``.scale(jobs=N)``).

    Raises:
        InputError: dask-jobqueue is not installed (``pip install locviz[cluster]``).
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise InputError("--cluster slurm:N needs dask-jobqueue: pip install 'locviz[cluster]'") from exc
    import dask

    memory = options.memory or dask.config.get("jobqueue.slurm.memory", None) or DEFAULT_WORKER_MEMORY
    settings = {"queue": options.queue, "walltime": options.walltime, "account": options.account}
    return SLURMCluster(
        cores=1,
        processes=1,
        memory=memory,
        job_script_prologue=["export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LOCVIZ_THREADS=1"],
        scheduler_options={"dashboard_address": dashboard_address},
        **{key: value for key, value in settings.items() if value is not None},
    )


@contextmanager
def connect(spec: str, slurm: SlurmOptions, dashboard_address: str = ":8787") -> Iterator[Any]:
    """A ``distributed.Client`` on the cluster ``spec`` names; a cluster started here is closed on leaving."""
    from distributed import Client, LocalCluster

    kind, value = parse_spec(spec)
    cluster = None
    try:
        if kind == "tcp":
            try:
                client = Client(value, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"no Dask scheduler answers at {value}: {exc}") from exc
        elif kind == "local":
            cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                   dashboard_address=dashboard_address)  # fmt: skip
            client = Client(cluster)
        else:
            cluster = slurm_cluster(slurm, dashboard_address)
            cluster.scale(jobs=value)
            client = Client(cluster)
    except LocvizError:
        raise
    except Exception as exc:
        if cluster is not None:
            with suppress(Exception):
                cluster.close()
        raise InputError(f"could not start the {kind} cluster: {exc}") from exc
    try:
        yield client
    finally:
        with suppress(Exception):
            client.close()
        if cluster is not None:
            with suppress(Exception):
                cluster.close()


def worker_slots(client: Any, wait: float = 60.0) -> int:
    """Task threads across the cluster's workers (waiting up to ``wait`` s for the first worker)."""
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError as exc:
        raise InputError(f"no Dask worker joined the scheduler within {wait:.0f} s") from exc
    return max(1, sum(client.nthreads().values()))


# ----------------------------------------------------------------------------- a run
def identity(options: RunOptions, plan: Plan, card_name: str, weights_sha256: str, classes: list[str]) -> dict:
    """What makes two commands the same run: their outputs may share one folder."""
    return {
        "input_path": str(plan.path.resolve()),
        "input_size": plan.size,
        "input_sha256": plan.sha256,
        "model": card_name,
        "model_sha256": weights_sha256,
        "organism": options.organism,
        "neighbours": options.neighbours,
        "search_mode": options.search_mode,
        "attention": options.attention,
        "partition_size": options.partition_size,
        "target_bytes": plan.target_bytes,
        "schema_version": SCHEMA_VERSION,
        "columns": columns(classes, pipeline.extra_columns(options.neighbours)),
    }


def check_options(options: RunOptions) -> None:
    path = Path(options.input)
    if str(options.input) == "-":
        raise InputError("--cluster reads a FASTA file, not stdin: give the file's path")
    if not path.is_file():
        raise InputError(f"input file {path} does not exist or is not a file")
    with open(path, "rb") as handle:  # partitions are byte ranges: a gzip file is unpacked first
        problem = file_issue(handle.read(SNIFF_BYTES), str(path))
    if problem:
        raise InputError(problem + ("; --cluster cuts the file into byte ranges" if "compressed" in problem else ""))
    if options.partition_size is not None and options.partition_size < 1:
        raise InputError(f"--partition-size must be at least 1, got {options.partition_size}")
    if options.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    check_organism(options.organism)
    parse_spec(options.cluster)


def _plan(options: RunOptions, run: RunFolder, workers: Callable[[], int]) -> tuple[Plan, int | None]:
    """The partitions and the size asked for: the earlier run's cut when this folder has one and the same size
    (or none) is asked for, so a run resumed with another worker count keeps its partitions."""
    earlier = run.identity()
    if earlier is not None and options.partition_size in (None, earlier.get("partition_size")):
        return scan(options.input, int(earlier["target_bytes"])), earlier.get("partition_size")
    target = target_bytes(Path(options.input), options.partition_size, workers())
    return scan(options.input, target), options.partition_size


def _entry(result: PartitionResult, plan: Plan, weights_sha256: str) -> dict[str, Any]:
    p = plan.partitions[result.index]
    entry = {"partition": result.index, **asdict(result), "bytes": [p.start, p.end], "first_line": p.first_line,
             "model_sha256": weights_sha256}  # fmt: skip
    del entry["index"]
    return entry


def run(options: RunOptions, callback: Callable[[Progress], None] | None = None) -> RunSummary:
    """Predict every unfinished partition of ``options.input`` on the cluster; parts and manifest in ``out_dir``.

    ``callback(progress)`` is called once the cluster is up and after every finished partition. A partition
    whose worker is lost is recomputed by Dask on another worker; one that fails is listed in
    ``RunSummary.failed`` and done by the next run. Duplicate names across partitions are refused once
    every partition is done.

    Raises:
        LocvizError: bad options, a folder holding another run, a model the workers cannot load.
    """
    t0 = time.perf_counter()
    check_options(options)
    options = replace(options, input=Path(options.input))
    card_path, card = read_card(options.model)
    card_path = card_path.resolve()
    if options.neighbours:
        homology.diamond_program()
        if card.reference is None:
            raise BundleError(f"{card_path} has no reference set, so --neighbours cannot search one")
        options = replace(options, search_mode=homology.search_mode(card, options.search_mode))  # as resolved
    run_folder = RunFolder(options.out_dir)
    run_folder.create()
    kind, _ = parse_spec(options.cluster)
    with run_folder.locked(), _client_for(options, kind) as get_client:
        plan, partition_size = _plan(options, run_folder, lambda: _slots(options, kind, get_client))
        options = replace(options, partition_size=partition_size)
        ident = identity(options, plan, card.name or card_path.stem, card.weights_sha256, list(card.classes))
        run_folder.start(ident, plan)
        run_folder.remove_temporaries()
        done = run_folder.verified(plan.partitions, card.weights_sha256)
        todo = [p for p in plan.partitions if p.index not in done]
        progress = Progress(
            partitions_total=len(plan.partitions),
            partitions_done=len(done),
            skipped_partitions=len(done),
            records_total=sum(p.records for p in todo),
            skipped_records=sum(int(e["rows"]) + int(e.get("refused", 0)) for e in done.values()),
            refused=sum(int(e.get("refused", 0)) for e in done.values()),
        )
        spec = ModelSpec(str(card_path), card.weights_sha256, options.device, options.batch_size, options.neighbours,
                         options.search_mode)  # fmt: skip
        count = len(plan.partitions)
        tasks = [
            PartitionTask(
                p,
                str(options.input.resolve()),
                plan.size,
                str(run_folder.path.resolve()),
                file_name("part", p.index, count),
                file_name("attention", p.index, count) if options.attention else None,
                spec,
                options.organism,
                plan.first_record(p.index),
            )
            for p in todo
        ]
        failed: list[tuple[int, str]] = []
        resumed = set(done)  # partitions an earlier run finished
        try:
            if tasks:
                client = get_client()
                progress.dashboard = client.dashboard_link or ""
                progress.workers = len(client.scheduler_info().get("workers", {}))
                if callback is not None:
                    callback(progress)  # the cluster is up: the dashboard address, before the first partition
                for result in _submit(client, tasks, spec, failed):
                    entry = _entry(result, plan, card.weights_sha256)
                    run_folder.record(entry)
                    done[result.index] = entry
                    progress.partitions_done += 1
                    progress.records_done += result.rows + result.refused
                    progress.refused += result.refused
                    progress.elapsed = time.perf_counter() - t0
                    progress.latest = result
                    if callback is not None:
                        callback(progress)
            complete = len(done) == count
            repeated = _refuse_duplicates(run_folder, done, plan, options) if complete else []
            if complete:
                run_folder.mark_checked()  # merge reads the folder only after this: duplicates are refused by now
                run_folder.remove_temporaries()  # what a lost worker had half written
        finally:
            refused = run_folder.write_errors(run_folder.finished())
    finished = run_folder.finished()
    return RunSummary(
        out_dir=run_folder.path,
        model=card.name or card_path.stem,
        partitions=count,
        predicted=sum(int(e["rows"]) for k, e in finished.items() if k not in resumed),
        skipped=sum(int(e["rows"]) for k, e in finished.items() if k in resumed),
        refused=refused,
        flagged={flag: sum(len(e.get("flagged", {}).get(flag, ())) for e in finished.values())
                 for flag in pipeline.FLAGS},  # fmt: skip
        length_policy=card.length_policy,
        failed=failed,
        seconds=time.perf_counter() - t0,
        complete=complete,
        duplicates=repeated,
    )


def _slots(options: RunOptions, kind: str, get_client: Callable[[], Any]) -> int:
    if kind == "tcp":
        return worker_slots(get_client())
    return int(parse_spec(options.cluster)[1])


@contextmanager
def _client_for(options: RunOptions, kind: str) -> Iterator[Callable[[], Any]]:
    """A getter that starts (or joins) the cluster on first use, so a refused run never starts one."""
    clients: list[Any] = []
    with ExitStack() as stack:

        def get() -> Any:
            if not clients:
                clients.append(stack.enter_context(connect(options.cluster, options.slurm, options.dashboard_address)))
            return clients[0]

        yield get


def _submit(
    client: Any, tasks: list[PartitionTask], spec: ModelSpec, failed: list[tuple[int, str]]
) -> Iterator[PartitionResult]:
    """Run ``tasks`` on the cluster; yield each result as it arrives (any order).

    A partition whose worker died is moved by Dask to another worker; if it kills workers again and again
    (Dask gives up after ``distributed.scheduler.allowed-failures``), it is listed in ``failed``. A LocvizError
    (the model or input cannot be read on the workers) stops the run: every partition would fail the same way.
    """
    from distributed import as_completed

    client.register_plugin(LoadedModel(spec), name=LoadedModel.name)
    keys = [f"locviz-part-{t.partition.index:05d}-{t.model.weights_sha256[:8]}-{time.time_ns()}" for t in tasks]
    pending = dict(zip(keys, client.map(predict_partition, tasks, key=keys, pure=False), strict=True))
    index_of = {key: t.partition.index for key, t in zip(keys, tasks, strict=True)}
    try:
        arrivals = as_completed(list(pending.values()))
        for future in arrivals:
            if future.status == "finished":
                pending.pop(future.key)
                result = future.result()
                future.release()  # forgotten by the scheduler: a worker lost later does not make Dask redo it
                yield result
                continue
            if future.status == "cancelled" or getattr(client, "status", "running") in ("closing", "closed"):
                raise ClusterError(  # final: re-adding it would spin forever on a client with no scheduler
                    f"the Dask cluster went away (partition {index_of[future.key]} {future.status}; client "
                    f"{getattr(client, 'status', '?')}): the finished partitions are kept; start the cluster again "
                    "and rerun the same command to go on")  # fmt: skip
            if future.status != "error":  # its result was on a worker that died: Dask is computing it again
                arrivals.add(future)
                continue
            pending.pop(future.key)
            exc = future.exception()
            if isinstance(exc, LocvizError):
                raise exc
            failed.append((index_of[future.key], f"{type(exc).__name__}: {exc}"))
            logging.getLogger(__name__).debug("partition %s failed", index_of[future.key], exc_info=exc)
    finally:
        for future in pending.values():
            future.cancel()
        with suppress(Exception):  # a long-lived tcp:// cluster should not keep this model loaded for good
            client.unregister_worker_plugin(LoadedModel.name)


def _refuse_duplicates(
    run_folder: RunFolder, done: dict[int, dict], plan: Plan, options: RunOptions
) -> list[tuple[int, str]]:
    """Refuse the later records of a name that an earlier partition holds; returns their (line, message)."""
    dropped = duplicates.find(run_folder.path, done)
    refused: list[tuple[int, str]] = []
    for index, names in dropped.items():
        entry = done[index]
        task = PartitionTask(plan.partitions[index], str(options.input), plan.size, str(run_folder.path), "", None,
                             ModelSpec("", ""))  # fmt: skip
        refused_lines = {int(issue[0]) for issue in entry.get("issues", [])}
        lines = duplicates.header_lines(list(read_records(task)), set(names), refused_lines)
        entry = duplicates.drop(run_folder, entry, names, lines)
        run_folder.record(entry)
        done[index] = entry
        refused += [(int(line), message) for line, name, message in entry["issues"] if name in names]
    return refused
