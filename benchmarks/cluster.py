"""locviz predict on one process vs a Dask LocalCluster, and a cluster run killed at half and resumed.

    python benchmarks/cluster.py --input ../shared/data/deeploc/train.fasta [--model deeploc] [--workers 2]
           [--only a b c] [--work /tmp/locviz-cluster-bench]

(a) one process (``locviz predict``, all cores), (b) ``--cluster local:N`` (N single-threaded workers), both timed
as whole commands (start-up, model loading and, for (b), starting and closing the cluster included); (b)'s merged
table is compared with (a)'s. (c) the same cluster command killed (SIGKILL to the whole process group) once half
of its partitions are in the manifest, then run again: it must resume and end with every record exactly once.
Prints proteins/s, the ratio b/a and the peak memory of one worker process.

The runs use their own folder of CPU lock files (``LOCVIZ_CPU_LOCK``, see ``locviz/cpu.py``): a locviz job
paused with SIGSTOP while it holds a core's lock (a training campaign paused for the timing) would otherwise
stall every timed run until it is resumed. ``--shared-locks`` keeps the machine's folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil


def locviz(*args: str) -> list[str]:
    return [sys.executable, "-m", "locviz", *args]


def timed(command: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 3):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stderr


class PeakWorkerMemory:
    """Samples the resident memory of every descendant process that is a Dask worker (twice a second)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.5):
            for child in me.children(recursive=True):
                try:
                    if "spawn_main" in " ".join(child.cmdline()):  # Dask's worker processes (multiprocessing spawn)
                        self.peak = max(self.peak, child.memory_info().rss)
                except psutil.Error:
                    continue

    def __enter__(self) -> PeakWorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def read_table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def compare(merged: Path, single: Path) -> str:
    a, b = read_table(merged), read_table(single)
    if [r["id"] for r in a] != [r["id"] for r in b]:
        return "DIFFERENT rows or order"
    probability = [c for c in a[0] if c.startswith("p_")]
    worst = max(abs(float(x[c]) - float(y[c])) for x, y in zip(a, b, strict=True) for c in probability)
    calls = sum(x["prediction"] == y["prediction"] for x, y in zip(a, b, strict=True))
    return f"same {len(a)} rows in the same order; max |dp| {worst:.1e}; same call {calls}/{len(a)}"


def kill_at_half(command: list[str], out: Path) -> float:
    """Start ``command``; SIGKILL its process group once half the partitions are in the manifest; seconds run."""
    t0 = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest, run = out / "manifest.jsonl", out / "run.json"
    while process.poll() is None:
        if run.is_file() and manifest.is_file():
            total = len(json.loads(run.read_text())["partitions"])
            if len(manifest.read_text().splitlines()) >= total / 2:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return time.perf_counter() - t0
        time.sleep(0.2)
    sys.exit("the run ended before half of it was done: nothing was killed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, help="FASTA file, e.g. ../shared/data/deeploc/train.fasta")
    parser.add_argument("--model", default="deeploc")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=("a", "b", "c"), default=["a", "b", "c"])
    parser.add_argument("--work", default="/tmp/locviz-cluster-bench", help="scratch folder (emptied per run)")
    parser.add_argument("--shared-locks", action="store_true", help="use the machine's CPU lock files")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if not args.shared_locks:
        os.environ["LOCVIZ_CPU_LOCK"] = str(work / "cpu-locks")  # inherited by every run and its workers
    n = sum(line.startswith(">") for line in open(args.input))
    cluster = ("--cluster", f"local:{args.workers}")
    print(f"{n} proteins from {args.input}, model {args.model}, {os.cpu_count()} cores, {args.workers} workers")
    seconds: dict[str, float] = {}
    if "a" in args.only:
        seconds["a"], _ = timed(locviz("predict", args.input, "--model", args.model, "--out", str(work / "a.tsv"),
                                       "--no-progress"))  # fmt: skip
        print(f"(a) one process:        {seconds['a']:7.1f} s  {n / seconds['a']:6.1f} proteins/s")
    if "b" in args.only:
        out = work / "b"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        with PeakWorkerMemory() as memory:
            seconds["b"], _ = timed(locviz("predict", args.input, "--model", args.model, "--out", str(out), *cluster,
                                           "--no-progress"))  # fmt: skip
        parts = len(list(out.glob("part-*.parquet")))
        print(f"(b) --cluster local:{args.workers}: {seconds['b']:7.1f} s  {n / seconds['b']:6.1f} proteins/s "
              f"({parts} partitions; peak worker memory {memory.peak / 2**20:.0f} MiB)")  # fmt: skip
        if "a" in seconds:
            print(f"    ratio b/a: {seconds['a'] / seconds['b']:.2f}x (target >= 0.9x)")
            subprocess.run(locviz("merge", str(out), "--out", str(work / "b.tsv")), check=True, capture_output=True)
            print(f"    merged table vs (a): {compare(work / 'b.tsv', work / 'a.tsv')}")
    if "c" in args.only:
        out = work / "c"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        command = locviz("predict", args.input, "--model", args.model, "--out", str(out), *cluster, "--no-progress")
        first = kill_at_half(command, out)
        done_before = len({json.loads(line)["partition"] for line in (out / "manifest.jsonl").read_text().splitlines()})
        second, err = timed(command)
        subprocess.run(locviz("merge", str(out), "--out", str(work / "c.tsv")), check=True, capture_output=True)
        ids = [r["id"] for r in read_table(work / "c.tsv")]
        total = len(json.loads((out / "run.json").read_text())["partitions"])
        verdict = "every record once" if len(ids) == len(set(ids)) == n else "RECORDS MISSING OR REPEATED"
        print(f"(c) killed after {first:.1f} s with {done_before}/{total} partitions done; resumed run {second:.1f} s; "
              f"{len(ids)} records, {len(ids) - len(set(ids))} duplicates: {verdict}")  # fmt: skip
        print("    " + err.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
