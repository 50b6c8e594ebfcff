"""How often sequences that cannot be proteins get a confident verdict, beside real proteins (cross-validation).

Three kinds of input, each the length of a real protein of DeepLoc's calibration fold 7 (no shipped model trained
on it; 50-1,000 residues): the real proteins, the same proteins shuffled (composition kept, order gone) and
uniformly random letters. Printed: the share with any out-of-distribution sign and with the random-letters one
(`locviz.calibration.ood_checks`; by length), and, per model, the support levels and median confidence.

    python benchmarks/nonsense_inputs.py --data ../shared/data/deeploc --models deeploc multiloc
    python benchmarks/nonsense_inputs.py --data ../shared/data/deeploc --models --fit   # re-fit the composition prior

Read it as: what the support verdict can and cannot tell. Random strings are flagged by the Bayes factor of equal
residue use against real proteins' compositions (`locviz.composition`), the more often the longer they are;
shuffled proteins keep a protein's composition, and no cheap sequence statistic tried (composition, residue-pair
Markov likelihoods, the model's own feature-space distance, how hydrophobic residues cluster along the chain)
separates them. `--fit` re-fits that prior on folds 0-6 and prints its constants and how many of those proteins
it flags.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import composition  # noqa: E402
from locviz.calibration import ood_checks  # noqa: E402
from locviz.datasets import load_dataset  # noqa: E402
from locviz.predict import load_model  # noqa: E402
from locviz.sequences import STANDARD_RESIDUES, ProteinRecord  # noqa: E402
from locviz.signals import KYTE_DOOLITTLE  # noqa: E402

CALIBRATION_FOLD = 7
LENGTHS = ((50, 100), (100, 150), (150, 200), (200, 1001))
CLUSTER_WINDOW, CLUSTER_SHUFFLES, CLUSTER_Z = 9, 40, 3.0


def hydrophobic_clustering_z(sequence: str, rng: np.random.Generator) -> float:
    """How much more hydrophobic residues cluster along the chain than in the sequence's own shuffles: the
    variance of 9-residue Kyte-Doolittle means, as a z-score against 40 shuffles (a statistic tried, not used)."""
    values = np.array([KYTE_DOOLITTLE.get(a, 0.0) for a in sequence])

    def spread(x: np.ndarray) -> float:
        return float(np.convolve(x, np.ones(CLUSTER_WINDOW) / CLUSTER_WINDOW, mode="valid").var())

    shuffled = np.array([spread(rng.permutation(values)) for _ in range(CLUSTER_SHUFFLES)])
    return (spread(values) - shuffled.mean()) / shuffled.std()


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


def fit_prior(data: str) -> None:
    """Print the prior ``locviz.composition`` ships, re-fitted on DeepLoc folds 0-6, and what it flags there."""
    dataset = load_dataset("deeploc", data)
    def counts_of(folds: list[int]) -> np.ndarray:
        return np.array([composition.residue_counts(dataset.records[i].sequence) for i in dataset.subset(folds)])

    def flagged(counts: np.ndarray) -> tuple[int, int]:
        judged = counts[counts.sum(axis=1) >= composition.MIN_RESIDUES]
        log_factor = composition.log_bayes_factor_random_letters(judged, mean, concentration)
        return int((log_factor > np.log(composition.RANDOM_LETTERS_BAYES_FACTOR)).sum()), len(judged)

    counts = counts_of([f for f in range(8) if f != CALIBRATION_FOLD])
    mean, concentration = composition.fit_prior(counts)
    print(f"PROTEIN_COMPOSITION ({composition.STANDARD_RESIDUES}): {np.round(mean, 4).tolist()}")
    print(f"CONCENTRATION {concentration:.1f}; TRAINING_FLAGGED {flagged(counts)} over a Bayes factor of "
          f"{composition.RANDOM_LETTERS_BAYES_FACTOR:.0f}, of {len(counts):,} proteins; fold {CALIBRATION_FOLD}: "
          f"{flagged(counts_of([CALIBRATION_FOLD]))}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the DeepLoc folder (train.fasta, folds.tsv)")
    parser.add_argument("--models", nargs="*", default=["deeploc", "multiloc"], help="none: the sequence checks only")
    parser.add_argument("--n", type=int, default=200, help="proteins per kind of input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit", action="store_true", help="re-fit the composition prior on folds 0-6 and print it")
    args = parser.parse_args(argv)
    if args.fit:
        fit_prior(args.data)
    sets = inputs(args.data, args.n, args.seed)
    print(f"{args.n} inputs of each kind, lengths of fold-{CALIBRATION_FOLD} proteins (50-1,000 residues)")
    for kind, sequences in sets.items():
        signs = [ood_checks(s) for s in sequences]
        letters = [any(x.kind == "even_composition" for x in s) for s in signs]
        pairs = list(zip(letters, sequences, strict=True))
        by_length = " · ".join(f"{lo}-{hi - 1}: {sum(f for f, q in pairs if lo <= len(q) < hi)} of "
                               f"{sum(lo <= len(q) < hi for _, q in pairs)}" for lo, hi in LENGTHS)  # fmt: skip
        print(f"  {kind:<15} any sign {sum(map(bool, signs))} of {len(signs)} · random-letters sign {sum(letters)} "
              f"({by_length} residues)")
    rng = np.random.default_rng(args.seed)
    for kind in ("real", "shuffled"):
        z = np.array([hydrophobic_clustering_z(s, rng) for s in sets[kind]])
        above = int((z > CLUSTER_Z).sum())
        print(f"  {kind:<15} hydrophobic clustering z > {CLUSTER_Z:.0f} (not a sign; tried): {above} of {len(z)}")
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
