"""Classification metrics for localisation: accuracy, Gorodkin MCC, per-class MCC, confusion."""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts; rows are true classes, columns predicted."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def gorodkin_mcc(confusion: np.ndarray) -> float:
    """Multi-class Matthews correlation (Gorodkin 2004, the R_K statistic)."""
    c = confusion.astype(np.float64)
    total = c.sum()
    correct = np.trace(c)
    t = c.sum(axis=1)  # true counts
    p = c.sum(axis=0)  # predicted counts
    numerator = correct * total - t @ p
    denominator = np.sqrt(total**2 - p @ p) * np.sqrt(total**2 - t @ t)
    return float(numerator / denominator) if denominator > 0 else 0.0


def per_class_mcc(confusion: np.ndarray) -> np.ndarray:
    """One-vs-rest MCC for every class."""
    c = confusion.astype(np.float64)
    total = c.sum()
    out = np.zeros(len(c))
    for k in range(len(c)):
        tp = c[k, k]
        fn = c[k].sum() - tp
        fp = c[:, k].sum() - tp
        tn = total - tp - fn - fp
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        out[k] = (tp * tn - fp * fn) / denominator if denominator > 0 else 0.0
    return out


def classification_report(labels: np.ndarray, predictions: np.ndarray, classes: tuple[str, ...] | list[str]) -> dict:
    """All metrics as a JSON-ready dict."""
    confusion = confusion_matrix(labels, predictions, len(classes))
    mcc = per_class_mcc(confusion)
    return {
        "n": int(len(labels)),
        "accuracy": float(np.mean(np.asarray(labels) == np.asarray(predictions))) if len(labels) else 0.0,
        "gorodkin_mcc": gorodkin_mcc(confusion),
        "per_class_mcc": {c: float(m) for c, m in zip(classes, mcc, strict=True)},
        "classes": list(classes),
        "confusion_matrix": confusion.tolist(),
    }


def format_report(report: dict) -> str:
    """Plain-text table of a :func:`classification_report`."""
    classes = report["classes"]
    lines = [
        f"proteins: {report['n']}",
        f"accuracy: {report['accuracy']:.4f}",
        f"Gorodkin MCC: {report['gorodkin_mcc']:.4f}",
    ]
    if "calibration" in report:  # locviz evaluate: the calibrated call's ECE (15 bins, top class)
        c = report["calibration"]
        if c.get("calibrated", True):
            lines.append(f"ECE: {c['ece']:.4f} calibrated ({c['calibrator']}), {c['ece_uncalibrated']:.4f} "
                         f"uncalibrated; mean confidence {c['mean_confidence']:.4f}")  # fmt: skip
        else:
            lines.append(f"ECE: {c['ece']:.4f} (the card holds no calibration); mean confidence "
                         f"{c['mean_confidence']:.4f}")  # fmt: skip
        if c.get("note"):
            lines.append(f"note: {c['note']}")
    lines += ["", f"{'class':<24}{'n':>6}{'MCC':>8}"]
    confusion = np.array(report["confusion_matrix"])
    for k, c in enumerate(classes):
        lines.append(f"{c:<24}{int(confusion[k].sum()):>6}{report['per_class_mcc'][c]:>8.3f}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    width = max(5, max(len(str(v)) for v in confusion.flat) + 1)
    lines.append(" " * 24 + "".join(f"{c[:width - 1]:>{width}}" for c in classes))
    for k, c in enumerate(classes):
        lines.append(f"{c:<24}" + "".join(f"{v:>{width}}" for v in confusion[k]))
    return "\n".join(lines)
