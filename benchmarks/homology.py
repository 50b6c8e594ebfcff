"""Homology evidence: model alone, homology alone and the combined call; and how fast the search is.

    python benchmarks/homology.py --data ../shared/data            # the full measurement (~10 min on 2 cores)
    python benchmarks/homology.py --data ../shared/data --limit 200 --parts search predict   # quick

Accuracy (the shipped bundles, their reference sets and combination parameters from the cards):

* **cross-validation** (``multiloc``, ``deeploc``): each member predicts its own validation
  fold alone, searched against the reference with that fold removed; the combined call of
  fold k uses parameters fitted on the other folds (cross-fitted), so no protein is scored
  with parameters fitted on it;
* **MultiLoc fold 0** (test fold, reported once, not tuned on): the ensemble, the reference
  (folds 1-4, which never held fold 0) and the combination stored in the card (fitted on
  folds 1-4 out-of-fold calls).

"homology" is the best hit's location (E <= 1e-3), and the model's call where there is no hit.

Speed: one protein searched alone (warm: reference loaded, DIAMOND database built), a batch
search, and ``locviz predict`` with and without ``--neighbours`` as a program, start-up included.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from locviz import homology
from locviz.datasets import load_dataset
from locviz.homology import Reference
from locviz.predict import load_model
from locviz.weights import load_bundle

PARTS = ("cv", "test", "search", "predict")


def row(name: str, what: str, s: dict) -> str:
    hit = f"{s['with_hit']:.1%}"
    right = "–" if np.isnan(s["hit_location_right"]) else f"{s['hit_location_right']:.1%}"
    return (f"| {name} | {what} | {s['n']} | {hit} | {right} | {s['model']:.4f} | {s['homology']:.4f} | "
            f"{s['combined']:.4f} |")  # fmt: skip


def cv_rows(model: str, data_root: Path) -> str:
    bundle = load_bundle(model, device="cpu")
    data = load_dataset(bundle.card.dataset, data_root / bundle.card.dataset)
    reference = Reference.load(bundle)
    ev = homology.cross_validate(bundle, data, reference)
    _, scores = homology.cross_fitted_scores(ev)
    folds = ", ".join(str(int(f)) for f in np.unique(ev.folds))
    return row(model, f"CV: each member on its validation fold ({folds}), that fold out of the reference", scores)


def test_fold_row(data_root: Path, limit: int | None) -> str:
    predictor = load_model("multiloc", device="cpu")
    data = load_dataset("multiloc", data_root / "multiloc")
    idx = data.subset([0])[:limit]
    records = [data.records[i] for i in idx]
    reference = Reference.load(predictor.bundle)
    if reference.combination is None:
        raise SystemExit("the multiloc card has no fitted combination; run 'locviz reference --model multiloc ...'")
    assert not {e.fold for e in reference.entries} & {0}, "fold 0 must not be in the multiloc reference"
    preds = predictor.predict(records)
    probabilities = np.array([p.probabilities for p in preds])
    hit_class, identity = homology.best_hit_arrays(reference.search(records), predictor.classes)
    ev = homology.OutOfFoldEvidence(probabilities, data.labels[idx], np.zeros(len(idx)), hit_class, identity)
    return row("multiloc", "MultiLoc fold 0 (test fold, reported once; parameters from the card)",
               homology.scores(ev, reference.combination))  # fmt: skip


def speed(data_root: Path, limit: int | None) -> list[str]:
    data = load_dataset("multiloc", data_root / "multiloc")
    records = [data.records[i] for i in data.subset([0])[:limit]]
    lines = []
    for model in ("multiloc", "deeploc"):
        for sensitivity in ("mid-sensitive", "default"):
            t0 = time.perf_counter()
            reference = Reference.load(model, sensitivity=sensitivity)
            reference.search(records[:1])  # builds the DIAMOND database
            warm_up = time.perf_counter() - t0
            single = []
            for record in records[1:21]:
                t0 = time.perf_counter()
                reference.search([record])
                single.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            reference.search(records)
            batch = len(records) / (time.perf_counter() - t0)
            reference.close()
            one = f"{statistics.median(single):.2f} s (max {max(single):.2f})"
            lines.append(f"| {model} ({len(reference)} proteins) | {sensitivity} | {warm_up:.2f} s | {one} | "
                         f"{batch:.0f} proteins/s |")  # fmt: skip
    return lines


def _children_cpu() -> float:
    """CPU seconds (user + system) of finished child processes (the command and the DIAMOND it starts)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def predict_speed(data_root: Path, limit: int | None) -> list[str]:
    data = load_dataset("multiloc", data_root / "multiloc")
    records = [data.records[i] for i in data.subset([0])[:limit]]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "fold0.fasta"
        fasta.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in records))
        for model in ("multiloc", "deeploc"):
            for extra in ([], ["--neighbours"]):
                cmd = ["locviz", "predict", str(fasta), "--model", model, "--out", str(Path(tmp) / "out.tsv"),
                       "--no-progress", "--device", "cpu", *extra]  # fmt: skip
                t0, cpu0 = time.perf_counter(), _children_cpu()
                subprocess.run(cmd, check=True, capture_output=True)
                seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
                lines.append(f"| `locviz predict --model {model} {' '.join(extra)}` | {len(records)} | "
                             f"{seconds:.1f} s | {len(records) / seconds:.0f} proteins/s | {cpu:.1f} s | "
                             f"{len(records) / cpu:.0f} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data", help="folder holding multiloc/ and deeploc/")
    parser.add_argument("--limit", type=int, help="use only this many MultiLoc fold-0 proteins (quick look)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS,
                        help="what to measure (default all); 'test' is MultiLoc fold 0: report it once")
    args = parser.parse_args()
    data_root = Path(args.data)
    load = os.getloadavg()[0]
    print(f"# homology evidence: {os.cpu_count()} CPUs, load average {load:.1f} at start, "
          f"DIAMOND at {homology.diamond_program()}\n")
    if {"cv", "test"} & set(args.parts):
        print("| model | evaluated on | proteins | with a hit (E <= 1e-3) | hit location right | model alone | "
              "homology (model where no hit) | combined |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    if "cv" in args.parts:
        for model in ("multiloc", "deeploc"):
            print(cv_rows(model, data_root), flush=True)
    if "test" in args.parts:
        print(test_fold_row(data_root, args.limit), flush=True)
    if "search" in args.parts:
        search_table(data_root, args.limit)
    if "predict" in args.parts:
        print("\n| command (MultiLoc fold-0 proteins, start-up included) | proteins | wall time | throughput | "
              "CPU time | proteins per CPU-second |")
        print("| --- | --- | --- | --- | --- | --- |")
        for line in predict_speed(data_root, args.limit):
            print(line, flush=True)


def search_table(data_root: Path, limit: int | None) -> None:
    print("\n| reference | DIAMOND mode | load + database build | one protein (median of 20, warm) | batch search "
          f"({len(load_dataset('multiloc', data_root / 'multiloc').subset([0])[:limit])} proteins) |")
    print("| --- | --- | --- | --- | --- |")
    for line in speed(data_root, limit):
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
