"""locviz predict --cluster: the same table as one process, a lost worker, resuming, refusals, the Slurm job script.

One LocalCluster of 2 single-threaded worker processes serves most tests through ``--cluster tcp://...``;
proteins are short and generated (seeded), so the file runs in well under two minutes on 2 cores.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REPO
from distributed import Client, LocalCluster, WorkerPlugin

from locviz import cli, table
from locviz.cluster import engine, worker
from locviz.cluster.manifest import MANIFEST_FILE, RunFolder
from locviz.cluster.plan import scan
from locviz.cluster.spec import parse_spec
from locviz.errors import ClusterError, InputError
from locviz.sequences import STANDARD_RESIDUES

SHIPPED_MULTILOC = str(REPO / "weights" / "multiloc.json")


@pytest.fixture(autouse=True)
def tiny_weights(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    return tiny_weights_dir


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of 2 single-threaded worker processes; its address, for ``--cluster tcp://...``."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def proteins(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"prot{i}", "".join(rng.choice(STANDARD_RESIDUES) for _ in range(rng.randint(20, 100)))) for i in range(n)]


def fasta_text(records: list[tuple[str, str]]) -> str:
    """FASTA with 60-residue lines and the bad records the single process refuses, spread over partitions."""
    lines = []
    for k, (name, seq) in enumerate(records):
        lines.append(f">{name} generated protein {k}")
        seq = seq.lower() if k == 10 else seq  # read as upper case, with a note
        lines += [seq[i : i + 60] for i in range(0, len(seq), 60)]
        if k == 5:
            lines += [">bad_letter", "MKVLLA!GGQQQQQQQQQQ"]  # refused: not an amino-acid letter
        if k == 30:
            lines += [">named_twice", "ACGTACGTACGTACGTACGT"]  # refused (nucleotides) ... and later a good one
        if k == 31:
            lines += [f">{records[31][0]} again", "MKKLLPTAAAGLLLLAAQPAMA"]  # duplicate within one partition
        if k == 150:
            lines += [">named_twice later", "MKKLLPTAAAGLLLLAAQPAMAKK"]  # duplicate of a refused name, far away
        if k == 200:
            lines += [f">{records[3][0]} far", "MSTNPKPQRKTKRNTNRRPQDVKFPGG"]  # duplicate across partitions
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fasta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "proteins.fasta"
    path.write_text(fasta_text(proteins(240)))
    return path


def single_process(fasta: Path, out: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, list[str]]:
    """Exit status and the lines naming a record (refused ones) and the run's notes, on stderr."""
    code = cli.main(["predict", str(fasta), "--out", str(out), "--no-progress", *extra])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if ", line " in line or line.startswith(NOTES)]


NOTES = ("note:", "warning:", "calls:", "support:")  # end-of-run lines both paths print


def cluster_run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    code = cli.main(["predict", *args, "--no-progress"])
    return code, capsys.readouterr().err


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def assert_same_table(merged: list[dict[str, str]], single: list[dict[str, str]]) -> None:
    """Same rows in the same order; probabilities and their spread within 1e-5 (batches differ: float32 rounding),
    the rest equal."""
    assert [r["id"] for r in merged] == [r["id"] for r in single]
    assert list(merged[0]) == list(single[0])
    for a, b in zip(merged, single, strict=True):
        for column in a:
            if (column.startswith("p_") or column in ("confidence", "member_spread")) and a[column] and b[column]:
                assert abs(float(a[column]) - float(b[column])) <= 1e-5, (a["id"], column)
            else:
                assert a[column] == b[column], (a["id"], column)


# ----------------------------------------------------------------------------- the plan
def test_plan_cuts_at_records_and_counts_lines(tmp_path: Path) -> None:
    text = fasta_text(proteins(60, seed=1))
    path = tmp_path / "crlf.fasta"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())  # byte-order mark, Windows lines
    data = path.read_bytes()
    plan = scan(path, target=700)
    assert len(plan.partitions) > 5
    assert plan.partitions[0].start == 0 and plan.partitions[-1].end == len(data)
    assert plan.records == text.count("\n>") + 1
    lines = data.split(b"\n")
    for before, after in zip(plan.partitions, plan.partitions[1:], strict=False):
        assert before.end == after.start and data[after.start : after.start + 1] == b">"
        assert lines[after.first_line - 1].startswith(b">")
        assert after.first_line == data[: after.start].count(b"\n") + 1
        assert after.records == data[after.start : after.end].count(b"\n>") + 1
    raw = tmp_path / "raw.txt"
    raw.write_text("MKVLLAGGQQQQ\nQQQQ\n>late header\nMKV\n")  # not FASTA: one partition, as the reader sees it
    assert [(p.start, p.end, p.records) for p in scan(raw, target=5).partitions] == [(0, raw.stat().st_size, 1)]


def test_a_file_that_is_not_utf8_is_refused_at_planning_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.fasta"
    path.write_bytes(fasta_text(proteins(3, seed=2)).replace(">prot1", ">prot1 protéine").encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.fasta, line \d+: byte 0xE9 \(column \d+\) is not UTF-8"):
        scan(path, target=700)  # the workers would have put '\ufffd' into the names without a word


def test_unnamed_records_get_the_single_process_s_names_in_every_partition(tmp_path: Path) -> None:
    """A header with no name is ``record_N`` after its place in the whole input, wherever the file was cut."""
    path = tmp_path / "unnamed.fasta"
    path.write_text("".join(f">\n{seq}\n" for _, seq in proteins(12, seed=2)))
    plan = scan(path, target=120)
    assert len(plan.partitions) > 3
    names, warned, notes = [], 0, []
    for p in plan.partitions:
        task = worker.PartitionTask(p, str(path), plan.size, str(tmp_path), "", None, worker.ModelSpec("", ""),
                                    first_record=plan.first_record(p.index))  # fmt: skip
        result = worker.PartitionResult(p.index, "", 0, "")
        names += [r.id for r in worker.parse_partition(task, result)]
        assert result.issues == [] and result.refused == 0
        warned += len(result.flagged.get("warned", []))
        notes += result.notes
    assert names == [f"record_{n}" for n in range(1, 13)]
    assert warned == 0  # being unnamed is a note, not a change to the record, as in the single process
    assert [message for _, message in notes] == [f"the FASTA header of record {n} has no name; it is called "
                                                 f"'record_{n}' here" for n in range(1, 13)]  # said, as there


def test_cluster_spec_is_checked(capsys: pytest.CaptureFixture, fasta: Path, tmp_path: Path) -> None:
    assert parse_spec("local:3") == ("local", 3)
    assert parse_spec("tcp://10.0.0.1:8786") == ("tcp", "tcp://10.0.0.1:8786")
    assert parse_spec("slurm:40") == ("slurm", 40)
    for bad in ("local:0", "local", "slurm:x", "10.0.0.1:8786", "tcp:"):
        with pytest.raises(InputError, match="local:N"):
            parse_spec(bad)
    code, err = cluster_run(capsys, str(fasta), "--out", str(tmp_path / "d"), "--cluster", "local:zero")
    assert code == 1 and err.count("\n") == 1 and "local:N" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- the same answer
def test_cluster_table_equals_single_process(
    scheduler: str, fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    options = ("--model", "multiloc", "--organism", "animal")
    code, single_errors = single_process(fasta, tmp_path / "single.tsv", capsys, *options,
                                         "--attention", str(tmp_path / "single_attention.tsv"))  # fmt: skip
    assert code == 3 and len([e for e in single_errors if not e.startswith(NOTES)]) == 5
    out = tmp_path / "run"
    code, err = cluster_run(capsys, str(fasta), "--out", str(out), "--cluster", scheduler, "--partition-size", "40",
                            *options, "--attention", str(tmp_path / "attention.tsv"))  # fmt: skip
    assert code == 3, err
    assert "Dask dashboard: http" in err
    assert "predicted 240 records with multiloc, 0 skipped" in err and "5 refused" in err
    said = [line for line in err.splitlines() if ", line " in line or line.startswith(NOTES)]
    assert sorted(said) == sorted(single_errors)  # refused records and the end-of-run notes, in the same words
    assert any(line.startswith(NOTES) for line in said)
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) >= 6
    meta = pq.read_schema(parts[0]).metadata
    assert meta[b"schema_version"] == str(table.SCHEMA_VERSION).encode() and meta[b"model"] == b"multiloc"

    assert cli.main(["merge", str(out), "--out", str(tmp_path / "merged.tsv")]) == 0
    assert_same_table(read_tsv(tmp_path / "merged.tsv"), read_tsv(tmp_path / "single.tsv"))
    single_attention = (tmp_path / "single_attention.tsv").read_text().splitlines()
    cluster_attention = (tmp_path / "attention.tsv").read_text().splitlines()
    assert [r.split("\t")[:3] for r in cluster_attention] == [r.split("\t")[:3] for r in single_attention]

    with open(out / "errors.tsv", newline="") as handle:
        refused = list(csv.DictReader(handle, delimiter="\t"))
    expected = [(line.split(", line ")[1].split(":", 1)[0], line.split(": ", 1)[1]) for line in single_errors
                if not line.startswith(NOTES)]  # fmt: skip
    assert [(r["line"], r["message"]) for r in refused] == expected  # input order, the single process's words

    assert cli.main(["merge", str(out), "--out", str(tmp_path / "merged.json")]) == 0
    merged_json = json.loads((tmp_path / "merged.json").read_text())
    assert merged_json["schema_version"] == table.SCHEMA_VERSION and len(merged_json["predictions"]) == 240
    assert cli.main(["merge", str(out), "--out", str(tmp_path / "merged.parquet")]) == 0
    merged_ids = [r["id"] for r in read_tsv(tmp_path / "merged.tsv")]
    assert pq.read_table(tmp_path / "merged.parquet").column("id").to_pylist() == merged_ids


@pytest.mark.skipif(shutil.which("diamond") is None, reason="DIAMOND is not installed (scripts/install.sh does)")
def test_neighbours_in_cluster_mode_equal_single_process(
    scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "in.fasta"
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in proteins(16, seed=4)))
    options = ("--model", SHIPPED_MULTILOC, "--neighbours")
    code, _ = single_process(path, tmp_path / "single.tsv", capsys, *options)
    assert code == 0
    out = tmp_path / "run"
    code, err = cluster_run(capsys, str(path), "--out", str(out), "--cluster", scheduler, "--partition-size", "8",
                            *options)  # fmt: skip
    assert code == 0, err
    assert cli.main(["merge", str(out), "--out", str(tmp_path / "merged.tsv")]) == 0
    merged, single = read_tsv(tmp_path / "merged.tsv"), read_tsv(tmp_path / "single.tsv")
    assert "nearest_id" in merged[0] and "combined" in merged[0]
    assert_same_table(merged, single)


# ----------------------------------------------------------------------------- a lost worker
class KillDuringPartition(WorkerPlugin):
    """Test only: kills its own worker process (SIGKILL) while partition ``index`` is being written, once."""

    name = "test-kill-once"

    def __init__(self, index: int, out_dir: str, marker: str):
        self.index, self.out_dir, self.marker = index, out_dir, marker

    def transition(self, key: str, start: str, finish: str, **kwargs: object) -> None:
        if finish != "executing" or f"locviz-part-{self.index:05d}-" not in str(key) or os.path.exists(self.marker):
            return

        def kill_when_writing() -> None:
            pattern = f"part-{self.index:05d}.parquet.tmp-"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if any(name.startswith(pattern) for name in os.listdir(self.out_dir)):
                    Path(self.marker).write_text(str(os.getpid()))
                    os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(0.001)

        threading.Thread(target=kill_when_writing, daemon=True).start()


def test_a_killed_worker_loses_nothing_and_repeats_nothing(
    scheduler: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    path = tmp_path / "in.fasta"
    path.write_text("".join(f">{name}\n{seq}\n" for name, seq in proteins(160, seed=2)))
    out, marker = tmp_path / "run", tmp_path / "killed"
    out.mkdir()
    with Client(scheduler) as client:  # closed before the run: one client per process at a time
        workers_before = set(client.run(os.getpid).values())
        client.register_plugin(KillDuringPartition(2, str(out), str(marker)))
    try:
        code, err = cluster_run(capsys, str(path), "--out", str(out), "--cluster", scheduler,
                                "--model", SHIPPED_MULTILOC, "--partition-size", "20")  # fmt: skip
    finally:
        with Client(scheduler) as client:
            client.unregister_worker_plugin(KillDuringPartition.name)
    assert code == 0, err
    assert marker.is_file() and int(marker.read_text()) in workers_before  # a worker died inside partition 2
    lines = [json.loads(line) for line in (out / MANIFEST_FILE).read_text().splitlines()]
    entries = [e for e in lines if "partition" in e]
    assert sorted(e["partition"] for e in entries) == list(range(len(entries)))  # each partition recorded once
    assert lines[-1] == {"duplicates_checked": True}  # then the run was whole
    assert cli.main(["merge", str(out), "--out", str(tmp_path / "merged.tsv")]) == 0
    ids = [r["id"] for r in read_tsv(tmp_path / "merged.tsv")]
    assert ids == [f"prot{i}" for i in range(160)]  # every record once, in input order
    assert not list(out.glob("*.tmp-*"))


# ----------------------------------------------------------------------------- resuming and refusing
def test_a_resumed_run_skips_finished_partitions(
    scheduler: str, fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"

    def stop_after_three(progress: engine.Progress) -> None:
        if progress.partitions_done >= 3:
            raise KeyboardInterrupt

    options = engine.RunOptions(fasta, out, model="multiloc", cluster=scheduler, partition_size=40)
    with pytest.raises(KeyboardInterrupt):
        engine.run(options, callback=stop_after_three)
    finished = RunFolder(out).finished()
    assert len(finished) >= 3
    stamps = {k: (out / e["file"]).stat().st_mtime_ns for k, e in finished.items()}
    assert cli.main(["merge", str(out), "--out", str(tmp_path / "early.tsv")]) == 1
    assert "are not finished" in capsys.readouterr().err

    code, err = cluster_run(capsys, str(fasta), "--out", str(out), "--model", "multiloc", "--cluster", "local:2",
                            "--partition-size", "40")  # fmt: skip
    assert code == 3, err
    assert f"resuming: {len(finished)} of" in err
    after = RunFolder(out).finished()
    for k, entry in finished.items():  # not done again (a part holding a later duplicate is rewritten without it)
        assert (after[k]["seconds"], after[k]["worker"]) == (entry["seconds"], entry["worker"])
        if after[k]["rows"] == entry["rows"]:
            assert (out / entry["file"]).stat().st_mtime_ns == stamps[k]
    assert cli.main(["merge", str(out), "--out", str(tmp_path / "merged.tsv")]) == 0
    merged = read_tsv(tmp_path / "merged.tsv")
    assert len(merged) == 240 and len({r["id"] for r in merged}) == 240

    code, err = cluster_run(capsys, str(fasta), "--out", str(out), "--model", "multiloc", "--cluster", scheduler)
    assert code == 3 and "0 records with multiloc, 240 skipped" in err  # all finished: nothing to do


def test_a_run_stopped_before_its_duplicate_check_is_not_merged_and_a_merge_never_looks_complete(
    scheduler: str, fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every partition finished but the run stopped before refusing names repeated across partitions: merge says
    so instead of writing both copies; the rerun only checks (and counts nothing negative). A merge stopped midway
    leaves OUT.partial, not a table cut short under OUT."""
    from locviz.cluster import duplicates, merge

    out = tmp_path / "run"
    options = engine.RunOptions(fasta, out, model="multiloc", cluster=scheduler, partition_size=40)
    real_find = duplicates.find

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(duplicates, "find", stopped)
    with pytest.raises(KeyboardInterrupt):
        engine.run(options)
    folder = RunFolder(out)
    assert len(folder.finished()) == len(folder.identity()["partitions"]) and not folder.checked()  # all, unchecked
    assert cli.main(["merge", str(out), "--out", str(tmp_path / "m.tsv")]) == 1
    assert "the check for names repeated across partitions did not run" in capsys.readouterr().err
    monkeypatch.setattr(duplicates, "find", real_find)
    summary = engine.run(options)
    assert (summary.predicted, summary.skipped) == (0, 240) and RunFolder(out).checked()

    (tmp_path / "m.tsv").write_text("an earlier good table\n")
    calls = {"n": 0}
    real_rows = table.arrow_rows

    def fail_on_third(part):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_rows(part)

    monkeypatch.setattr(table, "arrow_rows", fail_on_third)
    with pytest.raises(KeyboardInterrupt):
        merge.merge(out, str(tmp_path / "m.tsv"))
    assert (tmp_path / "m.tsv").read_text() == "an earlier good table\n"  # untouched
    assert (tmp_path / "m.tsv.partial").is_file()


def test_a_lost_scheduler_ends_the_run_with_a_message_instead_of_spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    """A future cancelled because the client lost its scheduler is final; it used to be put back for ever."""
    import distributed

    class Future:
        status, key = "cancelled", ""

        def cancel(self) -> None:
            pass

    class Arrivals(list):
        def add(self, future) -> None:
            self.append(future)
            if len(self) > 50:
                raise AssertionError("the lost future was put back again and again")

    class LostClient:
        status = "closed"

        def register_plugin(self, *args, **kwargs) -> None:
            pass

        def unregister_worker_plugin(self, *args) -> None:
            pass

        def map(self, function, tasks, key, pure):
            futures = [Future() for _ in tasks]
            for future, k in zip(futures, key, strict=True):
                future.key = k
            return futures

    monkeypatch.setattr(distributed, "as_completed", lambda futures: Arrivals(futures))
    task = engine.PartitionTask(scan_partition_stub(), "x.fasta", 1, "out", "part-0.parquet", None,
                                worker.ModelSpec("m.json", "0" * 64))  # fmt: skip
    with pytest.raises(ClusterError, match="the Dask cluster went away .*rerun the same command"):
        list(engine._submit(LostClient(), [task], task.model, []))


def scan_partition_stub():
    from locviz.cluster.plan import Partition

    return Partition(0, 0, 10, 1, 1)


def test_a_name_refused_across_partitions_leaves_no_cleaned_or_cut_count_behind(tmp_path: Path) -> None:
    import pyarrow as pa

    from locviz.cluster import duplicates

    pq.write_table(pa.table({"id": ["a", "b", "c"]}), tmp_path / "part.parquet")
    entry = {"file": "part.parquet", "sha256": "", "rows": 3, "flagged": {"warned": ["b", "c"], "cropped": ["b"]},
             "issues": [], "refused": 0}  # fmt: skip
    after = duplicates.drop(RunFolder(tmp_path), entry, ["b"], {"b": 12})
    assert (after["rows"], after["refused"]) == (2, 1)
    assert after["flagged"] == {"warned": ["c"], "cropped": []}


def test_another_model_or_input_in_the_folder_is_refused(
    scheduler: str, fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    small = tmp_path / "small.fasta"
    small.write_text("".join(f">{name}\n{seq}\n" for name, seq in proteins(12, seed=3)))
    out = tmp_path / "run"
    code, err = cluster_run(capsys, str(small), "--out", str(out), "--model", "multiloc", "--cluster", scheduler)
    assert code == 0, err
    code, err = cluster_run(capsys, str(small), "--out", str(out), "--model", "deeploc", "--cluster", scheduler)
    assert code == 1 and err.count("\n") == 1, err
    assert "holds predictions of model multiloc" in err and "not deeploc" in err and "Traceback" not in err
    code, err = cluster_run(capsys, str(fasta), "--out", str(out), "--model", "multiloc", "--cluster", scheduler)
    assert code == 1 and "another input" in err and err.count("\n") == 1
    code, err = cluster_run(capsys, str(small), "--out", str(out), "--model", "multiloc", "--cluster", scheduler,
                            "--organism", "plant")  # fmt: skip
    assert code == 1 and "--organism" in err and err.count("\n") == 1
    # 12 partitions: never the default's 4 or 8, whether one or both workers were up when the folder was cut
    code, err = cluster_run(capsys, str(small), "--out", str(out), "--model", "multiloc", "--cluster", scheduler,
                            "--partition-size", "1")  # fmt: skip
    assert code == 1 and "--partition-size" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- Slurm
def test_slurm_job_script_runs_one_single_threaded_worker_per_job() -> None:
    options = engine.SlurmOptions(queue="short", memory="3GB", walltime="01:30:00", account="lab42")
    cluster = engine.slurm_cluster(options, dashboard_address=":0")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p short" in script and "#SBATCH -A lab42" in script and "#SBATCH -t 01:30:00" in script
    assert "#SBATCH --cpus-per-task=1" in script and "#SBATCH --mem=" in script
    assert "--nthreads 1" in script and "--memory-limit" in script
    assert "export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LOCVIZ_THREADS=1" in script
    assert sys.executable in script  # the workers run the same Python (and locviz) as the client


def test_a_folder_from_another_table_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from locviz.cluster.manifest import refuse_mismatch

    now = {"input_sha256": "a", "model_sha256": "m", "target_bytes": 1, "schema_version": table.SCHEMA_VERSION,
           "partition_size": None, "organism": "any", "neighbours": True, "search_mode": "mid-sensitive",
           "attention": False, "columns": []}  # fmt: skip
    with pytest.raises(InputError, match="another locviz version .*choose another --out folder"):
        refuse_mismatch(tmp_path, {**now, "schema_version": 1}, now)
    with pytest.raises(InputError, match="--search-mode = 'default'"):
        refuse_mismatch(tmp_path, {**now, "search_mode": "default"}, now)
    refuse_mismatch(tmp_path, dict(now), now)  # the same run: no complaint


def test_per_protein_side_files_are_refused_with_cluster_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    fasta = tmp_path / "in.fasta"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in proteins(3, seed=5)))
    code, err = cluster_run(capsys, str(fasta), "--out", str(tmp_path / "run"), "--model", "multiloc", "--cluster",
                            "local:1", "--with-attention")  # fmt: skip
    assert code == 1 and "--with-attention is not available with --cluster" in err and err.count("\n") == 1
    code, err = cluster_run(capsys, str(fasta), "--out", str(tmp_path / "run"), "--model", "multiloc", "--cluster",
                            "local:1", "--neighbours", "--hits", str(tmp_path / "hits.tsv"))  # fmt: skip
    assert code == 1 and "--hits is not available with --cluster" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists() and not (tmp_path / "hits.tsv").exists()
