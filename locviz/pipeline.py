"""What ``locviz predict`` does to each chunk of proteins, in one place for the single process and the cluster.

Why: the single-process command (:func:`locviz.cli.cmd_predict`) and every cluster partition
(:mod:`locviz.cluster.worker`) must write the same table; when a step or a column is added here,
both get it, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from locviz import homology, signals

if TYPE_CHECKING:
    from locviz.predict import Prediction, Predictor
    from locviz.sequences import ProteinRecord


def extra_columns(neighbours: bool) -> tuple[str, ...]:
    """The table's columns after ``p_<class>``: the support verdict and its reasons, the homology evidence
    (``--neighbours``), the known sorting signals, the organism the probabilities were restricted to."""
    return ("support", "support_reasons", *(homology.COLUMNS if neighbours else ()), "signals", "organism")


def predict_chunk(
    predictor: Predictor,
    records: Sequence[ProteinRecord],
    *,
    organism: str = "any",
    reference: homology.Reference | None = None,
) -> list[Prediction]:
    """The model's calls for ``records`` (input order), then the evidence the table's extra columns hold."""
    predictions = predictor.predict(list(records), organism=organism)
    if reference is not None:
        homology.annotate(predictions, reference, thresholds=predictor.support_thresholds)
    signals.annotate(predictions)
    return predictions
