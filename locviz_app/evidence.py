"""The evidence beside each call: organism restriction, known locations, homology hits and the support verdict.

Glue only: :mod:`locviz.organisms`, :mod:`locviz.homology` and :mod:`locviz.calibration` decide; this module
caches their results per process or per run and says them in the page's words.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import streamlit as st

from locviz import calibration, homology, known, organisms
from locviz.calibration import Support
from locviz.card import display_name
from locviz.errors import LocvizError
from locviz.known import KnownLocation, KnownProtein
from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.sequences import ProteinRecord
from locviz_app.layout import sticky_choice
from locviz_app.models import available_models, bundle_key, get_reference, model_classes
from locviz_app.runs import Run

SEARCH_ALL_UP_TO = homology.SMALL_QUERY_SET
"""Runs with at most this many proteins are searched whole at once (one query-indexed DIAMOND call, ~0.2 s);
larger runs search the protein being looked at, and every protein on request or for a download (~3 s for 500)."""
HITS_CACHED = 5000
SUPPORT_COLOURS = {"high": "green", "medium": "orange", "low": "red"}
SUPPORT_ICONS = {"high": ":material/verified:", "medium": ":material/help:", "low": ":material/warning:"}


def known_protein(accession: str) -> KnownProtein | None:
    """The shipped protein with this accession: an app example, else a protein of a model's reference set (the
    annotated training proteins shipped in ``weights/NAME.reference.fa.gz``), read lazily model by model."""
    return known.known_protein(accession, (get_reference(name) for name in available_models()))


def known_location(record: ProteinRecord | Prediction, model_name: str) -> KnownLocation | None:
    """:func:`locviz.known.known_location` with the app's cached reference set of ``model_name``."""
    return known.known_location(record, model_classes(model_name), model_name, get_reference(model_name))


def organism_choices(classes: tuple[str, ...]) -> list[str]:
    """The organisms the switch offers for these classes: all of them, or only ``any`` for a custom class set."""
    try:
        organisms.allowed_mask(classes, "animal")
    except LocvizError:
        return [organisms.DEFAULT_ORGANISM]
    return list(organisms.ORGANISMS)


def organism_allows(classes: tuple[str, ...], organism: str) -> str:
    """``all 10 compartments`` or ``9 of 10: all but plastid``."""
    excluded = organisms.excluded_classes(classes, organism)
    if not excluded:
        return f"all {len(classes)} compartments"
    return f"{len(classes) - len(excluded)} of {len(classes)}: all but {', '.join(map(display_name, excluded))}"


def organism_help(classes: tuple[str, ...]) -> str:
    """The selector's help: what each organism allows for this model, and that the model is not run again."""
    lines = [f"- **{o}** ({organisms.ORGANISM_DESCRIPTIONS[o]}): {organism_allows(classes, o)}"
             for o in organism_choices(classes)]  # fmt: skip
    return ("Compartments the organism cannot have get probability 0 and the rest are renormalised; a lytic "
            "compartment's probability goes to the organism's own (lysosome ↔ vacuole) rather than being dropped "
            "(the model is not run again).\n\n" + "\n".join(lines))  # fmt: skip


def organism_setting(model_name: str) -> str:
    """The sidebar's organism selector (kept across pages; default ``any``, the model's own output)."""
    classes = model_classes(model_name)
    with st.sidebar:
        return sticky_choice("Organism", organism_choices(classes), "organism", help=organism_help(classes))


def excluded_note(classes: tuple[str, ...] | list[str], organism: str) -> str | None:
    """One sentence naming the compartments ``organism`` rules out and why, or None when none are."""
    excluded = organisms.excluded_classes(classes, organism)
    if not excluded:
        return None
    names = " and ".join(f"**{display_name(c)}**" for c in excluded)
    what = organisms.excluded_text(classes, organism)
    return (f"{names} excluded for organism *{organism}*: {organisms.why_excluded(classes, organism)}. "
            f"Here {what} (the model was not run again).")  # fmt: skip


_HITS: OrderedDict[tuple[str, int, str], list[homology.Hit]] = OrderedDict()
_HITS_LOCK = threading.Lock()


def _hits_key(model_name: str, sequence: str) -> tuple[str, int, str]:
    _, _, card, stamp = bundle_key(model_name, "cpu")
    return card, stamp, sequence


def cached_hits(model_name: str, sequence: str) -> list[homology.Hit] | None:
    """The hits of an earlier search of this exact sequence (any session), or None if it was not searched."""
    with _HITS_LOCK:
        return _HITS.get(_hits_key(model_name, sequence))


def search_hits(model_name: str, records: list) -> list[list[homology.Hit]] | None:
    """Each record's hits in the model's reference set; only sequences not searched before go to DIAMOND,
    in one call. None when the model ships no reference set.

    Raises:
        SearchError: DIAMOND is missing or failed (the message says how to install it).
    """
    reference = get_reference(model_name)
    if reference is None:
        return None
    keys = [_hits_key(model_name, r.sequence) for r in records]
    with _HITS_LOCK:
        missing = {k[2]: r for k, r in zip(keys, records, strict=True) if k not in _HITS}
    found = dict(zip(missing, reference.search(list(missing.values())), strict=True)) if missing else {}
    with _HITS_LOCK:
        out = [found[k[2]] if k[2] in found else _HITS[k] for k in keys]
        for sequence, hits in found.items():
            _HITS[_hits_key(model_name, sequence)] = hits
        while len(_HITS) > HITS_CACHED:
            _HITS.popitem(last=False)
    return out


def all_searched(run: Run) -> bool:
    return all(cached_hits(run.model_name, r.sequence) is not None for r in run.records)


@dataclass(frozen=True)
class Call:
    """One protein as the Predict page shows it: restricted to the organism, with its verdict and evidence."""

    prediction: Prediction  # restricted copy; ``extra`` holds the table columns (support, nearest_*, combined)
    support: Support
    evidence: homology.Evidence | None  # None: not searched (yet), or the model has no reference set
    notes: tuple[str, ...]  # the prediction's own notes (the organism's is said on its own line)


def call_for(run: Run, predictor: Predictor, index: int, organism: str, detailed: bool = False) -> Call:
    """Protein ``index`` of ``run`` restricted to ``organism`` from the cached prediction (never a model run,
    except once for the filter activations when ``detailed``), with the homology evidence when its sequence
    was searched and the support verdict renewed with it. Cached in the run."""
    hits = cached_hits(run.model_name, run.predictions[index].sequence)
    key = (organism, index, detailed, hits is not None)
    if key in run.calls:
        return run.calls[key]
    base = run.detail(predictor, index) if detailed else run.predictions[index]
    pred = predictor.for_organism(dataclasses.replace(base, extra=dict(base.extra)), organism)  # own extra
    reference = get_reference(run.model_name) if hits is not None else None
    ev, hint = None, None
    if reference is not None:
        ev = homology.evidence(pred, reference, hits=hits)
        pred.extra.update(homology.evidence_columns(ev))
        hint = homology.homology_hint(pred)
    verdict = calibration.support_for(pred, predictor.support_thresholds, hint)
    pred.extra.update(support=verdict.level, support_reasons=verdict.text)
    call = Call(pred, verdict, ev, tuple(base.notes))
    run.calls[key] = call
    return call


_CLASS_WORD = re.compile(r"(?<![\w.])([A-Za-z][\w./]*[\w])(?![\w])")


def readable(sentence: str, classes: tuple[str, ...] | list[str]) -> str:
    """``sentence`` with every class id as its display name (``Endoplasmic.reticulum`` → endoplasmic reticulum)."""
    known = set(classes)
    return _CLASS_WORD.sub(lambda m: display_name(m.group(1)) if m.group(1) in known else m.group(1), sentence)
