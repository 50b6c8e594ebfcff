"""Throughput of ``locviz predict``, alone and beside a second job, and the levers tried; prints a table.

What is measured (each ``locviz predict`` is a separate process, start-up and model load included):

- ``command``: one job over FASTA (default: the 11,085 DeepLoc training proteins) per model;
- ``concurrent``: the same job twice at once against once alone, on the first ``--concurrent-limit``
  proteins, with locviz's CPU sharing (``locviz/cpu.py``: one lock file per core; a forward pass
  runs with as many threads as it got cores) and without it (``LOCVIZ_CPU_LOCK=0``,
  the old behaviour). Target: two jobs finish within 2.5x the time of one;
- ``int8``: ``torch.ao.quantization.quantize_dynamic`` (LSTM + Linear) against float on the
  first ``--quant-limit`` proteins: label agreement, largest probability difference, CPU time;
- ``api``: the README's Python example on 200 proteins (``with_filters`` on and off) beside the
  command on the same proteins (the issue-9 report: API 56-118 s where the CLI took 23 s).

The load average (other processes) is printed beside each figure: on a shared machine it
explains most of the variation. The command's CPU seconds (user + system of the child process)
are printed too: proteins per CPU second hardly depends on what else runs, and twice it bounds
what 2 idle cores can do.

    python benchmarks/throughput.py                        # everything (about 10 min on 2 idle cores)
    python benchmarks/throughput.py --skip command --concurrent-limit 500
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz.model import Ensemble  # noqa: E402
from locviz.weights import load_bundle, read_card, save_bundle  # noqa: E402

DEFAULT_FASTA = REPO.parent / "shared" / "data" / "deeploc" / "train.fasta"
PARTS = ("command", "concurrent", "int8", "api")
OLD_BEHAVIOUR = {"LOCVIZ_CPU_LOCK": "0"}
ENSEMBLE_TARGET, STUDENT_TARGET = 120, 250


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def first_records(fasta: Path, limit: int | None, out: Path) -> int:
    """Write the first ``limit`` FASTA records of ``fasta`` to ``out``; returns how many."""
    n, lines = 0, []
    with open(fasta) as handle:
        for line in handle:
            if line.startswith(">"):
                n += 1
                if limit is not None and n > limit:
                    n -= 1
                    break
            lines.append(line)
    out.write_text("".join(lines))
    return n


def predict_command(fasta: Path, model: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "locviz", "predict", str(fasta), "--model", model, "--out", str(out),
            "--no-progress"]  # fmt: skip


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "LOCVIZ_THREADS")}
    env.update(extra or {})
    return env


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_jobs(fasta: Path, model: str, jobs: int, env: dict[str, str], folder: Path) -> list[float]:
    """Start ``jobs`` predict commands at once; the wall time of each."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(predict_command(fasta, model, folder / f"out{j}.tsv"), env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
        for j in range(jobs)
    ]
    times = [0.0] * jobs
    pending = set(range(jobs))
    while pending:
        for j in list(pending):
            if procs[j].poll() is not None:
                times[j] = time.perf_counter() - start
                pending.discard(j)
                if procs[j].returncode != 0:
                    raise SystemExit(f"locviz predict failed: {procs[j].stderr.read()}")
        time.sleep(0.05)
    return times


def target_for(model: str) -> int:
    """Proteins/s: an ensemble's target (issue 9) or a fast student's (issue 12: one distilled network)."""
    _, card = read_card(model)
    return STUDENT_TARGET if card.teacher else ENSEMBLE_TARGET


def part_command(args: argparse.Namespace, folder: Path) -> None:
    fasta = folder / "command.fasta"
    n = first_records(args.fasta, args.limit, fasta)
    print(f"\n## locviz predict, start-up included ({n} proteins of {args.fasta.name}, default threads)")
    print("| model | seconds | proteins/s | target | CPU s (proteins per CPU s) | context |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model in args.models:
        before, cpu0 = load(), children_cpu()
        (seconds,) = run_jobs(fasta, model, 1, environment(), folder)
        cpu_s = children_cpu() - cpu0
        target = target_for(model)
        mark = "✔" if n / seconds >= target else "✘"
        print(f"| {model} | {seconds:.1f} | **{n / seconds:.1f}** | ≥ {target} {mark} | "
              f"{cpu_s:.0f} ({n / cpu_s:.1f}) | {before} → {load()} |", flush=True)  # fmt: skip


def part_concurrent(args: argparse.Namespace, folder: Path) -> None:
    fasta = folder / "concurrent.fasta"
    n = first_records(args.fasta, args.concurrent_limit, fasta)
    model = args.models[0]
    print(f"\n## Two jobs at once ({model}, {n} proteins each)")
    print("| CPU sharing | one job alone | two at once (each) | ratio | target | context |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, extra in (("locviz (per-core slots)", {}), ("off (old behaviour)", OLD_BEHAVIOUR)):
        env = environment(extra)
        before = load()
        (alone,) = run_jobs(fasta, model, 1, env, folder)
        pair = run_jobs(fasta, model, 2, env, folder)
        ratio = max(pair) / alone
        mark = "✔" if ratio <= 2.5 else "✘"
        print(f"| {label} | {alone:.1f} s ({n / alone:.0f}/s) | {pair[0]:.1f} s, {pair[1]:.1f} s | **{ratio:.2f}x** | "
              f"≤ 2.5x {mark} | {before} → {load()} |", flush=True)  # fmt: skip


def read_records(fasta: Path, limit: int):  # noqa: ANN201 - list of ProteinRecord
    from locviz.sequences import iter_record_texts, parse

    records = []
    with open(fasta) as handle:
        for _, text in iter_record_texts(handle):
            records.extend(parse(text).records)
            if len(records) >= limit:
                break
    return records


def part_int8(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from locviz import batching
    from locviz.encoding import tokenize
    from locviz.weights import load_bundle

    warnings.filterwarnings("ignore")  # torch.ao.quantization's deprecation notices
    print(f"\n## int8 dynamic quantisation (LSTM + Linear) against float, first {args.quant_limit} proteins")
    print("| model | label agreement | max probability difference | CPU s float | CPU s int8 | context |")
    print("| --- | --- | --- | --- | --- | --- |")
    records = read_records(args.fasta, args.quant_limit)
    for model_name in args.models:
        bundle = load_bundle(model_name, device="cpu")
        tokens = [tokenize(bundle.length_policy.crop(r.sequence)[0]) for r in records]
        quantised = torch.ao.quantization.quantize_dynamic(bundle.model, {torch.nn.LSTM, torch.nn.Linear},
                                                           dtype=torch.qint8)  # fmt: skip
        out, cpu_s = {}, {}
        before = load()
        for name, model in (("float", bundle.model), ("int8", quantised)):
            t = time.process_time()
            out[name] = batching.probabilities(model, tokens, torch.device("cpu"))
            cpu_s[name] = time.process_time() - t
        agree = float((out["float"].argmax(1) == out["int8"].argmax(1)).mean())
        diff = float(np.abs(out["float"] - out["int8"]).max())
        print(f"| {model_name} | {agree:.4f} | {diff:.4f} | {cpu_s['float']:.1f} | {cpu_s['int8']:.1f} | "
              f"{before} → {load()} |", flush=True)  # fmt: skip


API_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import locviz
predictor = locviz.load_model(sys.argv[2])
parsed = locviz.parse(open(sys.argv[1]).read())
for p in predictor.predict(parsed.records, with_filters=sys.argv[3] == "1"):
    pass
print(time.perf_counter() - t0)
"""


def part_api(args: argparse.Namespace, folder: Path) -> None:
    fasta = folder / "api.fasta"
    n = first_records(args.fasta, 200, fasta)
    model = args.models[0]
    print(f"\n## Python API (README example) against the command, {n} proteins, {model}, start-up included")
    print("| how | seconds | context |\n| --- | --- | --- |")
    for label, flag, extra in (
        ("API, with_filters=True (README)", "1", {}),
        ("API, with_filters=False", "0", {}),
        ("API, with_filters=True, old behaviour (spinning OpenMP threads)", "1", OLD_BEHAVIOUR),
    ):
        before = load()
        out = subprocess.run([sys.executable, "-c", API_SCRIPT, str(fasta), model, flag], env=environment(extra),
                             capture_output=True, text=True, check=True)  # fmt: skip
        print(f"| {label} | {float(out.stdout.strip()):.1f} | {before} → {load()} |", flush=True)
    before = load()
    (seconds,) = run_jobs(fasta, model, 1, environment(), folder)
    print(f"| locviz predict | {seconds:.1f} | {before} → {load()} |", flush=True)


def one_member(spec: str, folder: Path) -> str:
    """``NAME@K`` → the card path of member K of NAME written alone as a bundle (what one full-size network costs)."""
    name, k = spec.rsplit("@", 1)
    bundle = load_bundle(name, device="cpu")
    if not k.isdigit() or int(k) >= len(bundle.model.members):
        raise SystemExit(f"--models {spec}: {name} has members 0-{len(bundle.model.members) - 1}; write NAME@K")
    training = (bundle.card.training[int(k)],) if bundle.card.training else ()
    card = bundle.card.replace(training=training, metrics={}, calibration=None, reference=None, motifs=None)
    member = Ensemble([bundle.model.members[int(k)]], 0)
    return str(save_bundle(folder / f"{Path(name).stem}-member{k}", member, card))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fasta", type=Path, default=DEFAULT_FASTA)
    parser.add_argument("--models", nargs="+", default=["multiloc", "deeploc"],
                        help="shipped names or card paths; NAME@K is member K of NAME alone (one full-size network)")
    parser.add_argument("--limit", type=int, help="proteins for the command part (default: the whole file)")
    parser.add_argument("--concurrent-limit", type=int, default=1000)
    parser.add_argument("--quant-limit", type=int, default=2000)
    parser.add_argument("--skip", nargs="*", default=[], choices=PARTS)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores; {load()} before start; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        args.models = [one_member(m, folder) if "@" in m else m for m in args.models]
        if "command" not in args.skip:
            part_command(args, folder)
        if "concurrent" not in args.skip:
            part_concurrent(args, folder)
        if "api" not in args.skip:
            part_api(args, folder)
        if "int8" not in args.skip:
            part_int8(args)


if __name__ == "__main__":
    main()
