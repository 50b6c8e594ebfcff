"""Per-class recall and precision in cross-validation, read from the shipped cards (no model is run).

Each member's confusion matrix on the fold it was validated on (the card's ``training[k].validation``), added up:
the same figures the support verdict's notes quote. A headline accuracy hides compartments the model rarely
recognises; this prints them, weakest recall first, with where their proteins were called instead.

    python benchmarks/class_recall.py --models multiloc deeploc
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz.calibration import cv_confusion  # noqa: E402
from locviz.weights import read_card  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["multiloc", "deeploc"])
    args = parser.parse_args(argv)
    for name in args.models:
        _, card = read_card(name)
        total = cv_confusion(card)
        if total is None:
            print(f"{name}: the card records no cross-validated confusion matrix")
            continue
        classes = list(card.classes)
        print(f"{name}: {int(total.sum()):,} proteins, each scored by the member that never trained on its fold")
        print(f"  {'class':<24}{'proteins':>9}{'recall':>8}{'precision':>10}  most often called instead")
        recall = np.diag(total) / np.maximum(total.sum(axis=1), 1)
        for i in np.argsort(recall, kind="stable"):
            row, called = total[i], total[:, i].sum()
            precision = total[i, i] / called if called else float("nan")
            instead = [(classes[j], int(row[j])) for j in np.argsort(-row, kind="stable") if j != i and row[j]][:2]
            where = ", ".join(f"{c} {n}" for c, n in instead)
            print(f"  {classes[i]:<24}{int(row.sum()):>9,}{recall[i]:>8.2f}{precision:>10.2f}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
