"""How the support verdict's cut-offs read an ensemble, out of sample: the calibration fold's blind members.

The cut-offs of "high" / "low" are chosen on single members' out-of-fold calls (``locviz calibrate``), while the
verdict reads the shipped ensemble's confidence. On the calibration fold (DeepLoc fold 7) the members that never
trained on it form an ensemble nothing was chosen on: this prints, per support level of the confidence alone, how
many of its calls fall there and how often they are right, beside one of those members alone at its temperature.
The ensemble temperature was fitted on this fold (one number), the cut-offs were not.

    python benchmarks/support_on_calibration_fold.py --model deeploc --data ../shared/data/deeploc --fold 7
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import calibration  # noqa: E402
from locviz.datasets import load_dataset  # noqa: E402
from locviz.weights import load_bundle  # noqa: E402


def by_level(confidence: np.ndarray, right: np.ndarray, thresholds: calibration.SupportThresholds) -> str:
    cells = []
    for level in ("high", "medium", "low"):
        rows = np.array([thresholds.level(float(c)) == level for c in confidence])
        share = f"{right[rows].mean():.3f}" if rows.any() else "-"
        cells.append(f"{level} {share} (n {int(rows.sum()):,})")
    return " | ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="deeploc")
    parser.add_argument("--dataset", default="deeploc")
    parser.add_argument("--data", required=True, help="the data set's folder, e.g. ../shared/data/deeploc")
    parser.add_argument("--fold", type=int, default=7, help="the calibration fold (never the test fold)")
    args = parser.parse_args(argv)
    bundle = load_bundle(args.model, device="cpu")
    data = load_dataset(args.dataset, args.data)
    fold = calibration.ensemble_fold(bundle, data, args.fold)
    full = calibration.calibrator_of(bundle.card)
    thresholds = calibration.thresholds_of(bundle.card)
    temps = tuple(full.member_temperature(k) for k in fold.members)
    ensemble = calibration.Calibrator(temps, full.temperature).ensemble(fold.member_probabilities)
    print(f"{args.model}, fold {args.fold} ({len(fold.labels):,} proteins), members {list(fold.members)} (never "
          f"trained on it); cut-offs high >= {thresholds.high:.2f}, low < {thresholds.low:.2f}")  # fmt: skip
    right = ensemble.argmax(1) == fold.labels
    print(f"  ensemble of members {list(fold.members)}: accuracy {right.mean():.4f}; "
          f"{by_level(ensemble.max(1), right, thresholds)}")  # fmt: skip
    for i, k in enumerate(fold.members):
        alone = full.single(fold.member_probabilities[i], k)
        right = alone.argmax(1) == fold.labels
        print(f"  member {k} alone: accuracy {right.mean():.4f}; {by_level(alone.max(1), right, thresholds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
