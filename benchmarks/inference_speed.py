"""Measure inference speed and memory on this machine and print a table.

What is measured (all with the bundle's own long-sequence policy):
- load: seconds to load the bundle (checksum, safetensors, model build);
- latency: one 1,000-residue protein (the first 1,000 residues of the first
  protein in FASTA that has that many) predicted with attention right after
  load; median and 90th percentile of ``--runs`` calls, torch threads as default;
  the same with filter activations as well (what the app's filter view asks for);
- throughput: ``Predictor.predict`` over the first ``--limit`` proteins of FASTA;
- command: wall time of the whole ``locviz predict`` run over the same proteins,
  as a separate process, start-up and model load included;
- memory: peak resident set size of this process and of the command.

    python benchmarks/inference_speed.py --model multiloc --fasta ../shared/data/deeploc/train.fasta --limit 1000
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz.predict import load_model  # noqa: E402
from locviz.sequences import (  # noqa: E402
    ProteinRecord,
    iter_record_texts,  # noqa: E402
    parse,
)

DEFAULT_FASTA = REPO.parent / "shared" / "data" / "deeploc" / "train.fasta"


def read_fasta(path: Path, limit: int | None) -> tuple[list[ProteinRecord], str]:
    """The first ``limit`` valid records and their FASTA text (for the command-line run)."""
    records, texts = [], []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for _, text in iter_record_texts(handle):
            result = parse(text)
            if result.records:
                records.append(result.records[0])
                texts.append(text if text.endswith("\n") else text + "\n")
            if limit is not None and len(records) >= limit:
                break
    return records, "".join(texts)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM (per address space, so not inflated by a parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# Runs ``locviz predict`` exactly as ``python -m locviz.cli`` does, then reports its own peak memory.
CHILD = """
import sys
from locviz.cli import main
code = main(sys.argv[1:])
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
print(f"PEAK_RSS_MIB {int(hwm[0]) / 1024:.1f}", file=sys.stderr)
sys.exit(code)
"""


def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="multiloc", help="multiloc, deeploc or a bundle path")
    parser.add_argument("--fasta", type=Path, default=DEFAULT_FASTA)
    parser.add_argument("--limit", type=int, default=1000, help="proteins for throughput and the command run")
    parser.add_argument("--runs", type=int, default=20, help="timed latency calls (at least 10)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if not args.fasta.is_file():
        print(f"error: no FASTA at {args.fasta}; pass --fasta", file=sys.stderr)
        return 1
    runs = max(args.runs, 10)

    t0 = time.perf_counter()
    predictor = load_model(args.model, device=args.device, batch_size=args.batch_size)
    load_s = time.perf_counter() - t0
    records, fasta_text = read_fasta(args.fasta, args.limit)
    if not records:
        print(f"error: no valid protein in {args.fasta}", file=sys.stderr)
        return 1
    long_one = next((r for r in records if len(r) >= 1000), None)
    if long_one is None:
        print(f"error: no protein of 1,000 residues or more among the first {len(records)}", file=sys.stderr)
        return 1
    probe = ProteinRecord(long_one.id, long_one.sequence[:1000])

    first_call = timed(lambda: predictor.predict([probe]), 1)[0]
    latency = timed(lambda: predictor.predict([probe]), runs)
    latency_filters = timed(lambda: predictor.predict([probe], with_filters=True), runs)

    t0 = time.perf_counter()
    predictor.predict(records)
    throughput_s = time.perf_counter() - t0
    residues = sum(len(r) for r in records)
    self_rss = peak_rss_mib()

    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "input.fasta"
        fasta.write_text(fasta_text)
        out = Path(tmp) / "out.tsv"
        cmd = [sys.executable, "-c", CHILD, "predict", str(fasta), "--model", args.model,
               "--out", str(out), "--device", args.device, "--batch-size", str(args.batch_size), "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=dict(os.environ))
        command_s = time.perf_counter() - t0
        if proc.returncode not in (0, 3):
            print(proc.stderr, file=sys.stderr)
            return 1
        command_rows = len(out.read_text().splitlines()) - 1
    child_rss = float(proc.stderr.rsplit("PEAK_RSS_MIB", 1)[1].split()[0])

    bundle = predictor.bundle
    config = bundle.config
    device = predictor.device
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"model: {bundle.name} ({bundle.card_path}), {len(bundle.model.members)} member(s), "
          f"LSTM {config.lstm_hidden}, {config.n_filters} filters, policy: {bundle.length_policy.describe()}")
    print(f"machine: {hardware}; device {device}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{os.cpu_count()} CPUs")
    print(f"data: first {len(records)} valid proteins of {args.fasta} ({residues} residues); "
          f"latency probe: first 1000 residues of {long_one.id}")
    print()
    rows = [
        ("load bundle", f"{load_s:.2f} s", ""),
        ("first call after load, 1,000 residues", f"{first_call * 1000:.0f} ms", "with attention"),
        ("latency, 1,000 residues (median)", f"{statistics.median(latency) * 1000:.0f} ms",
         f"p90 {sorted(latency)[int(0.9 * (runs - 1))] * 1000:.0f} ms over {runs} runs"),
        ("latency with filters (median)", f"{statistics.median(latency_filters) * 1000:.0f} ms",
         f"p90 {sorted(latency_filters)[int(0.9 * (runs - 1))] * 1000:.0f} ms over {runs} runs"),
        ("Predictor throughput", f"{len(records) / throughput_s:.1f} proteins/s",
         f"{len(records)} proteins in {throughput_s:.1f} s, {residues / throughput_s:.0f} input residues/s"),
        ("locviz predict (whole command)", f"{command_rows / command_s:.1f} proteins/s",
         f"{command_rows} proteins in {command_s:.1f} s wall, start-up included (exit {proc.returncode})"),
        ("peak RSS, this process", f"{self_rss:.0f} MiB", "load + latency + throughput"),
        ("peak RSS, locviz predict", f"{child_rss:.0f} MiB", "separate process"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | value | detail |")
    print(f"| {'-' * width} | --- | --- |")
    for name, value, detail in rows:
        print(f"| {name.ljust(width)} | {value} | {detail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
