"""Which compartments an organism can have, and predictions restricted to them.

A human kinase cannot sit in a plastid, whatever the sequence looks like; when
the user says which kind of organism a protein comes from, compartments that
organism does not have get probability 0 and the rest are renormalised (the
Bayes posterior under a prior that is 0 for impossible compartments and
unchanged otherwise). ``any`` (the default) changes nothing.

A compartment an organism lacks may have a counterpart it does have: the lytic compartment is the
lysosome in animals and the vacuole in plants and fungi (DeepLoc merged the two into one class). There
the excluded class's probability is moved to its counterpart (:data:`COUNTERPART`) instead of being
dropped: a model that places a yeast vacuolar hydrolase partly in ``lysosomal`` has found the lytic
pathway, and renormalising that evidence away would hand it to the runner-up.

The choices, per class id of the two shipped class sets:

``MultiLoc`` (Höglund et al. 2006)
    * ``chloroplast`` — plants only: chloroplasts (plastids) are the
      photosynthetic organelles of plants and algae; animals and fungi have none.
    * ``vacuolar`` — plants and fungi: MultiLoc's vacuolar proteins are those of
      the lytic/storage vacuole of plant and fungal (yeast) cells; animal cells
      do their lytic work in lysosomes instead.
    * ``lysosomal`` — animals only: MultiLoc's lysosomal class is the animal
      lysosome (mannose-6-phosphate sorted hydrolases, LAMPs); the fungal and
      plant counterpart is the vacuole, annotated ``vacuolar``.
    * every other class (ER, Golgi, cytoplasmic, extracellular, mitochondrial,
      nuclear, peroxisomal, plasma membrane) exists in all three.

``DeepLoc`` (Almagro Armenteros et al. 2017)
    * ``Plastid`` — plants only (chloroplasts and other plastids).
    * ``Lysosome/Vacuole`` — all three: DeepLoc merged the animal lysosome with
      the plant and fungal vacuole into one class, so every organism has it.
    * every other class exists in all three (fungi and plants secrete proteins
      too, so ``Extracellular`` stays; plants have peroxisomes/glyoxysomes).

"plant" means photosynthetic eukaryotes with plastids (land plants and green
algae); for other plastid-bearing protists (diatoms, apicomplexans with their
apicoplast) use ``plant`` or ``any``. Per-organism class priors (re-weighting
the allowed classes, not only zeroing the impossible ones) were not measured:
neither data set records the organism of its proteins, so no honest
cross-validation of such priors is possible here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from locviz.errors import InputError
from locviz.prediction import Prediction

ORGANISMS = ("any", "animal", "fungus", "plant")
DEFAULT_ORGANISM = "any"
PLURAL = {"any": "organisms", "animal": "animals", "fungus": "fungi", "plant": "plants"}
WARN_EXCLUDED = 0.5
"""When the excluded compartments without a counterpart (:data:`COUNTERPART`) held more than this share of the
model's probability, the restricted call is a runner-up of a protein the model placed elsewhere: the prediction says
so (``extra['organism_warning']``)."""

ORGANISM_DESCRIPTIONS = {
    "any": "every compartment of the model (no restriction)",
    "animal": "animals (Metazoa): no plastids, no plant/fungal vacuole",
    "fungus": "fungi (e.g. yeasts): no plastids, vacuole instead of lysosome",
    "plant": "plants and green algae: plastids and a vacuole, no animal lysosome",
}

_NOT_IN: dict[str, frozenset[str]] = {
    # class id -> organisms that do NOT have that compartment (see the module docstring for why)
    "chloroplast": frozenset({"animal", "fungus"}),
    "vacuolar": frozenset({"animal"}),
    "lysosomal": frozenset({"fungus", "plant"}),
    "Plastid": frozenset({"animal", "fungus"}),
}

COUNTERPART: dict[str, str] = {
    # class id -> the class of the same function in the organisms that lack it (MultiLoc's lytic compartments)
    "lysosomal": "vacuolar",
    "vacuolar": "lysosomal",
}

KNOWN_CLASSES = frozenset(
    {
        # MultiLoc
        "ER", "Golgi", "chloroplast", "cytoplasmic", "extracellular", "lysosomal", "mitochondrial",
        "nuclear", "peroxisomal", "plasma_membrane", "vacuolar",
        # DeepLoc
        "Nucleus", "Cytoplasm", "Extracellular", "Mitochondrion", "Cell.membrane", "Endoplasmic.reticulum",
        "Plastid", "Golgi.apparatus", "Lysosome/Vacuole", "Peroxisome",
    }
)  # fmt: skip


def check_organism(organism: str) -> str:
    """``organism`` itself if it is one of :data:`ORGANISMS`.

    Raises:
        InputError: naming the value and the allowed list.
    """
    if organism not in ORGANISMS:
        raise InputError(f"organism must be one of {', '.join(ORGANISMS)}, got {organism!r}")
    return organism


def allowed_mask(classes: Sequence[str], organism: str) -> np.ndarray:
    """``(C,)`` bool: which of ``classes`` (card class ids) ``organism`` can have.

    Raises:
        InputError: for an unknown organism, or a class id this module has no
            biology for (a custom bundle with other classes) unless ``organism`` is ``any``.
    """
    check_organism(organism)
    if organism == "any":
        return np.ones(len(classes), dtype=bool)
    unknown = [c for c in classes if c not in KNOWN_CLASSES]
    if unknown:
        raise InputError(
            f"the organism switch knows the MultiLoc and DeepLoc class ids, not {', '.join(map(repr, unknown))}; "
            "use --organism any with this model"
        )
    return np.array([organism not in _NOT_IN.get(c, frozenset()) for c in classes], dtype=bool)


def allowed_classes(classes: Sequence[str], organism: str) -> tuple[str, ...]:
    """The class ids of ``classes`` that ``organism`` can have (for the card and the app)."""
    mask = allowed_mask(classes, organism)
    return tuple(c for c, ok in zip(classes, mask, strict=True) if ok)


def excluded_classes(classes: Sequence[str], organism: str) -> tuple[str, ...]:
    """The class ids of ``classes`` that ``organism`` cannot have."""
    mask = allowed_mask(classes, organism)
    return tuple(c for c, ok in zip(classes, mask, strict=True) if not ok)


def moved_classes(classes: Sequence[str], organism: str) -> tuple[tuple[str, str], ...]:
    """(excluded class, its counterpart) for each class ``organism`` lacks whose :data:`COUNTERPART` it has."""
    excluded = excluded_classes(classes, organism)
    allowed = set(classes) - set(excluded)
    return tuple((c, COUNTERPART[c]) for c in excluded if COUNTERPART.get(c) in allowed)


def annotation_in(location: str, organism: str) -> str | None:
    """The class of ``organism`` that an annotated ``location`` (a reference or training protein's class id) stands
    for: the location itself, its :data:`COUNTERPART` when ``organism`` lacks it (a yeast vacuolar homologue of an
    animal protein speaks for ``lysosomal``), or None when ``organism`` has neither (a chloroplast paralogue of an
    animal protein neither confirms nor contradicts an animal call). The mapping :func:`restrict` applies to the
    model's probabilities."""
    check_organism(organism)
    if organism not in _NOT_IN.get(location, ()):
        return location
    counterpart = COUNTERPART.get(location)
    return counterpart if counterpart is not None and organism not in _NOT_IN.get(counterpart, ()) else None


def annotation_text(location: str, organism: str, name: Callable[[str], str] = str) -> str:
    """``location`` for a sentence, with what it stands for in ``organism`` when that differs (see
    :func:`annotation_in`): ``vacuolar (lysosomal in animals)``, ``chloroplast, which animals do not have``; ``name``
    turns a class id into words (``locviz.card.display_name``)."""
    mapped = annotation_in(location, organism)
    if mapped == location:
        return name(location)
    if mapped is None:
        return f"{name(location)}, which {PLURAL[organism]} do not have"
    return f"{name(location)} ({name(mapped)} in {PLURAL[organism]})"


def restrict(probabilities: np.ndarray, classes: Sequence[str], organism: str) -> np.ndarray:
    """Probabilities with ``organism``'s impossible classes set to 0 (their probability moved to a
    :data:`COUNTERPART` the organism has) and each row renormalised to 1.

    ``probabilities`` has the classes on its last axis: ``(C,)``, ``(N, C)`` or
    ``(M, N, C)`` all work. A row whose allowed classes hold no probability at
    all (float underflow) becomes uniform over the allowed classes.

    Raises:
        InputError: unknown organism, or a class count that does not match ``classes``.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape[-1] != len(classes):
        raise InputError(f"probabilities have {probs.shape[-1]} classes on the last axis, the model {len(classes)}")
    mask = allowed_mask(classes, organism)
    if mask.all():
        return probs.copy()
    kept = np.where(mask, probs, 0.0)
    for source, target in moved_classes(classes, organism):
        kept[..., list(classes).index(target)] += probs[..., list(classes).index(source)]
    total = kept.sum(axis=-1, keepdims=True)
    uniform = np.broadcast_to(mask / mask.sum(), kept.shape)
    return np.where(total > 0, kept / np.where(total > 0, total, 1.0), uniform)


def apply(prediction: Prediction, organism: str) -> Prediction:
    """A copy of ``prediction`` restricted to ``organism`` (the one entry the CLI and the app call).

    The ensemble's distribution is restricted as a whole (so the call is the model's most
    probable allowed compartment), and each member's likewise for their spread; all sum to 1.
    ``any`` (or the organism it already has) returns the prediction unchanged.

    Raises:
        InputError: unknown organism, or a prediction already restricted to another organism.
    """
    check_organism(organism)
    already = getattr(prediction, "organism", "any")
    if organism == already:
        return prediction
    if already != "any":
        raise InputError(
            f"protein {prediction.id!r} is already restricted to {already}; restrict the unrestricted "
            "(organism 'any') prediction instead"
        )
    classes = prediction.classes
    excluded = excluded_classes(classes, organism)
    members = prediction.member_probabilities
    if members is not None:
        members = restrict(members, classes, organism)
    probabilities = restrict(prediction.probabilities, classes, organism)
    notes = list(prediction.notes)
    if excluded:
        notes.append(f"organism {organism}: {excluded_text(classes, organism)}")
    extra = dict(prediction.extra)  # the copy's verdict and evidence must not overwrite the original's
    warning = excluded_warning(prediction.probabilities, classes, organism)
    if warning:
        extra["organism_warning"] = warning
    return dataclasses.replace(
        prediction, probabilities=probabilities, member_probabilities=members, notes=notes, organism=organism,
        extra=extra,
    )


def allowed_only(prediction: Prediction) -> Prediction:
    """A copy of ``prediction`` holding only the compartments its organism has (what the probability chart draws:
    a class an animal cannot have is no 0 % bar); unchanged for ``any``."""
    keep = allowed_mask(prediction.classes, prediction.organism)
    if keep.all():
        return prediction
    members = prediction.member_probabilities
    members = None if members is None else np.asarray(members)[:, keep]
    classes = [c for c, k in zip(prediction.classes, keep, strict=True) if k]
    probabilities = np.asarray(prediction.probabilities)[keep]
    return dataclasses.replace(prediction, classes=classes, probabilities=probabilities, member_probabilities=members)


WHY_EXCLUDED = {  # class id -> what the organisms that lack it have instead (the biology: the module docstring)
    "Plastid": "no plastids",
    "chloroplast": "no chloroplasts (no plastids)",
    "vacuolar": "no plant/fungal vacuole (their lytic compartment is the lysosome)",
    "lysosomal": "no animal lysosome (a vacuole instead)",
}


def why_excluded(classes: Sequence[str], organism: str) -> str:
    """Why ``organism`` rules out the classes it does, in words: ``animals have no plastids``; empty when none."""
    excluded = excluded_classes(classes, organism)
    if not excluded:
        return ""
    return f"{PLURAL[organism]} have " + "; ".join(WHY_EXCLUDED.get(c, f"no {c}") for c in excluded)


def excluded_text(classes: Sequence[str], organism: str) -> str:
    """What the restriction does, in words: ``lysosomal moved to vacuolar (its counterpart); chloroplast set to 0
    and the rest renormalised``."""
    moved = moved_classes(classes, organism)
    dropped = [c for c in excluded_classes(classes, organism) if c not in dict(moved)]
    parts = [f"{source}'s probability moved to {target} (its counterpart)" for source, target in moved]
    if dropped:
        parts.append(f"{', '.join(dropped)} set to 0")
    return "; ".join(parts) + " and the rest renormalised"


def excluded_warning(probabilities: np.ndarray, classes: Sequence[str], organism: str) -> str | None:
    """The sentence saying that most of the probability sat in compartments ``organism`` cannot have and that have
    no counterpart there (more than :data:`WARN_EXCLUDED`), or None. ``probabilities`` are the unrestricted ones."""
    moved = dict(moved_classes(classes, organism))
    lost = [c for c in excluded_classes(classes, organism) if c not in moved]
    probs = np.asarray(probabilities, dtype=np.float64)
    share = float(sum(probs[list(classes).index(c)] for c in lost))
    if share <= WARN_EXCLUDED:
        return None
    top = max(lost, key=lambda c: probs[list(classes).index(c)])
    return (f"Organism {organism}: {share:.0%} of the model's probability was in compartments {PLURAL[organism]} "
            f"cannot have (most in {top}); the call is what remains, so check that the organism is right.")  # fmt: skip


def excluded_by_organism(classes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For the card and the app: each organism → the class ids it cannot have (empty for ``any``).

    Raises:
        InputError: ``classes`` holds ids this module has no biology for (then only ``any`` applies).
    """
    return {organism: excluded_classes(classes, organism) for organism in ORGANISMS}
