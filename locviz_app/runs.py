"""One press of Predict: parse, predict, and keep the result per session.

Predictions are kept per session, keyed by model, device and the exact input text, so page reruns
(moving a slider, picking another protein) never run the model again.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.sequences import ParseResult, ProteinRecord, parse
from locviz_app.inputs import MAX_RECORDS
from locviz_app.models import bundle_key, get_predictor

FILTERS_WITH_FIRST_PASS = 1
"""Inputs with at most this many records get filter activations in the first pass; larger inputs get
them for the protein being looked at only (n_filters floats per residue add up over 500 proteins)."""
PROGRESS_ABOVE = 32
"""Inputs with more records than this show a progress bar while they are predicted."""
CACHED_RUNS = 4


def text_key(model_name: str, device: str, text: str) -> str:
    """Cache key of one run: model (card file and version), device and the exact text."""
    _, _, card, stamp = bundle_key(model_name, device)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
    return f"{card}@{stamp}|{device}|{digest}"


@dataclass
class Run:
    """One press of Predict: what was parsed, what was predicted, how long it took."""

    key: str
    model_name: str
    device: str
    parsed: ParseResult
    predictions: list[Prediction]
    records: list[ProteinRecord]
    seconds: float
    detailed: dict[str, Prediction] = field(default_factory=dict)
    calls: dict[tuple, Any] = field(default_factory=dict)  # evidence.Call per organism, protein, detail, search

    def detail(self, predictor: Predictor, index: int) -> Prediction:
        """The prediction of record ``index`` with filter activations (computed once on demand)."""
        pred = self.predictions[index]
        if pred.filter_activations is not None:
            return pred
        if pred.id not in self.detailed:
            self.detailed[pred.id] = predictor.predict([self.records[index]], with_filters=True)[0]
        return self.detailed[pred.id]


def _runs_cache() -> OrderedDict[str, Run]:
    if "_runs" not in st.session_state:
        st.session_state["_runs"] = OrderedDict()
    return st.session_state["_runs"]


def get_run(model_name: str, device: str, text: str) -> Run | None:
    """The cached run for this input, if it was predicted before in this session."""
    runs = _runs_cache()
    key = text_key(model_name, device, text)
    if key in runs:
        runs.move_to_end(key)
        return runs[key]
    return None


def run_prediction(
    model_name: str, device: str, text: str, progress: Callable[[float, str], None] | None = None
) -> Run:
    """Parse and predict ``text`` (cached per session by model, device and text)."""
    cached = get_run(model_name, device, text)
    if cached is not None:
        return cached
    predictor = get_predictor(model_name, device)  # loading is not part of a run's time
    start = time.perf_counter()
    parsed = parse(text, max_records=MAX_RECORDS)
    records = parsed.records
    with_filters = len(records) <= FILTERS_WITH_FIRST_PASS
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done / max(len(records), 1), f"Predicted {done} of {len(records)} proteins…")

    predictions = list(predictor.iter_predict(records, with_filters=with_filters, callback=advance))
    run = Run(
        key=text_key(model_name, device, text),
        model_name=model_name,
        device=device,
        parsed=parsed,
        predictions=predictions,
        records=list(records),
        seconds=time.perf_counter() - start,
    )
    runs = _runs_cache()
    runs[run.key] = run
    while len(runs) > CACHED_RUNS:
        runs.popitem(last=False)
    return run
