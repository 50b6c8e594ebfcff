"""Everything the app does beyond the call, from Python: signals, homology evidence and the combined call,
saturation scans and variants.

Why a facade: the pieces live in their own modules (:mod:`locviz.signals`, :mod:`locviz.homology`,
:mod:`locviz.whatif`), each with options the app and the CLI need; a Python user wants one short call per
question, the same answer the app gives, and a protein given the way they already hold it (a parsed
record, a prediction or a sequence). Re-exported from :mod:`locviz`::

    import locviz

    predictor = locviz.load_model("multiloc")
    parsed = locviz.parse(open("proteins.fasta").read())
    for problem in parsed.errors:                       # rejected records, each named with the reason
        print("rejected:", problem)
    predictions = predictor.predict(parsed.records)
    evidence = locviz.neighbours(predictor, predictions)     # nearest annotated proteins; combined call
    signals = locviz.find_signals(predictions[0])            # the app's known-signal track
    scan = locviz.scan(predictor, predictions[0], 1, 10)     # every substitution of residues 1-10
    change = locviz.mutate(predictor, predictions[0], "p.Leu6Pro")   # or "L6P", "del1-20", a second sequence
    locviz.write_table(predictions, "calls.tsv")             # the `locviz predict --neighbours` table

Every function raises :class:`locviz.errors.InputError` (a :class:`ValueError`) with a message that says
what to change; none prints.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from locviz import homology, known, pipeline, signals, table, whatif
from locviz.errors import InputError
from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.sequences import ProteinRecord, parse_strict

__all__ = ["Protein", "find_signals", "known_location", "known_protein", "mutate", "neighbours", "scan",
           "signal_conflicts", "write_table"]

Protein = ProteinRecord | Prediction | str
"""A protein as a user holds it: a parsed record, a prediction (reused as the wild type) or sequence text."""

_REFERENCES: weakref.WeakKeyDictionary[Predictor, dict[str, homology.Reference]] = weakref.WeakKeyDictionary()


def _record(protein: Protein) -> ProteinRecord:
    """The record of ``protein``; text goes through :func:`locviz.parse` (one record, every problem raised)."""
    if isinstance(protein, ProteinRecord):
        return protein
    if isinstance(protein, Prediction):
        return ProteinRecord(protein.id, protein.sequence)
    if isinstance(protein, str):
        records = parse_strict(protein)
        if len(records) != 1:
            raise InputError(f"give one protein here, not {len(records)}; call this once per record")
        return records[0]
    raise InputError(f"a protein is a ProteinRecord, a Prediction or sequence text, not {type(protein).__name__}")


def _wild(predictor: Predictor, protein: Protein, organism: str | None) -> tuple[Prediction | None, str]:
    """A prediction to reuse as the wild type (one of this model's, made for the organism asked) and the organism
    to run with: ``any`` unless asked, as the app's What if page compares the model's own probabilities over all
    its compartments whatever organism the Predict page restricts to."""
    wanted = organism or "any"
    if isinstance(protein, Prediction):
        same_model = protein.model_name == predictor.name and list(protein.classes) == predictor.classes
        return (protein if same_model and wanted == protein.organism else None), wanted
    return None, wanted


def find_signals(protein: Protein) -> list[signals.Signal]:
    """The known sorting signals of ``protein``: the app's track (signal peptide, TM helices, KDEL/HDEL, PTS1,
    NLS, mitochondrial presequence), 1-based inclusive, sorted by start; rules cited in :mod:`locviz.signals`.

    ``Signal.to_json()`` gives type, start, end, label, rule and evidence, as ``locviz predict --signals`` writes.
    """
    if isinstance(protein, Prediction):
        return signals.track_of(protein)
    return signals.find_signals(_record(protein).sequence)


def known_location(predictor: Predictor, protein: Protein) -> known.KnownLocation | None:
    """What the shipped data says about ``protein`` for ``predictor``'s model, as the Predict page's "Known
    location": an example protein (by sequence), this very sequence in the model's training data (the table's
    ``known_location``), or only its accession there (a variant or isoform); None otherwise. ``.kind`` says which,
    ``.source`` in words."""
    return known.known_location(_record(protein), predictor.classes, predictor.name, predictor.reference)


def known_protein(accession: str, *predictors: Predictor) -> known.KnownProtein | None:
    """The sequence and location of a shipped protein by accession (an example, else a protein of the
    ``predictors``' reference sets), as the app offers when an accession is pasted instead of a sequence."""
    return known.known_protein(accession, (p.reference for p in predictors))


def signal_conflicts(prediction: Prediction, found: Sequence[signals.Signal] | None = None) -> list[str]:
    """Sentences naming each signal the call contradicts (the app's warnings); empty when none does."""
    return signals.disagreements(prediction, list(found) if found is not None else find_signals(prediction))


def neighbours(
    predictor: Predictor,
    predictions: Sequence[Prediction],
    *,
    reference: homology.Reference | None = None,
    search_mode: str | None = None,
) -> list[homology.Evidence]:
    """Search ``predictions`` against the model's reference set of annotated proteins (DIAMOND).

    Each prediction's ``extra`` gains the ``locviz predict --neighbours`` columns (``nearest_id``,
    ``nearest_identity``, ``nearest_coverage``, ``nearest_evalue``, ``nearest_location``, ``combined``,
    ``combined_confidence``; the sentence in ``homology_sentence``) and a
    ``support`` verdict renewed with the evidence. Returns one :class:`locviz.homology.Evidence` per prediction:
    ``hits`` (up to 5, best first), ``known`` (its very sequence is in the reference set), ``variant_of`` (its
    accession is, with another sequence), ``sentence``,
    ``combined`` probabilities and ``combined_label`` (None when the card has no fitted combination).
    ``search_mode`` is DIAMOND's sensitivity
    (:data:`locviz.homology.SENSITIVITIES`); by default the one the combined call was fitted with, as
    ``locviz predict --neighbours`` searches; the app searches in ``"default"`` mode, faster for one protein at
    a time (``--search-mode default`` gives its table). The reference set is read once per predictor and mode;
    pass ``reference`` to share another.

    Raises:
        BundleError: the model ships no reference set.
        SearchError: DIAMOND is missing or failed (``apt-get install diamond-aligner``).
        InputError: an unknown ``search_mode``, or predictions another model made (the combined call and the
            support verdict are fitted for ``predictor``'s).
    """
    predictions = list(predictions)
    for p in predictions:
        if p.model_name != predictor.name or list(p.classes) != list(predictor.classes):
            raise InputError(f"protein {p.id!r} was predicted by {p.model_name!r}, not {predictor.name!r}: search "
                             f"with the model that made the predictions (locviz.neighbours(load_model("
                             f"{p.model_name!r}), predictions))")  # fmt: skip
    if reference is None:
        by_mode = _REFERENCES.setdefault(predictor, {})
        mode = homology.search_mode(predictor.bundle.card, search_mode)
        reference = by_mode.get(mode)
        if reference is None:
            reference = by_mode[mode] = homology.Reference.for_search(predictor.bundle, sensitivity=mode)
    if not predictions:
        return []
    all_hits = homology.annotate(predictions, reference, thresholds=predictor.support_thresholds)
    return [homology.evidence(p, reference, hits=h) for p, h in zip(predictions, all_hits, strict=True)]


def scan(
    predictor: Predictor,
    protein: Protein,
    start: int | None = None,
    end: int | None = None,
    *,
    organism: str | None = None,
    callback: Callable[[int], None] | None = None,
    rescore_with: Predictor | None = None,
    rescore_top: int = whatif.RESCORE_TOP,
    rescore_class: str | None = None,
) -> whatif.SaturationScan:
    """Every single substitution of residues ``start``..``end`` (1-based inclusive; default: the 20-residue window
    with the most attention), and how each class probability moved: ``scan.heatmap()`` is the app's 20 × W
    heatmap, ``scan.rows()`` the ``locviz scan`` table. Probabilities are over all the model's compartments
    (organism ``any``, as the app and ``locviz scan``) unless ``organism`` is given; a prediction given as
    ``protein`` and made for that organism is reused as the wild type by the model that made it (``predictor``
    or ``rescore_with``). 19 forward passes per position,
    ``callback(n)`` told as they finish.

    Scan with a fast student (``load_model("deeploc-fast")``) and pass the full ensemble as ``rescore_with``: its
    ``rescore_top`` strongest cells for ``rescore_class`` (a class id) are predicted again by the ensemble
    (``scan.rescored``, and ``whatif.rescore_summary(scan)`` says which model drew what), as the app's What if
    page does (:func:`locviz.whatif.fast_scan`): the default window and class are then the ensemble's (its
    attention, its call), not the student's.

    Raises:
        InputError: the window is outside the protein or longer than 100 residues; ``rescore_with`` has other
            classes; ``rescore_class`` is not one of them, or is given without ``rescore_with``.
    """
    if rescore_class is not None and (rescore_with is None or rescore_class not in predictor.classes):
        raise InputError(f"rescore_class {rescore_class!r}: " + (
            "it chooses the cells rescore_with predicts again; pass rescore_with=" if rescore_with is None else
            f"not a class of {predictor.name}; choose one of {', '.join(predictor.classes)}"))  # fmt: skip
    record = _record(protein)
    wild, organism = _wild(predictor, protein, organism)
    if rescore_with is not None:
        full_wild, _ = _wild(rescore_with, protein, organism)
        return whatif.fast_scan(predictor, rescore_with, record, start, end, cls=rescore_class, top=rescore_top,
                                organism=organism, callback=callback, wild=wild, full_wild=full_wild)  # fmt: skip
    return whatif.saturation_scan(predictor, record, start, end, wild=wild, callback=callback, organism=organism)


def mutate(
    predictor: Predictor,
    protein: Protein,
    variants: str | Sequence[str] | Sequence[whatif.Variant] | ProteinRecord,
    *,
    combine: bool = False,
    organism: str | None = None,
) -> list[whatif.VariantComparison]:
    """The wild type beside each mutant, as the app and ``locviz mutate`` show them: per mutant both calls,
    Δ per class (``delta``) and Δ attention per residue.

    ``variants`` is text in locviz's notation or HGVS (``"K128T"``, ``"del1-20"``, ``"ins45:AAA"``,
    ``"p.Lys128Thr"``, ``"p.Ala5_Leu9del"``, ``"p.Lys128_Ala129insGly"``): commas or spaces separate mutants,
    ``+`` joins changes into one mutant, and ``combine=True`` makes one mutant of every change; a list of
    :class:`~locviz.whatif.Variant` is one mutant, a list of texts is read as the texts joined by commas (each
    at least one mutant); a second sequence (an isoform) is lined up by global alignment.
    As in :func:`scan`, probabilities are over all the model's compartments unless ``organism`` is given.

    Raises:
        InputError: a position outside the protein, a wild-type residue that is not there (position and residue
            named), or a mutant too short to predict.
    """
    wild, organism = _wild(predictor, protein, organism)
    record = _record(protein)
    if isinstance(variants, ProteinRecord):
        return [whatif.compare(predictor, record, variants, organism=organism)]
    items = [variants] if isinstance(variants, str) else list(variants)
    if all(isinstance(v, str) for v in items):
        mutants: str | list[list[whatif.Variant]] = ", ".join(items)  # each text one mutant or more, as typed
    elif all(isinstance(v, whatif.Variant) for v in items):
        mutants = [items]
    else:
        kinds = sorted({type(v).__name__ for v in items})
        raise InputError(f"variants is text, a list of texts or a list of locviz.whatif.Variant, not a list of "
                         f"{' and '.join(kinds)}")  # fmt: skip
    return whatif.compare_mutants(predictor, record, mutants, combine=combine, organism=organism,
                                  wild_prediction=wild)  # fmt: skip


def write_table(
    predictions: Sequence[Prediction], path: str | Path, *, fmt: str | None = None, with_attention: bool = False
) -> Path:
    """Write ``predictions`` as ``locviz predict`` writes them: TSV, CSV, JSON or GFF3 (``fmt``, else the file's
    suffix: TSV for ``.tsv``, ``.txt`` or none, another suffix refused; ``"-"`` is standard output), every column
    the command line fills (signals, their conflicts with the call and notes, stored in each prediction's ``extra``
    on the way; the homology columns when :func:`neighbours` ran on these predictions, as ``--neighbours``).
    ``with_attention`` (JSON) adds each protein's sequence, attention per residue and member probabilities: the
    app's "Predictions + attention" download. Returns the path.

    Raises:
        InputError: no predictions, predictions of different models, only some of them searched,
            ``with_attention`` for a format other than JSON, or a path that cannot be written.
    """
    predictions = list(predictions)
    if not predictions:
        raise InputError("no predictions to write; predict at least one protein (predictor.predict(records))")
    classes = table.check_one_model(predictions)
    searched = [all(c in p.extra for c in homology.COLUMNS) for p in predictions]
    if any(searched) and not all(searched):
        raise InputError(f"{sum(searched)} of {len(predictions)} predictions carry homology evidence; call "
                         "locviz.neighbours on all of them (or none) before writing one table")  # fmt: skip
    target = str(path)
    fmt = table.format_for(target, fmt, table.PREDICTION_FORMATS)
    if with_attention and fmt != "json":  # before the file is opened (the writer refuses it too)
        raise InputError(f"with_attention adds per-residue lists, which only JSON holds; write {target} with "
                         "fmt='json' (locviz.table.attention_bytes gives the long per-residue table of "
                         "'locviz predict --attention')")  # fmt: skip
    table.check_output_path(target)
    pipeline.annotate(predictions)
    extra = pipeline.extra_columns(neighbours=all(searched))
    handle = table.open_output(target)
    try:
        writer = table.writer_for(handle, fmt, classes, model=predictions[0].model_name, extra_columns=extra,
                                  with_attention=with_attention)  # fmt: skip
        writer.write(predictions)
        writer.close()
    finally:
        if handle is not sys.stdout:
            handle.close()
    return Path(target)
