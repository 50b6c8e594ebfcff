"""How many filter logos are led by low-complexity windows, before and after masking.

Computes the shipped model's logos twice from the same training folds (the card's
``locviz motifs`` reference: MultiLoc folds 1-4, DeepLoc folds 0-7; never a test
fold), once without and once with the SEG-like low-complexity mask, and prints:

* filters (width >= 3) whose strongest window (the one that leads the logo) lies in a
  low-complexity segment (after masking this is 0 by construction);
* repeat logos: width >= 3 and one residue is the consensus in >= 60 % of columns (EEEEEEE...);
* acidic logos: width >= 3 and >= 60 % of consensus columns are E or D;
* the same counts among the first 20 filters of the information sort (the old default)
  and of the class-association sort (the new default);
* filters flagged composition-only and filters with a known-motif match.

    python benchmarks/motif_masking.py --model multiloc --data ../shared/data/multiloc --folds 1 2 3 4
    python benchmarks/motif_masking.py --model deeploc --data ../shared/data/deeploc --folds 0 1 2 3 4 5 6 7
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from locviz.datasets import TEST_FOLD, load_dataset  # noqa: E402
from locviz.motifs import FilterMotif, MotifSet, compute, low_complexity_mask  # noqa: E402
from locviz.weights import load_bundle  # noqa: E402

TOP = 20


def repeat_logo(m: FilterMotif) -> bool:
    return m.width >= 3 and Counter(m.consensus).most_common(1)[0][1] / m.width >= 0.6


def acidic_logo(m: FilterMotif) -> bool:
    return m.width >= 3 and sum(c in "ED" for c in m.consensus) / m.width >= 0.6


def led_by_low_complexity(m: FilterMotif, contexts: dict[str, np.ndarray]) -> bool:
    """Width >= 3: the logo's first (strongest) window lies more than half in a low-complexity segment wherever
    it occurs in the reference proteins (a single letter occurs everywhere, so width 1 is not judged)."""
    if not m.top_windows or m.width < 3:
        return False
    window, places = m.top_windows[0], 0
    for sequence, mask in contexts.items():
        start = sequence.find(window)
        while start >= 0:
            if mask[start : start + len(window)].sum() <= len(window) / 2:
                return False
            places += 1
            start = sequence.find(window, start + 1)
    return places > 0


def counts(motif_set: MotifSet, contexts: dict[str, np.ndarray]) -> dict[str, int]:
    motifs = motif_set.motifs
    by_ic = sorted(motifs, key=lambda m: -m.information_content)[:TOP]
    by_assoc = sorted(motifs, key=lambda m: -(m.strongest_association or ("", -np.inf))[1])[:TOP]
    return {
        "strongest window low-complexity (width >= 3)": sum(led_by_low_complexity(m, contexts) for m in motifs),
        "repeat logos (one residue >= 60 % of columns)": sum(map(repeat_logo, motifs)),
        "acidic logos (E/D >= 60 % of columns)": sum(map(acidic_logo, motifs)),
        f"  among top {TOP} by information: repeat": sum(map(repeat_logo, by_ic)),
        f"  among top {TOP} by information: acidic": sum(map(acidic_logo, by_ic)),
        f"  among top {TOP} by class association: repeat": sum(map(repeat_logo, by_assoc)),
        f"  among top {TOP} by class association: acidic": sum(map(acidic_logo, by_assoc)),
        "flagged composition-only": sum(m.composition_only for m in motifs),
        "with a known-motif match": sum(m.best_match is not None for m in motifs),
        "top-IC logo (bits)": round(max(m.information_content for m in motifs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="multiloc")
    parser.add_argument("--dataset", help="default: the model name")
    parser.add_argument("--data", required=True)
    parser.add_argument("--folds", type=int, nargs="+", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = args.dataset or args.model
    if TEST_FOLD.get(dataset) in args.folds:
        parser.error(f"fold {TEST_FOLD[dataset]} is {dataset}'s test fold")
    bundle = load_bundle(args.model, device="cpu")
    data = load_dataset(dataset, args.data)
    idx = data.subset(args.folds)
    records = [data.records[i] for i in idx]
    cropped = [bundle.length_policy.crop(r.sequence)[0] for r in records]
    contexts = {seq: low_complexity_mask(seq) for seq in cropped}
    results = {}
    for masked in (False, True):
        start = time.perf_counter()
        motif_set = compute(bundle, records, labels=data.labels[idx], classes=data.classes,
                            mask_low_complexity=masked)  # fmt: skip
        results[masked] = counts(motif_set, contexts)
        print(f"{'masked' if masked else 'unmasked'}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    n_filters = bundle.config.n_filters
    print(f"{args.model}: {len(records)} proteins of {dataset} folds {' '.join(map(str, args.folds))}, "
          f"{n_filters} filters of member {bundle.model.motif_member}")  # fmt: skip
    print(f"| {'measure':<48} | before (unmasked) | after (masked) |")
    print(f"| {'-' * 48} | ---: | ---: |")
    for key in results[False]:
        print(f"| {key:<48} | {results[False][key]} | {results[True][key]} |")


if __name__ == "__main__":
    main()
