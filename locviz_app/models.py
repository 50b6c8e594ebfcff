"""The loaded things, once per server process: the predictor, its motifs and its reference set.

The model is loaded once per process and device (``st.cache_resource``), keyed by the card's path and
modification time, so a replaced bundle is loaded afresh. The default model is loaded and warmed in the
background as soon as the server starts (:mod:`locviz_app.warmup`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from locviz import homology
from locviz.card import ModelCard
from locviz.examples import EXAMPLES
from locviz.motifs import MotifError, MotifSet, bundle_motifs_path, load_bundle_motifs
from locviz.predict import Predictor, load_model
from locviz.sequences import ProteinRecord
from locviz.weights import SHIPPED_MODELS, STUDENTS, BundleError, read_card, weights_dir

LOG = logging.getLogger("locviz.app")


APP_SENSITIVITY = "default"
"""DIAMOND mode of the app's search: one protein in ~0.15 s on DeepLoc's reference (``mid-sensitive``, the CLI's
default, ~0.6 s); it finds fewer distant hits (benchmarks/homology.py). ``locviz predict --neighbours --search-mode
default`` and ``locviz.neighbours(..., search_mode="default")`` search the same way."""
WARM_UP_SEQUENCE = EXAMPLES[0].sequence[:200]


def device_options() -> list[str]:
    """GPU first when PyTorch sees one, else the CPU only."""
    return ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]


def available_models() -> list[str]:
    """Shipped models whose card is present in the weights folder."""
    return [m for m in SHIPPED_MODELS if (weights_dir() / f"{m}.json").is_file()]


def student_of(model_name: str) -> str | None:
    """The installed fast student of ``model_name`` (e.g. deeploc-fast for deeploc), else None."""
    student = STUDENTS.get(model_name)
    return student if student in available_models() else None


def bundle_key(model_name: str, device: str) -> tuple[str, str, str, int]:
    """Model, device, the card's path and modification time: a replaced bundle (or another
    LOCVIZ_WEIGHTS folder) is loaded afresh instead of served stale from the cache."""
    card = weights_dir() / f"{model_name}.json"
    stamp = card.stat().st_mtime_ns if card.is_file() else 0
    return model_name, device, str(card), stamp


_LOADED: set[tuple[str, str, str, int]] = set()
"""Keys whose predictor is in the cache (the page shows a spinner only when it will really wait)."""


def get_predictor(model_name: str, device: str) -> Predictor:
    """One shared predictor per model and device for the whole server process.

    In a page run that has to wait (the background warm-up still loading, or a model not warmed)
    a spinner says so; the warm-up thread itself runs without one.
    """
    key = bundle_key(model_name, device)
    if key in _LOADED or get_script_run_ctx(suppress_warning=True) is None:
        return _load_predictor(*key)
    with st.spinner("Loading the model (once per server process)…"):
        return _load_predictor(*key)


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_predictor(model_name: str, device: str, card_path: str, stamp: int) -> Predictor:
    """Load and warm up: PyTorch's first forward pass sets up its kernels (about a second on a CPU),
    which belongs to loading, not to the user's first Predict. Concurrent callers wait for one load."""
    predictor = load_model(card_path, device=device)
    predictor.predict([ProteinRecord("warm-up", WARM_UP_SEQUENCE)], with_filters=True)
    _LOADED.add((model_name, device, card_path, stamp))
    return predictor


@st.cache_resource(show_spinner=False, max_entries=4)
def _motifs_for(model_name: str, device: str, path: str, mtime: int) -> MotifSet:
    del path, mtime  # part of the cache key: a recomputed file is read again
    return load_bundle_motifs(get_predictor(model_name, device).bundle)


def get_motifs(model_name: str, device: str) -> MotifSet:
    """The model's precomputed motifs; ``MotifError`` says how to create a missing file."""
    bundle = get_predictor(model_name, device).bundle
    path = bundle_motifs_path(bundle)
    if not path.is_file():
        raise MotifError(
            f"model '{bundle.name}' has no motifs file at `{path}`. Create it once from the model's training "
            "data (no data set is needed at run time afterwards):\n\n```\n"
            f"{motifs_command(bundle.card, bundle.card_path)}\n```"
        )
    return _motifs_for(model_name, device, str(path), path.stat().st_mtime_ns)


def motifs_command(card: ModelCard, card_path: Path) -> str:
    """The ``locviz motifs`` command for a bundle, with the data set and training folds from its card."""
    dataset = card.dataset or card.name or "multiloc"
    fold_text = " ".join(str(f) for f in card.data_folds()) or "1 2 3 4"
    return f"locviz motifs --model {card_path} --dataset {dataset} --data ../shared/data/{dataset} --folds {fold_text}"


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_reference(card_path: str, stamp: int) -> homology.Reference | None:
    del stamp  # cache key only
    try:
        return homology.Reference.load(card_path, sensitivity=APP_SENSITIVITY)
    except (BundleError, ValueError) as exc:  # no reference set shipped: no known locations beyond the examples
        LOG.info("no reference set for %s: %s", card_path, exc)
        return None


def get_reference(model_name: str) -> homology.Reference | None:
    """The model's reference set (:class:`locviz.homology.Reference`, read once per process), or None."""
    _, _, card, stamp = bundle_key(model_name, "cpu")
    return _load_reference(card, stamp) if Path(card).is_file() else None


@functools.lru_cache(maxsize=8)
def _card_classes(card_path: str, stamp: int) -> tuple[str, ...]:
    del stamp  # cache key only
    return tuple(read_card(card_path)[1].classes)


def model_classes(model_name: str) -> tuple[str, ...]:
    """The model's class ids, from its card (the model itself need not be loaded)."""
    _, _, card, stamp = bundle_key(model_name, "cpu")
    return _card_classes(card, stamp)
