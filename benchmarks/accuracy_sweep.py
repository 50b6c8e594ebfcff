"""Train model variants in parallel and print their validation accuracy as a table.

The levers table in ``benchmarks/README.md`` comes from this script. Each
variant is one ``locviz train`` run validated on a non-test fold (MultiLoc's
fold 0 is never touched here). Run on a GPU machine or, slowly, on CPU:

    python benchmarks/accuracy_sweep.py --data-root ../shared/data --out runs/sweep --jobs 10 --time-budget 480
    python benchmarks/accuracy_sweep.py --out runs/sweep --table-only
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from locviz.weights import read_card

BASE = ["--encoding", "onehot+blosum62", "--lstm-hidden", "256", "--conv2-channels", "128"]

VARIANTS: dict[str, tuple[str, int, list[str]]] = {
    # name: (dataset, validation fold, extra arguments)
    "ml_base": ("multiloc", 1, BASE),
    "ml_onehot": ("multiloc", 1, ["--encoding", "onehot", "--lstm-hidden", "256", "--conv2-channels", "128"]),
    "ml_h128": ("multiloc", 1, ["--encoding", "onehot+blosum62", "--lstm-hidden", "128", "--conv2-channels", "128"]),
    "ml_noconv2": ("multiloc", 1, ["--encoding", "onehot+blosum62", "--lstm-hidden", "256", "--conv2-channels", "0"]),
    "ml_drop03": ("multiloc", 1, BASE + ["--hidden-dropout", "0.3", "--input-dropout", "0.1"]),
    "ml_lr1e-3": ("multiloc", 1, BASE + ["--lr", "1e-3"]),
    "ml_f40": ("multiloc", 1, BASE + ["--filters-per-width", "40"]),
    "ml_len2000": ("multiloc", 1, BASE + ["--max-length", "2000"]),
    "dl_base": ("deeploc", 0, BASE),
    "dl_h128": ("deeploc", 0, ["--encoding", "onehot+blosum62", "--lstm-hidden", "128", "--conv2-channels", "128"]),
}


def run_variant(name: str, args: argparse.Namespace) -> int:
    dataset, fold, extra = VARIANTS[name]
    out = Path(args.out) / name
    cmd = [
        sys.executable, "-m", "locviz.cli", "train", "--dataset", dataset,
        "--data", str(Path(args.data_root) / dataset), "--val-fold", str(fold), "--out", str(out),
        "--epochs", str(args.epochs), "--device", args.device, "--no-progress", "--seed", "1",
    ] + extra
    if args.time_budget:
        cmd += ["--time-budget", str(args.time_budget)]
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "stdout.log", "w") as log:
        return subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)


def table(out_root: Path) -> str:
    rows = ["| variant | data set | val fold | epochs run | best epoch | val accuracy | val MCC | s/epoch |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, (dataset, fold, _extra) in VARIANTS.items():
        card = out_root / name / "member.json"
        if not card.is_file():
            rows.append(f"| {name} | {dataset} | {fold} | (no result) | | | | |")
            continue
        t = read_card(card)[1].training[0]
        per_epoch = (t.seconds or 0.0) / max(t.epochs_run or 0, 1)
        rows.append(
            f"| {name} | {dataset} | {fold} | {t.epochs_run} | {t.best_epoch} | "
            f"{t.validation['accuracy']:.4f} | {t.validation['gorodkin_mcc']:.4f} | {per_epoch:.1f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--out", default="runs/sweep")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--time-budget", type=float)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if not args.table_only:
        names = args.only or list(VARIANTS)
        with ThreadPoolExecutor(args.jobs) as pool:
            codes = list(pool.map(lambda n: run_variant(n, args), names))
        for name, code in zip(names, codes, strict=True):
            if code:
                print(f"{name}: exit {code}, see {Path(args.out) / name / 'stdout.log'}", file=sys.stderr)
    print(table(Path(args.out)))


if __name__ == "__main__":
    main()
