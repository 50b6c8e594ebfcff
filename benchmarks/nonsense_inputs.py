"""How often sequences that cannot be proteins get a confident verdict, beside real proteins (cross-validation).

Three kinds of input, each the length of a real protein of DeepLoc's calibration fold 7 (no shipped model trained
on it; 50-1,000 residues): the real proteins, the same proteins shuffled (composition kept, order gone) and
uniformly random letters. Printed: the share with any out-of-distribution sign and with the even-composition one
(`locviz.calibration.ood_checks`), and, per model, the support levels and median confidence.

    python benchmarks/nonsense_inputs.py --data ../shared/data/deeploc --models deeploc multiloc

Read it as: what the support verdict can and cannot tell. Uniform random strings of >= 200 residues are flagged
by their even composition; shuffled proteins keep a protein's composition, and no cheap sequence statistic tried
(composition, residue-pair Markov likelihoods, the model's own feature-space distance) separates them.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz.calibration import EVEN_MIN_RESIDUES, ood_checks  # noqa: E402
from locviz.datasets import load_dataset  # noqa: E402
from locviz.predict import load_model  # noqa: E402
from locviz.sequences import STANDARD_RESIDUES, ProteinRecord  # noqa: E402

CALIBRATION_FOLD = 7


def inputs(data: str, n: int, seed: int) -> dict[str, list[str]]:
    """Real fold-7 proteins, their shuffles and random letters of the same lengths."""
    dataset = load_dataset("deeploc", data)
    rng = np.random.default_rng(seed)
    pool = [dataset.records[i].sequence for i in dataset.subset([CALIBRATION_FOLD])]
    pool = [s for s in pool if 50 <= len(s) <= 1000]
    real = [pool[i] for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]
    return {
        "real": real,
        "shuffled": ["".join(rng.permutation(list(s))) for s in real],
        "random letters": ["".join(rng.choice(list(STANDARD_RESIDUES), len(s))) for s in real],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the DeepLoc folder (train.fasta, folds.tsv)")
    parser.add_argument("--models", nargs="*", default=["deeploc", "multiloc"], help="none: the sequence checks only")
    parser.add_argument("--n", type=int, default=200, help="proteins per kind of input")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sets = inputs(args.data, args.n, args.seed)
    print(f"{args.n} inputs of each kind, lengths of fold-{CALIBRATION_FOLD} proteins (50-1,000 residues)")
    for kind, sequences in sets.items():
        signs = [ood_checks(s) for s in sequences]
        even = [any(x.kind == "even_composition" for x in s) for s in signs]
        long = [flag for flag, q in zip(even, sequences, strict=True) if len(q) >= EVEN_MIN_RESIDUES]
        print(f"  {kind:<15} any sign {sum(map(bool, signs))} of {len(signs)} · even composition {sum(even)} "
              f"(of the {len(long)} with >= {EVEN_MIN_RESIDUES} residues: {sum(long)})")
    for name in args.models:
        predictor = load_model(name, device="cpu")
        print(f"{name}: support levels (low / medium / high) and median confidence")
        for kind, sequences in sets.items():
            records = [ProteinRecord(f"{kind[0]}{i}", s) for i, s in enumerate(sequences)]
            predictions = predictor.predict(records)
            levels = Counter(p.extra["support"] for p in predictions)
            median = float(np.median([p.confidence for p in predictions]))
            counts = " / ".join(str(levels[level]) for level in ("low", "medium", "high"))
            print(f"  {kind:<15} {counts} of {len(predictions)}   median confidence {median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
