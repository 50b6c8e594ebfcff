"""Does the model look at the known sorting signals? Attention, occlusion and gradients against annotations.

For each member of the deeploc ensemble, the proteins of the fold it was validated on (the card's
``training[i].validation_fold``; it never trained on them), run by that member alone. Annotations come from
``../shared/data/signals/deeploc_train_signals.tsv`` (SignalP 6.0 signal peptides; C-terminal PTS1
``[SAC][KRH]L``; C-terminal ER retention ``[KHR]DEL``). Per protein and method, on the residues the
model saw, with a non-negative importance per residue (attention as is; occlusion: the drop in P(call)
when a 9-residue window holding the residue is replaced by X, clipped at 0; gradient × input: its
absolute value):

* share: the importance inside the signal over all importance;
* enrichment: share / (signal length / residues seen) — 1 is what uniform attention gets;
* AUROC: residues inside vs outside the signal ranked by importance (ties averaged);
* peak ±5: the most important residue lies within 5 residues of the signal (ties share the credit).

Two baselines need no model: uniform, and a prior favouring both termini, exp(-d / 25) with d the
distance to the nearer end (signals sit at the ends, so beating this prior is the real test).
Then the deletion check of issue 7: delete the annotated signal (``del1-20`` style) and see whether
the call leaves Extracellular (signal peptides of extracellular proteins) and how much P(Peroxisome) /
P(Endoplasmic.reticulum) falls (PTS1 / ER retention). ``--rules-only`` prints, instead, how often each rule
of :mod:`locviz.signals` fires per DeepLoc class (all 11,085 training proteins).

    python benchmarks/attention_signals.py --data ../shared/data/signals/deeploc_train_signals.tsv
        # attention, baselines and deletions on every validation-fold protein; occlusion and gradient x input
        # on the first --attribution-limit (5) per member and signal type: a few minutes on 2 CPU cores
    python benchmarks/attention_signals.py --data ... --limit 20 --methods attention   # quick look
"""

from __future__ import annotations

import argparse
import collections
import csv
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import signals as rules  # noqa: E402
from locviz import whatif  # noqa: E402
from locviz.datasets import load_dataset  # noqa: E402
from locviz.model import Ensemble  # noqa: E402
from locviz.predict import Predictor  # noqa: E402
from locviz.sequences import ProteinRecord  # noqa: E402
from locviz.train import DELETION_DROP  # noqa: E402
from locviz.weights import load_bundle  # noqa: E402

SIGNALS = ("signal_peptide", "pts1", "er_retention")
TARGET_CLASS = {"signal_peptide": "Extracellular", "pts1": "Peroxisome", "er_retention": "Endoplasmic.reticulum"}
METHODS = ("attention", "occlusion", "gradxinput", "integrated_gradients")
BASELINES = ("uniform", "ends prior")
ENDS_SCALE = 25.0
PEAK_MARGIN = 5


@dataclass
class Annotated:
    accession: str
    location: str
    fold: int
    signal: str
    start: int  # 1-based inclusive
    end: int


SHORT = 120
CYS_RICH = 0.08


def read_signals(path: Path) -> list[Annotated]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Annotated(r["accession"], r["location"], int(r["fold"]), r["signal"], int(r["start"]), int(r["end"]))
        for r in rows
        if r["signal"] in SIGNALS
    ]


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Mann-Whitney AUROC with tied scores sharing their average rank."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0  # average of 1-based ranks a+1..b
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def protein_metrics(importance: np.ndarray, seen: np.ndarray, start: int, end: int) -> dict[str, float]:
    """share, enrichment, AUROC, peak ±5 of one non-negative track (full length, NaN where unseen)."""
    idx = np.flatnonzero(seen)
    values = np.clip(np.nan_to_num(importance[idx], nan=0.0), 0.0, None)
    inside = (idx >= start - 1) & (idx <= end - 1)
    total = values.sum()
    share = float(values[inside].sum() / total) if total > 0 else float(inside.mean())
    near = (idx >= start - 1 - PEAK_MARGIN) & (idx <= end - 1 + PEAK_MARGIN)
    peaks = values == values.max()
    return {
        "share": share,
        "enrichment": share / float(inside.mean()),
        "auroc": auroc(values, inside),
        "peak": float((peaks & near).sum() / peaks.sum()),
    }


def baseline_tracks(length: int, seen: np.ndarray) -> dict[str, np.ndarray]:
    pos = np.arange(length)
    distance = np.minimum(pos, length - 1 - pos)
    ends = np.exp(-distance / ENDS_SCALE)
    return {"uniform": np.where(seen, 1.0, np.nan), "ends prior": np.where(seen, ends, np.nan)}


def member_predictors(model: str, device: str, chosen: list[int] | None = None) -> list[tuple[int, Predictor]]:
    """(validation fold, a Predictor of that member alone, uncalibrated) for every member, or the ``chosen`` ones."""
    bundle = load_bundle(model, device=device)
    folds = [t.validation_fold for t in bundle.card.training]
    if len(folds) != len(bundle.model.members):
        raise SystemExit(f"{bundle.card_path}: {len(folds)} training entries for {len(bundle.model.members)} members")
    return [
        (fold, Predictor(replace(bundle, model=Ensemble([member])), calibrated=False))
        for k, (fold, member) in enumerate(zip(folds, bundle.model.members, strict=True))
        if chosen is None or k in chosen
    ]


def tracks_for(predictor: Predictor, record: ProteinRecord, methods: list[str], stride: int) -> tuple:
    wild = predictor.predict([record])[0]
    tracks: dict[str, np.ndarray] = {}
    for method in methods:
        if method == "attention":
            tracks[method] = wild.attention
        elif method == "occlusion":
            tracks[method] = whatif.occlusion_scan(predictor, record, stride=stride, wild=wild).scores
        else:
            tracks[method] = np.abs(whatif.gradient_attribution(predictor, record, method, wild=wild).scores)
    tracks.update(baseline_tracks(len(record), wild.seen))
    return wild, tracks


def deletion_effect(predictor: Predictor, record: ProteinRecord, ann: Annotated, wild) -> dict[str, float]:
    """The call and P(target class) after deleting the annotated signal."""
    mutant = whatif.apply_variants(record, [whatif.Variant("del", ann.start, ann.end)])
    after = predictor.predict([mutant])[0]
    c = predictor.classes.index(TARGET_CLASS[ann.signal])
    return {
        "before": wild.label,
        "after": after.label,
        "drop": float(wild.probabilities[c] - after.probabilities[c]),
        "p_before": float(wild.probabilities[c]),
    }


def summarise(per_protein: dict, deletions: dict, methods: list[str], counts: dict) -> None:
    print("\n| signal | proteins | method | share in signal (median) | enrichment (median) | AUROC (median) "
          "| AUROC (mean) | peak within ±5 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for signal in SIGNALS:
        order = ["attention", *BASELINES, "attention (subset)", *(f"{b} (subset)" for b in BASELINES)]
        for method in [*order, *(m for m in methods if m != "attention")]:
            rows = per_protein[signal].get(method, [])
            if not rows:
                continue
            keys = ("share", "enrichment", "auroc", "peak")
            share, enrichment, aur, peak = (np.array([r[k] for r in rows]) for k in keys)
            print(
                f"| {signal} | {len(rows)} | {method} | {np.median(share):.3f} | {np.median(enrichment):.1f} "
                f"| {np.nanmedian(aur):.2f} | {np.nanmean(aur):.2f} | {np.mean(peak):.2f} |"
            )
    print("\nDeleting the annotated signal (each member on its validation fold):\n")
    print("| signal | proteins | check | result |")
    print("| --- | --- | --- | --- |")
    for signal in SIGNALS:
        rows = deletions[signal]
        if not rows:
            continue
        target = TARGET_CLASS[signal]
        labelled = [r for r in rows if r["location"] == target]
        if signal == "signal_peptide":
            moved = [r for r in labelled if r["after"] != target]
            called = [r for r in labelled if r["before"] == target]
            moved_called = [r for r in called if r["after"] != target]
            print(f"| {signal} | {len(labelled)} {target} | call leaves {target} after deletion | "
                  f"{len(moved)}/{len(labelled)} = {len(moved) / max(len(labelled), 1):.0%} "
                  f"({len(moved_called)}/{len(called)} of those called {target} before) |")
        else:
            drops = np.array([r["drop"] for r in labelled])
            falls = drops > DELETION_DROP
            print(f"| {signal} | {len(labelled)} {target} | P({target}) falls by > {DELETION_DROP} | "
                  f"{falls.sum()}/{len(drops)} = {falls.mean():.0%} (median drop {np.median(drops):+.3f}; median "
                  f"P({target}) before {np.median([r['p_before'] for r in labelled]):.2f}) |")
    sp = [r for r in deletions["signal_peptide"] if r["location"] == TARGET_CLASS["signal_peptide"]]
    if sp:
        print(f"\nSignal peptides per validation fold (what the mature domain alone may say: short = under {SHORT} "
              f"residues, cysteine-rich = over {CYS_RICH:.0%} C, as small secreted toxins are):\n")
        print("| fold | extracellular proteins | call leaves Extracellular | short | cysteine-rich |")
        print("| --- | --- | --- | --- | --- |")
        for fold in sorted({r["fold"] for r in sp}):
            rows = [r for r in sp if r["fold"] == fold]
            moved = sum(r["after"] != TARGET_CLASS["signal_peptide"] for r in rows)
            print(f"| {fold} | {len(rows)} | {moved}/{len(rows)} = {moved / len(rows):.0%} | "
                  f"{np.mean([r['short'] for r in rows]):.0%} | {np.mean([r['cys_rich'] for r in rows]):.0%} |")
    print(f"\nproteins per member (validation fold): {dict(counts)}")


def rules_table(deeploc: Path) -> None:
    data = load_dataset("deeploc", deeploc)
    fired: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    n: collections.Counter = collections.Counter()
    for record, label in zip(data.records, data.labels, strict=True):
        cls = data.classes[label]
        n[cls] += 1
        for kind in {s.kind for s in rules.find_signals(record.sequence)}:
            fired[cls][kind] += 1
    print("| class | proteins | " + " | ".join(rules.KINDS) + " |")
    print("| --- | --- |" + " --- |" * len(rules.KINDS))
    for cls in data.classes:
        cells = " | ".join(f"{fired[cls][k] / n[cls]:.0%}" for k in rules.KINDS)
        print(f"| {cls} | {n[cls]} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/signals/deeploc_train_signals.tsv")
    parser.add_argument("--deeploc", type=Path, help="DeepLoc folder (default: ../deeploc beside the signals folder)")
    parser.add_argument("--model", default="deeploc")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--limit", type=int, help="at most this many proteins per member and signal type")
    parser.add_argument("--attribution-limit", type=int, default=5,
                        help="occlusion and gradients on at most this many of them (slow on CPU; default 5)")
    parser.add_argument("--methods", default="attention,occlusion,gradxinput", help=f"comma list of {METHODS}")
    parser.add_argument("--stride", type=int, default=whatif.OCCLUSION_STRIDE, help="occlusion stride")
    parser.add_argument("--rules-only", action="store_true", help="print how often each signal rule fires per class")
    parser.add_argument("--members", type=int, nargs="+", help="only these members (e.g. the ones fine-tuned so far)")
    args = parser.parse_args()
    deeploc = args.deeploc or args.data.parent.parent / "deeploc"
    if args.rules_only:
        rules_table(deeploc)
        return
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    annotations = read_signals(args.data)
    data = load_dataset("deeploc", deeploc)
    records = {r.id: r for r in data.records}
    per_protein = {s: collections.defaultdict(list) for s in SIGNALS}
    deletions: dict[str, list] = {s: [] for s in SIGNALS}
    counts: collections.Counter = collections.Counter()
    t0 = time.perf_counter()
    print(f"{args.model}: each member alone on its validation fold; methods {methods}; occlusion window "
          f"{whatif.OCCLUSION_WINDOW}, stride {args.stride}; torch threads {torch.get_num_threads()}", flush=True)
    for fold, predictor in member_predictors(args.model, args.device, args.members):
        taken: collections.Counter = collections.Counter()
        for ann in annotations:
            if ann.fold != fold or (args.limit and taken[ann.signal] >= args.limit):
                continue
            taken[ann.signal] += 1
            counts[f"fold {fold}"] += 1
            record = records[ann.accession]
            slow = taken[ann.signal] <= args.attribution_limit
            chosen = [m for m in methods if m == "attention" or slow]
            wild, tracks = tracks_for(predictor, record, chosen, args.stride)
            for method, track in tracks.items():
                per_protein[ann.signal][method].append(protein_metrics(track, wild.seen, ann.start, ann.end))
                if slow and method in ("attention", *BASELINES) and len(chosen) > 1:  # same proteins as the slow ones
                    metrics = protein_metrics(track, wild.seen, ann.start, ann.end)
                    per_protein[ann.signal][f"{method} (subset)"].append(metrics)
            composition = {"fold": fold, "short": len(record) < SHORT, "cys_rich": record.sequence.count("C") /
                           len(record) > CYS_RICH}  # fmt: skip
            deletions[ann.signal].append({"location": ann.location, **composition,
                                          **deletion_effect(predictor, record, ann, wild)})  # fmt: skip
        print(f"  member validated on fold {fold}: {dict(taken)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    summarise(per_protein, deletions, methods, counts)
    print(f"\n{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
