"""Post-hoc corrections of the shipped members' outputs, cross-validated: are any worth shipping?

Each member predicts its own validation fold (out of fold, as ``locviz calibrate`` does). Every
correction is fitted on the other folds' rows and applied to the held-out fold (leave one fold out),
so every figure is cross-validation; no test fold is read. Rows:

* ``raw``: the members as they are;
* ``temperature``: one temperature for all members (Guo et al. 2017), fitted by NLL, or (``top label``) so that
  the top class's probability best forecasts whether the call is right (what ECE reads; what ships:
  ``locviz.calibration.TEMPERATURE_OBJECTIVE``);
* ``class bias``: one additive bias per class on the log-probabilities, fitted by NLL, and the same
  with a temperature (bias-corrected temperature scaling, Alexandari et al. 2020);
* ``logit adjustment τ``: subtract τ·log(class prior) (Menon et al. 2021), the prior counted on the fitting
  folds' rows, which trades the common classes for the rare ones.

    python benchmarks/posthoc_adjustment.py --model deeploc --data ../shared/data/deeploc
    python benchmarks/posthoc_adjustment.py --model multiloc --data ../shared/data/multiloc
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz.calibration import (  # noqa: E402
    expected_calibration_error,
    fit_temperature,
    log_probabilities,
    nll,
    out_of_fold,
    softmax,
)
from locviz.datasets import load_dataset  # noqa: E402
from locviz.metrics import confusion_matrix, gorodkin_mcc, per_class_mcc  # noqa: E402
from locviz.weights import load_bundle  # noqa: E402

RARE = {"deeploc": ("Lysosome/Vacuole", "Peroxisome"), "multiloc": ("lysosomal", "peroxisomal", "vacuolar")}
Correction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (fit logp, fit labels, apply logp) → probs


def nll_fit(n_params: int, transform: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Correction:
    """A correction whose parameters minimise the NLL of the fitting rows (L-BFGS from the identity)."""
    from scipy.optimize import minimize

    def correct(logp: np.ndarray, labels: np.ndarray, target: np.ndarray) -> np.ndarray:
        params = minimize(lambda x: nll(transform(logp, x), labels), np.zeros(n_params), method="L-BFGS-B").x
        return softmax(transform(target, params))

    return correct


def with_bias(logp: np.ndarray, params: np.ndarray) -> np.ndarray:
    return logp + np.r_[0.0, params]  # class 0's bias fixed at 0: only differences matter


def corrections(n_classes: int) -> dict[str, Correction]:
    def logit_adjustment(tau: float) -> Correction:
        def correct(logp: np.ndarray, labels: np.ndarray, target: np.ndarray) -> np.ndarray:
            prior = np.bincount(labels, minlength=n_classes) / len(labels)
            return softmax(target - tau * np.log(np.maximum(prior, 1e-12)))

        return correct

    return {
        "raw": lambda logp, labels, target: softmax(target),
        "temperature (NLL)": lambda logp, labels, target: softmax(target / fit_temperature(logp, labels, "nll")),
        "temperature (top label)": lambda logp, labels, target: softmax(
            target / fit_temperature(logp, labels, "top-label")
        ),
        "class bias": nll_fit(n_classes - 1, with_bias),
        "class bias + temperature (NLL)": nll_fit(n_classes, lambda z, x: with_bias(z / np.exp(x[0]), x[1:])),
        **{f"logit adjustment τ={tau:g}": logit_adjustment(tau) for tau in (0.25, 0.5, 1.0)},
    }


def leave_one_fold_out(correct: Correction, logp: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    out = np.zeros_like(logp)
    for fold in np.unique(folds):
        held = folds == fold
        out[held] = correct(logp[~held], labels[~held], logp[held])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="deeploc", choices=sorted(RARE))
    parser.add_argument("--data", required=True, help="the data set's folder (e.g. ../shared/data/deeploc)")
    args = parser.parse_args()
    bundle = load_bundle(args.model, device="cpu")
    oof = out_of_fold(bundle, load_dataset(args.model, args.data))
    logp, labels, classes = log_probabilities(oof.probabilities), oof.labels, bundle.classes
    rare = [classes.index(c) for c in RARE[args.model]]
    print(
        f"{args.model}: {len(labels)} proteins, each predicted by the member validated on it (folds "
        f"{sorted(set(oof.folds.tolist()))}); corrections fitted on the other folds (cross-validation)\n"
    )
    print("| correction | accuracy | MCC | NLL | ECE | " + " | ".join(f"MCC {classes[i]}" for i in rare) + " |")
    print("| --- " * (5 + len(rare)) + "|")
    for name, correct in corrections(len(classes)).items():
        probs = leave_one_fold_out(correct, logp, labels, oof.folds)
        predicted = probs.argmax(axis=1)
        confusion = confusion_matrix(labels, predicted, len(classes))
        per_class = per_class_mcc(confusion)
        loss = nll(log_probabilities(probs), labels)
        print(f"| {name} | {np.mean(predicted == labels):.4f} | {gorodkin_mcc(confusion):.4f} | {loss:.4f} | "
              f"{expected_calibration_error(probs, labels):.4f} | "
              + " | ".join(f"{per_class[i]:.2f}" for i in rare) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
