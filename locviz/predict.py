"""Predictor: records in, :class:`Prediction` out (probabilities, attention, filters).

The model sees each protein after the bundle's long-sequence policy; everything
it returns is mapped back onto the full sequence here, so callers index arrays
by residue of the sequence they gave and never meet padding or cropping.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from locviz import batching, calibration, cpu, homology, organisms
from locviz.encoding import tokenize
from locviz.errors import BundleError, InputError
from locviz.prediction import Prediction
from locviz.sequences import ParseResult, ProteinRecord, parse
from locviz.weights import ModelBundle, load_bundle

__all__ = ["Prediction", "Predictor", "load_model"]  # Prediction lives in locviz.prediction; re-exported here

DERIVED_FROM_THE_CALL = ("signal_conflicts", "notes", "member_agreement", "member_spread")
"""Table cells :func:`locviz.pipeline.annotate` makes from a call; a restricted copy is annotated afresh."""


def straddles_cut(positions: np.ndarray, half: int) -> np.ndarray:
    """For each model-input residue (``positions``: its place in the full sequence), whether a window of
    ``half`` residues each side spans the long-sequence cut, so a filter there reads residues from both ends."""
    n = len(positions)
    if half < 1 or n < 2:
        return np.zeros(n, dtype=bool)
    breaks = np.concatenate([[0], np.cumsum(np.diff(positions) != 1)])  # breaks[j]: cuts between input 0 and j
    lo = np.clip(np.arange(n) - half, 0, n - 1)
    hi = np.clip(np.arange(n) + half, 0, n - 1)
    return breaks[hi] != breaks[lo]


class Predictor:
    """A loaded bundle plus batching; one instance may be shared between threads.

    Streamlit serves sessions from threads; the forward pass runs under a lock
    so concurrent requests queue instead of oversubscribing the CPU threads or
    GPU memory, while cropping, tokenising and mapping back run outside it.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        batch_size: int = batching.DEFAULT_BATCH_SIZE,
        max_batch_residues: int = batching.DEFAULT_MAX_RESIDUES,
        calibrated: bool = True,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_batch_residues < 1:
            raise ValueError("max_batch_residues must be at least 1")
        self._bundle = bundle
        self.batch_size = batch_size
        self.max_batch_residues = max_batch_residues
        self._lock = threading.Lock()
        self._reference_lock = threading.Lock()
        self._reference: homology.Reference | None = None
        self._reference_read = False
        cpu.apply_thread_policy()  # LOCVIZ_THREADS, when set
        # the card's calibration (the identity when uncalibrated or calibrated=False) and support-verdict thresholds
        self.calibrator = calibration.calibrator_of(bundle.card) if calibrated else calibration.Calibrator()
        self.support_thresholds = calibration.thresholds_of(bundle.card)
        bundle.model.eval()

    @property
    def bundle(self) -> ModelBundle:
        return self._bundle

    @property
    def name(self) -> str:
        return self._bundle.name

    @property
    def classes(self) -> list[str]:
        return self._bundle.classes

    @property
    def device(self) -> torch.device:
        return self._bundle.device

    @property
    def reference(self) -> homology.Reference | None:
        """The annotated proteins the model was trained on (the card's reference set, read on first use; no
        DIAMOND needed), or None for a bundle without one. Each prediction's ``known_location`` comes from it;
        a reference file that is missing or altered is a warning (and no ``known_location``), not a failed call."""
        with self._reference_lock:
            if not self._reference_read:
                self._reference_read = True
                if self._bundle.card.reference is not None:
                    try:
                        self._reference = homology.Reference.load(self._bundle)
                    except BundleError as exc:
                        warnings.warn(f"known_location is left empty: {exc}", stacklevel=2)
            return self._reference

    def predict(
        self, records: Sequence[ProteinRecord], with_filters: bool = False, organism: str = "any"
    ) -> list[Prediction]:
        """One :class:`Prediction` per record, in input order (see :meth:`iter_predict`).

        The records are in memory already, so they are length-bucketed as one
        chunk (least padding: 256-record chunks pad ~12 % more on DeepLoc).
        """
        chunk_size = max(len(records), 1)
        return list(self.iter_predict(records, with_filters=with_filters, organism=organism, chunk_size=chunk_size))

    def iter_predict(
        self,
        records: Iterable[ProteinRecord],
        with_filters: bool = False,
        callback: Callable[[int], None] | None = None,
        chunk_size: int = 256,
        organism: str = "any",
    ) -> Iterator[Prediction]:
        """Yield one :class:`Prediction` per record, in input order, as they are ready.

        Records are read ``chunk_size`` at a time (so a generator over a huge
        file is never held whole) and batched by length inside each chunk.
        ``with_filters`` adds the first-layer filter activations of the
        ensemble's motif member (n_filters floats per residue). ``callback(n)``
        is told how many proteins each batch finished (progress bars).

        Probabilities are calibrated as the card says (:class:`~locviz.calibration.Calibrator`; the raw
        ensemble mean stays in ``raw_probabilities``), restricted to the
        compartments ``organism`` can have (:mod:`locviz.organisms`), and each
        prediction carries its ``support`` verdict in ``extra`` (see :meth:`finish`).
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        organisms.check_organism(organism)
        how = ("parse text first: predictor.predict_text(text), or predictor.predict(locviz.parse(text).records), "
               "which also reports what was wrong with it")  # fmt: skip
        if isinstance(records, str):
            raise InputError(f"predict takes parsed records, not text; {how}")
        chunk: list[ProteinRecord] = []
        for n, record in enumerate(records, 1):
            if not isinstance(record, ProteinRecord):
                raise InputError(f"record {n} is a {type(record).__name__}, not a ProteinRecord; {how}")
            chunk.append(record)
            if len(chunk) == chunk_size:
                yield from self._predict_chunk(chunk, with_filters, callback, organism)
                chunk = []
        if chunk:
            yield from self._predict_chunk(chunk, with_filters, callback, organism)

    def finish(self, prediction: Prediction, organism: str = "any") -> Prediction:
        """Calibrate a raw prediction, restrict it to ``organism`` and attach its support verdict.

        The one post-processing step: :meth:`iter_predict` calls it on every
        prediction. To show a cached prediction for another organism, use
        :meth:`for_organism` instead (it starts from the unrestricted probabilities).

        Raises:
            InputError: ``prediction`` was calibrated already (twice would sharpen or soften it again).
        """
        if prediction.raw_probabilities is not None:
            raise InputError(f"protein {prediction.id!r} is calibrated already: finish() takes the raw prediction; "
                             "use for_organism() to restrict a finished one")  # fmt: skip
        prediction = calibration.calibrate_prediction(prediction, self.calibrator)
        return self.for_organism(prediction, organism)

    def for_organism(self, prediction: Prediction, organism: str) -> Prediction:
        """A calibrated ``organism='any'`` prediction restricted to ``organism``, support verdict renewed
        (``extra['organism']`` records the organism for the table). What was derived from the unrestricted call
        is not carried over: the homology evidence and combined call (search again: ``locviz.neighbours``), and
        the signal conflicts and notes (:func:`locviz.pipeline.annotate` renews them)."""
        restricted = organisms.apply(prediction, organism)
        if restricted is not prediction:  # a copy with its own extra: the original keeps its evidence
            for key in (*homology.EXTRA_KEYS, *DERIVED_FROM_THE_CALL):
                restricted.extra.pop(key, None)
        restricted.extra["organism"] = restricted.organism
        return calibration.annotate(restricted, self.support_thresholds)

    def _predict_chunk(
        self,
        records: list[ProteinRecord],
        with_filters: bool,
        callback: Callable[[int], None] | None,
        organism: str = "any",
    ) -> list[Prediction]:
        policy = self._bundle.length_policy
        crops = [policy.crop(r.sequence) for r in records]
        for record, (kept, _, _) in zip(records, crops, strict=True):
            if not kept:
                raise InputError(f"record '{record.id}' has an empty sequence; parse input with locviz.parse")
        tokens = [tokenize(kept) for kept, _, _ in crops]
        motif_member = self._bundle.model.motif_member if with_filters else None
        out: list[Prediction | None] = [None] * len(records)
        batches = batching.run(
            self._bundle.model,
            tokens,
            self.device,
            batch_size=self.batch_size,
            max_residues=self.max_batch_residues,
            with_filters=with_filters,
            lock=self._lock,
            callback=callback,
        )
        reference = self.reference
        for idx, result in batches:
            for b, i in enumerate(idx):
                filters = None if result.filter_activations is None else result.filter_activations[b]
                raw = self._to_full_length(records[i], crops[i], result, b, filters, motif_member)
                known = reference.with_sequence(records[i].sequence) if reference is not None else []
                raw.extra["known_location"] = known[0].location if known else None  # a training protein: recall
                out[i] = self.finish(raw, organism)
        missing = [records[i].id for i, p in enumerate(out) if p is None]
        if missing:  # a lost row would shift every later prediction against its record
            raise RuntimeError(f"no prediction came back for {', '.join(missing[:5])}: a batching bug")
        return [p for p in out if p is not None]

    def _to_full_length(
        self,
        record: ProteinRecord,
        crop: tuple[str, np.ndarray, str | None],
        result: batching.BatchResult,
        b: int,
        filters: np.ndarray | None,
        motif_member: int | None,
    ) -> Prediction:
        """Map row ``b`` of a batch back onto the full sequence (NaN where the model did not look)."""
        _, positions, note = crop
        n, full_len = len(positions), len(record.sequence)
        seen = np.zeros(full_len, dtype=bool)
        seen[positions] = True
        attention = np.full(full_len, np.nan)
        attention[positions] = result.attention[b, :n]
        full_filters = None
        if filters is not None:
            full_filters = np.full((filters.shape[0], full_len), np.nan, dtype=np.float32)
            kept = filters[:, :n].copy()
            for f in range(kept.shape[0]):  # a window across the cut mixes both ends: not this sequence's residues
                kept[f, straddles_cut(positions, self.bundle.config.filter_width(f) // 2)] = np.nan
            full_filters[:, positions] = kept
        return Prediction(
            id=record.id,
            sequence=record.sequence,
            classes=list(self.classes),
            probabilities=result.probabilities[b].astype(np.float64),
            attention=attention,
            seen=seen,
            model_name=self.name,
            member_probabilities=result.member_probabilities[:, b, :].astype(np.float64),
            filter_activations=full_filters,
            filter_member=motif_member,
            notes=list(record.notes) + ([note] if note else []),
        )

    def predict_text(
        self, text: str, max_records: int | None = None, with_filters: bool = False, organism: str = "any"
    ) -> tuple[ParseResult, list[Prediction]]:
        """Parse raw or FASTA text and predict every valid record (for ``organism``, as :meth:`predict`); the
        parse result carries the problems."""
        parsed = parse(text, max_records=max_records)
        return parsed, self.predict(parsed.records, with_filters=with_filters, organism=organism)


def load_model(
    name_or_path: str = "multiloc",
    device: str | torch.device = "auto",
    batch_size: int = batching.DEFAULT_BATCH_SIZE,
    max_batch_residues: int = batching.DEFAULT_MAX_RESIDUES,
) -> Predictor:
    """Load a shipped model (``multiloc``, ``deeploc``, or their one-network students ``multiloc-fast`` and
    ``deeploc-fast``) or a bundle path as a :class:`Predictor`.

    ``device="auto"`` picks CUDA when PyTorch sees a GPU, else the CPU; an
    explicit device is honoured (``BundleError`` if it is not available).
    """
    bundle = load_bundle(name_or_path, device=device)
    return Predictor(bundle, batch_size=batch_size, max_batch_residues=max_batch_residues)
