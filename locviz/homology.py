"""Nearest annotated proteins as evidence beside the model's call, and a combined call.

The reference set is every protein with a known location that a shipped model
was trained on (``weights/NAME.reference.fa.gz``: MultiLoc folds 1-4 for
``multiloc``, never its test fold 0; all 8 DeepLoc training folds for
``deeploc``). Its file, sha256, size and origin are in the card's ``reference``
section; :meth:`Reference.load` refuses a file whose checksum differs. Each
record's header carries what a hit reports::

    >P45434 location=ER dataset=multiloc fold=4

The search is DIAMOND (Buchfink et al. 2021; Debian ``diamond-aligner``, run as a
subprocess), a maintained aligner: BLOSUM62 local alignments with E-values
and bit scores. Options measured on this 2-core machine (shared with other
jobs, so ±2x), 1,196 MultiLoc fold-0 queries against the 15,848 MultiLoc +
DeepLoc training proteins: exhaustive Smith-Waterman (pyopal) 1.1 queries/s;
pyswrd (SWORD) 2.5/s; MMseqs2 15-36/s, and ~4 s / 0.9 GB for a single query
(it indexes the targets on every call); DIAMOND ``default`` ~200/s (89 % of
queries with a hit at E <= 1e-3), ``--mid-sensitive`` 71/s (91 %),
``--sensitive`` 43/s (92 %); one query alone 0.15-0.2 s with the
query-indexed algorithm (``--algo 1``). On DeepLoc cross-validation (5,717
out-of-fold proteins, each searched without its own 40 %-identity fold):

    mode            hits    combined accuracy   search speed
    default         50.1 %  0.733               275 proteins/s
    mid-sensitive   60.4 %  0.743               122 proteins/s   <- used
    sensitive       65.0 %  0.748                53 proteins/s

``--mid-sensitive`` keeps ``locviz predict --neighbours`` above 50 proteins/s.
``benchmarks/homology.py`` prints the current figures.

A protein is *known* when the reference holds its very sequence (the model was
trained on it); then the evidence says so plainly ("known: nucleus") and its
nearest protein is itself at identity 1. A protein whose accession is in the
reference with another sequence (a variant or isoform of a training protein) is
not known: its hits are reported as DIAMOND finds them, and the sentence names the
entry. Neither entry is independent support: the support verdict reads the best
hit that is another protein (:attr:`Evidence.other_hits`).

The combined call weighs homology transfer against the model by the best
hit's identity ``x`` and query coverage ``c`` (fractions 0-1)::

    w(x) = 1 / (1 + exp(-slope * (x - midpoint)))        (w = 0 when there is no hit)
    w    = w(x) * c                                      (when the combination was fitted with coverage)
    p    = w * onehot(hit location) + (1 - w) * p_model

A hit over a tenth of the query (one shared domain) moves the call a tenth as far as
one over the whole protein. Cards fitted before coverage entered keep ``w(x)`` alone
(``coverage: false``), so stored parameters are used as they were fitted.

``slope`` and ``midpoint`` minimise the log-loss of out-of-fold calls only:
each ensemble member predicts its own validation fold, searched against the
reference with that fold removed (:func:`cross_validate`, :func:`fit_combination`);
they live in ``card.reference.combination``.

For the app (the Predict page)::

    reference = Reference.load(bundle)                  # once per process (st.cache_resource); or, when one
                                                        # protein at a time must come back fastest,
                                                        # Reference.load(bundle, sensitivity="default"): ~3x
                                                        # quicker, finds fewer distant hits (benchmarks/homology.py)
    ev = evidence(prediction, reference)                # Evidence: hits, known, sentence, combined
    ev.sentence   # "closest annotated protein P67890, 62 % identity over 95 % of the query, E = 1e-80:
                  #  mitochondrion — agrees with the model"
    ev.hits       # up to 5 Hit(accession, location, identity, coverage, evalue, bitscore, fold)

:func:`annotate` fills ``Prediction.extra`` with the table columns of
``locviz predict --neighbours`` (:data:`COLUMNS`).
"""

from __future__ import annotations

import functools
import gzip
import io
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from locviz import calibration, organisms
from locviz.calibration import HomologyHint, SupportThresholds
from locviz.card import ModelCard, ReferenceCard, display_name
from locviz.datasets import LabelledSet, sha256_of
from locviz.errors import BundleError, InputError, SearchError
from locviz.prediction import Prediction
from locviz.sequences import iter_fasta, record_accession

if TYPE_CHECKING:
    from locviz.weights import ModelBundle

__all__ = [
    "COLUMNS",
    "Combination",
    "Evidence",
    "Hit",
    "RefEntry",
    "Reference",
    "SearchError",
    "annotate",
    "build",
    "cross_validate",
    "evidence",
    "evidence_columns",
    "fit_combination",
]

REFERENCE_SUFFIX = ".reference.fa.gz"
MAX_EVALUE = 1e-3
"""Hits above this E-value are not reported (the issue's phmmer check used the same cut-off)."""
MAX_HITS = 5
SENSITIVITIES = ("fast", "default", "mid-sensitive", "sensitive")
DEFAULT_SENSITIVITY = "mid-sensitive"
"""More hits and a better combined call than ``default`` in DeepLoc CV, fast enough (see the module docstring)."""
SMALL_QUERY_SET = 16
"""Up to this many queries DIAMOND indexes the queries, not the reference (--algo 1): 0.2 s instead of 1.8 s."""
COLUMNS = ("nearest_id", "nearest_identity", "nearest_coverage", "nearest_evalue", "nearest_location", "combined",
           "combined_confidence")
EXTRA_KEYS = (*COLUMNS, "homology_sentence", "homology_hint")
"""Everything :func:`annotate` puts in ``Prediction.extra``: made for one call, so dropped when the call changes."""
INSTALL_HINT = "install DIAMOND: apt-get install diamond-aligner (scripts/install.sh does)"


class _HasSequence(Protocol):
    id: str
    sequence: str


@dataclass(frozen=True)
class RefEntry:
    """One annotated protein of the reference set."""

    accession: str
    location: str  # class id of the model (e.g. "Mitochondrion")
    dataset: str  # "multiloc" / "deeploc"
    fold: int


@dataclass(frozen=True)
class Hit:
    """One aligned reference protein (DIAMOND's best local alignment to it)."""

    accession: str
    location: str
    identity: float  # fraction 0-1 of identical columns in the alignment
    coverage: float  # fraction 0-1 of the query inside the alignment
    evalue: float
    bitscore: float
    fold: int


HIT_COLUMNS = ("id", "rank", "accession", "location", "identity", "coverage", "evalue", "bitscore", "fold", "uniprot")
"""The hits table (``locviz predict --neighbours --hits FILE``, the Predict page's hits list): one row per hit,
best first, up to :data:`MAX_HITS` a protein."""


def hit_rows(protein_id: str, hits: Sequence[Hit]) -> Iterator[list[Any]]:
    """:data:`HIT_COLUMNS` rows of one protein's hits (``location`` as the reference set spells it)."""
    for rank, hit in enumerate(hits, start=1):
        yield [protein_id, rank, hit.accession, hit.location, round(hit.identity, 4), round(hit.coverage, 4),
               hit.evalue, hit.bitscore, hit.fold, uniprot_url(hit.accession)]  # fmt: skip


UNIPROT_ENTRY = "https://www.uniprot.org/uniprotkb/{accession}/entry"


def uniprot_url(accession: str) -> str:
    """Where a reference protein's name, organism and annotation are (the reference set keeps only its accession,
    location and fold): the app links every hit there, so a biologist can judge what a hit is."""
    return UNIPROT_ENTRY.format(accession=accession)


# ----------------------------------------------------------------------------- the aligner
def diamond_program() -> str:
    """Path of the ``diamond`` executable ($LOCVIZ_DIAMOND, else the PATH)."""
    program = os.environ.get("LOCVIZ_DIAMOND") or shutil.which("diamond")
    if not program:
        raise SearchError(f"the homology search needs the DIAMOND aligner, which is not on the PATH; {INSTALL_HINT}")
    return program


def _run(args: list[str], timeout: float = 600.0) -> None:
    """Run DIAMOND; a run that outlives ``timeout`` is killed and tried once more.

    Why: DIAMOND 2.1.3 (Debian bookworm) was seen to hang for good, every thread in a futex wait,
    on a 2-core machine; a second run of the same search finishes normally.
    """
    for attempt in (1, 2):
        try:
            done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=timeout)
            break
        except subprocess.TimeoutExpired as exc:
            if attempt == 2:
                raise SearchError(f"DIAMOND did not finish {' '.join(args[:2])} within {timeout:.0f} s, twice") from exc
        except OSError as exc:
            raise SearchError(f"could not run {args[0]}: {exc}; {INSTALL_HINT}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SearchError(f"DIAMOND failed ({' '.join(args[:2])}): {' | '.join(tail)}")


def _write_fasta(path: Path, items: Iterable[tuple[str, str]]) -> None:
    with open(path, "w") as handle:
        for name, sequence in items:
            handle.write(f">{name}\n{sequence}\n")


def search_mode(card: ModelCard, chosen: str | None = None) -> str:
    """The DIAMOND mode a search of ``card``'s reference set runs in: ``chosen``, else the mode its combined call
    was fitted with (:data:`DEFAULT_SENSITIVITY` for a card without one)."""
    if chosen is not None:
        return chosen
    section = card.reference
    fitted = (section.combination or {}).get("sensitivity") if section is not None else None
    return str(fitted or DEFAULT_SENSITIVITY)


class _Diamond:
    """DIAMOND databases of a reference (the whole set, and subsets without some folds) in a private temp folder."""

    def __init__(self, sequences: Sequence[str], threads: int, sensitivity: str):
        self.sequences = sequences
        self.threads = threads
        self.sensitivity = sensitivity
        self.folder = Path(tempfile.mkdtemp(prefix="locviz-homology-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._databases: dict[frozenset[int], tuple[Path, int]] = {}
        self._lock = threading.Lock()

    def database(self, excluded: frozenset[int]) -> tuple[Path, int]:
        """(database path, proteins in it) for the reference less ``excluded`` indices; built once, then cached."""
        with self._lock:
            if excluded not in self._databases:
                name = f"db{len(self._databases)}"
                fasta = self.folder / f"{name}.fa"
                kept = [i for i in range(len(self.sequences)) if i not in excluded]
                _write_fasta(fasta, ((f"r{i}", self.sequences[i]) for i in kept))
                db = self.folder / name
                if kept:
                    _run([diamond_program(), "makedb", "--in", str(fasta), "--db", str(db), "--quiet",
                          "--threads", str(self.threads)])  # fmt: skip
                fasta.unlink()
                self._databases[excluded] = (db, len(kept))
            return self._databases[excluded]

    def search(
        self, sequences: Sequence[str], excluded: frozenset[int], max_target_seqs: int, max_evalue: float
    ) -> list[list[tuple[int, float, float, float, float]]]:
        """Per query: (reference index, identity, coverage, E-value, bit score), best first."""
        out: list[list[tuple[int, float, float, float, float]]] = [[] for _ in sequences]
        db, size = self.database(excluded)
        if size == 0 or not sequences:
            return out
        tag = uuid.uuid4().hex
        query, result = self.folder / f"q{tag}.fa", self.folder / f"q{tag}.tsv"
        _write_fasta(query, ((f"q{i}", s) for i, s in enumerate(sequences)))
        args = [
            diamond_program(), "blastp", "--db", f"{db}.dmnd", "--query", str(query), "--out", str(result),
            "--outfmt", "6", "qseqid", "sseqid", "pident", "qcovhsp", "evalue", "bitscore",
            "--evalue", repr(max_evalue), "--max-target-seqs", str(max_target_seqs), "--max-hsps", "1",
            "--threads", str(self.threads), "--quiet",
        ]  # fmt: skip
        if self.sensitivity != "default":
            args.append(f"--{self.sensitivity}")
        if len(sequences) <= SMALL_QUERY_SET:
            args += ["--algo", "1"]
        try:
            _run(args, timeout=60.0 + 0.2 * len(sequences))
            with open(result) as handle:
                for line in handle:
                    q, r, pident, qcov, evalue, bits = line.rstrip("\n").split("\t")
                    out[int(q[1:])].append((int(r[1:]), float(pident) / 100, float(qcov) / 100, float(evalue),
                                            float(bits)))  # fmt: skip
        finally:
            query.unlink(missing_ok=True)
            result.unlink(missing_ok=True)
        for hits in out:
            hits.sort(key=lambda h: (-h[4], h[3], h[0]))
        return out

    def close(self) -> None:
        self._finalizer()


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# ----------------------------------------------------------------------------- the reference set
@dataclass
class Reference:
    """The annotated proteins a model was trained on, and the search against them.

    ``search`` is thread-safe (the app serves sessions from threads); DIAMOND's
    databases are built in a private temporary folder on first use and removed
    with the object.
    """

    entries: tuple[RefEntry, ...]
    sequences: tuple[str, ...]
    path: Path | None = None
    sensitivity: str = DEFAULT_SENSITIVITY
    threads: int = field(default_factory=default_threads)
    combination: Combination | None = None
    _engine: _Diamond | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _index: _Index = field(init=False, repr=False, compare=False)  # shared by references of the same entries

    def __post_init__(self) -> None:
        if len(self.entries) != len(self.sequences):
            raise ValueError("one sequence per entry")
        if self.sensitivity not in SENSITIVITIES:
            raise InputError(f"sensitivity must be one of {', '.join(SENSITIVITIES)}, got {self.sensitivity!r}")
        self._index = _index_of(tuple(self.entries), tuple(self.sequences))
        self._by_accession = self._index.by_accession
        self._by_sequence = self._index.by_sequence

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def locations(self) -> tuple[str, ...]:
        return tuple(sorted({e.location for e in self.entries}))

    # ------------------------------------------------------------------ building, reading, writing
    @classmethod
    def from_labelled(cls, data: LabelledSet, folds: Sequence[int], **options: Any) -> Reference:
        """Every protein of ``data`` in ``folds``, with its location and fold."""
        idx = data.subset(list(folds))
        if len(idx) == 0:
            raise InputError(
                f"{data.name} has no proteins in folds {list(folds)}; it has {sorted(set(data.folds.tolist()))}"
            )
        entries = tuple(
            RefEntry(data.records[i].id, data.classes[int(data.labels[i])], data.name, int(data.folds[i])) for i in idx
        )
        return cls(entries, tuple(data.records[i].sequence for i in idx), **options)

    def write(self, path: str | Path) -> str:
        """Write the gzip FASTA (byte-for-byte reproducible: no time stamp); returns its sha256."""
        path = Path(path)
        if path.suffix in (".fasta", ".fa", ".tsv", ".csv") or not path.name.endswith(".gz"):
            raise InputError(f"the reference file must be gzip-compressed and end in .gz (e.g. x{REFERENCE_SUFFIX}), "
                             f"got {path.name}")  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        for e, s in zip(self.entries, self.sequences, strict=True):
            text.write(f">{e.accession} location={e.location} dataset={e.dataset} fold={e.fold}\n{s}\n")
        with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
            handle.write(text.getvalue().encode("ascii"))
        return sha256_of(path)

    @classmethod
    def read(cls, path: str | Path, sha256: str | None = None, **options: Any) -> Reference:
        """Read a reference file, checking its sha256 first when one is given.

        The parsed file is shared by every reference read from it in this process (each Predictor reads the
        card's); a file changed on disk since is read and checked again.

        Raises:
            BundleError: the file is missing, its checksum differs, or a header is malformed.
        """
        path = Path(path)
        if not path.is_file():
            raise BundleError(f"reference set {path} is missing; rebuild it with 'locviz reference' (see the card)")
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)
        with _READ_LOCK:  # one parse per file, even when the app's warm-up and a first session ask at once
            entries, sequences = _read_reference(path.resolve(), sha256, stamp)
        return cls(entries, sequences, path=path, **options)

    @classmethod
    def load(cls, bundle_or_card: ModelBundle | str | Path, **options: Any) -> Reference:
        """The reference set named in a bundle's card (or a card path / shipped model name), checksum checked.

        ``sensitivity`` (DIAMOND's mode) left out or None: the mode the card's combined call was fitted with.

        Raises:
            BundleError: the card has no ``reference`` section, or the file is missing or altered.
        """
        from locviz.weights import ModelBundle, read_card

        if isinstance(bundle_or_card, ModelBundle):
            card_path, card = bundle_or_card.card_path, bundle_or_card.card
        else:
            card_path, card = read_card(bundle_or_card)
        section = card.reference
        if section is None:
            raise BundleError(
                f"{card_path} has no reference set; build one with 'locviz reference --model {card.name or card_path} "
                "--dataset ... --data ... --folds ...' (the model's training folds)"
            )
        combination = Combination.from_dict(section.combination, card_path) if section.combination else None
        options["sensitivity"] = search_mode(card, options.get("sensitivity"))
        fitted_for = combination.metrics.get("weights_sha256") if combination else None
        if fitted_for and fitted_for != card.weights_sha256:
            combination = None  # fitted for other weights: stale, so no combined call rather than a wrong one
        reference = cls.read(card_path.parent / section.file, section.sha256, combination=combination, **options)
        unknown = sorted(set(reference.locations) - set(card.classes))
        if unknown:
            raise BundleError(f"{reference.path}: locations {unknown} are not classes of {card_path.name}")
        return reference

    @classmethod
    def for_search(cls, bundle_or_card: ModelBundle | str | Path, **options: Any) -> Reference:
        """:meth:`load`, and fail now (not after the first chunk) when DIAMOND is missing."""
        diamond_program()
        return cls.load(bundle_or_card, **options)

    def section(self, path: Path, card_folder: Path, sources: Sequence[str], command: str) -> ReferenceCard:
        """The card's ``reference`` section for the file written at ``path``."""
        return ReferenceCard(
            file=os.path.relpath(path.resolve(), card_folder.resolve()),
            sha256=sha256_of(path),
            n_proteins=len(self),
            sources=tuple(sources),
            command=command,
            combination=self.combination.to_dict() if self.combination else {},
        )

    # ------------------------------------------------------------------ questions
    def with_sequence(self, sequence: str) -> list[RefEntry]:
        """Reference entries with exactly this sequence: the model was trained on this very protein."""
        return [self.entries[i] for i in self._by_sequence.get(sequence, ())]

    def known(self, record: _HasSequence) -> list[RefEntry]:
        """Reference entries that are this very protein (the same sequence: the model was trained on it)."""
        return self.with_sequence(record.sequence)

    def named(self, record_or_accession: _HasSequence | str) -> list[RefEntry]:
        """Reference entries with exactly this record's accession (``sp|P12345|X`` → P12345; ``P12345-2`` is
        another accession), whatever their sequence: the protein itself, or a variant of it when they differ."""
        text = record_or_accession if isinstance(record_or_accession, str) else record_or_accession.id
        return [self.entries[i] for i in self._by_accession.get(record_accession(text), ())]

    def _excluded(self, exclude_ids: Iterable[str], exclude_folds: Iterable[int]) -> frozenset[int]:
        folds = set(exclude_folds)
        out = {i for i, e in enumerate(self.entries) if e.fold in folds}
        for accession in exclude_ids:
            out.update(self._by_accession.get(record_accession(accession), ()))
        return frozenset(out)

    def search(
        self,
        records: Sequence[_HasSequence],
        *,
        exclude_ids: Iterable[str] = (),
        exclude_folds: Iterable[int] = (),
        max_hits: int = MAX_HITS,
        max_evalue: float = MAX_EVALUE,
    ) -> list[list[Hit]]:
        """The best ``max_hits`` hits (E <= ``max_evalue``) for each record, best bit score first.

        ``exclude_ids`` (accessions) and ``exclude_folds`` remove proteins from the
        reference for this search (cross-validation: the evaluated fold is left out).

        Raises:
            InputError: ``max_hits`` < 1 or ``max_evalue`` <= 0.
            SearchError: DIAMOND is missing or failed.
        """
        if max_hits < 1:
            raise InputError(f"max_hits must be >= 1, got {max_hits}")
        if not max_evalue > 0:
            raise InputError(f"max_evalue must be > 0, got {max_evalue}")
        with self._lock:
            if self._engine is None:
                self._engine = _Diamond(self.sequences, self.threads, self.sensitivity)
        excluded = self._excluded(exclude_ids, exclude_folds)
        raw = self._engine.search([r.sequence for r in records], excluded, max_hits, max_evalue)
        return [[self._hit(*h) for h in hits[:max_hits]] for hits in raw]

    def _hit(self, index: int, identity: float, coverage: float, evalue: float, bitscore: float) -> Hit:
        e = self.entries[index]
        return Hit(e.accession, e.location, min(identity, 1.0), min(coverage, 1.0), evalue, bitscore, e.fold)

    def close(self) -> None:
        """Remove DIAMOND's databases now (they are removed with the object anyway)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@dataclass(frozen=True)
class _Index:
    """Rows by accession and by sequence, read-only: references with the same entries share one."""

    by_accession: Mapping[str, tuple[int, ...]]
    by_sequence: Mapping[str, tuple[int, ...]]


@functools.lru_cache(maxsize=8)
def _index_of(entries: tuple[RefEntry, ...], sequences: tuple[str, ...]) -> _Index:
    """The rows of each accession and sequence (~0.3 s for 11,085 proteins; a cache hit only hashes the tuples)."""
    by_accession: dict[str, list[int]] = {}
    by_sequence: dict[str, list[int]] = {}
    for i, (entry, sequence) in enumerate(zip(entries, sequences, strict=True)):
        by_accession.setdefault(entry.accession, []).append(i)
        by_sequence.setdefault(sequence, []).append(i)
    return _Index(MappingProxyType({k: tuple(v) for k, v in by_accession.items()}),
                  MappingProxyType({k: tuple(v) for k, v in by_sequence.items()}))  # fmt: skip


_READ_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _read_reference(
    path: Path, sha256: str | None, stamp: tuple[int, ...]
) -> tuple[tuple[RefEntry, ...], tuple[str, ...]]:
    """Parse a reference file once per process (~0.5 s for DeepLoc's 11,085 proteins), not once per Predictor.

    ``stamp`` (modification and change times, size, inode) is part of the key, so a file rewritten on disk is
    read (and its checksum checked) again; a failed read raises and is not cached.
    """
    if sha256:
        actual = sha256_of(path)
        if actual != sha256:
            raise BundleError(
                f"checksum mismatch for {path}: the card says sha256 {sha256[:12]}..., the file has "
                f"{actual[:12]}...; the file is corrupt or not the one the card describes (rebuild it with "
                "'locviz reference')"
            )
    entries, sequences = [], []
    try:
        with gzip.open(path, "rt", encoding="ascii") as handle:
            for k, (accession, fields, sequence) in enumerate(iter_fasta(handle)):
                entries.append(_parse_header(path, k, f"{accession} {fields}"))
                sequences.append(sequence.strip())
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path} is not a readable gzip FASTA: {exc}") from exc
    if not entries:
        raise BundleError(f"{path} holds no proteins")
    return tuple(entries), tuple(sequences)


def _parse_header(path: Path, k: int, header: str) -> RefEntry:
    words = header.split()
    fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    missing = [key for key in ("location", "dataset", "fold") if key not in fields]
    if not words or missing or not fields.get("fold", "").isdigit():
        raise BundleError(
            f"{path}, record {k + 1}: header {header!r} must read '>ACCESSION location=... dataset=... fold=N'"
        )
    return RefEntry(words[0], fields["location"], fields["dataset"], int(fields["fold"]))


# ----------------------------------------------------------------------------- the combined call
@dataclass(frozen=True)
class Combination:
    """``w(identity) = 1 / (1 + exp(-slope (identity - midpoint)))``; see the module docstring."""

    slope: float
    midpoint: float
    fitted_on: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    sensitivity: str = DEFAULT_SENSITIVITY  # DIAMOND mode of the searches it was fitted on
    coverage: bool = False  # the weight is multiplied by the hit's query coverage (fitted so; older cards: not)

    def weight(
        self, identity: np.ndarray | float | None, coverage: np.ndarray | float | None = None
    ) -> np.ndarray:
        """Weight of homology transfer for best-hit identities (NaN or None: no hit, weight 0), times the
        query coverage when this combination uses it (coverage unknown, NaN: taken as whole)."""
        x = np.asarray(np.nan if identity is None else identity, dtype=np.float64)
        w = 1.0 / (1.0 + np.exp(-self.slope * (np.nan_to_num(x, nan=0.0) - self.midpoint)))
        if self.coverage and coverage is not None:
            w = w * np.clip(np.nan_to_num(np.asarray(coverage, dtype=np.float64), nan=1.0), 0.0, 1.0)
        return np.where(np.isfinite(x), w, 0.0)

    def combine(
        self,
        probabilities: np.ndarray,
        hit_class: np.ndarray,
        identity: np.ndarray,
        coverage: np.ndarray | None = None,
    ) -> np.ndarray:
        """(N, C) probabilities mixed with the one-hot hit classes (index -1 / NaN identity: no hit)."""
        probabilities = np.atleast_2d(np.asarray(probabilities, dtype=np.float64))
        hit_class = np.atleast_1d(np.asarray(hit_class))
        w = np.atleast_1d(self.weight(identity, coverage))[:, None]
        onehot = np.zeros_like(probabilities)
        has = hit_class >= 0
        onehot[np.flatnonzero(has), hit_class[has]] = 1.0
        w = np.where(has[:, None], w, 0.0)
        return w * onehot + (1.0 - w) * probabilities

    def to_dict(self) -> dict[str, Any]:
        method = "logistic weight of best-hit identity" + (", times its query coverage" if self.coverage else "")
        return {"method": method, "slope": self.slope, "midpoint": self.midpoint, "coverage": self.coverage,
                "search": f"DIAMOND blastp --{self.sensitivity}, E <= {MAX_EVALUE:g}", "sensitivity": self.sensitivity,
                "fitted_on": self.fitted_on, "metrics": dict(self.metrics)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | str = "card") -> Combination:
        try:
            slope, midpoint = float(data["slope"]), float(data["midpoint"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"{path}: reference.combination needs numbers 'slope' and 'midpoint', got {data}"
            raise BundleError(msg) from exc
        if not (math.isfinite(slope) and math.isfinite(midpoint)):
            raise BundleError(f"{path}: reference.combination slope/midpoint must be finite, got {slope}, {midpoint}")
        sensitivity = str(data.get("sensitivity", DEFAULT_SENSITIVITY))
        if sensitivity not in SENSITIVITIES:
            raise BundleError(f"{path}: reference.combination.sensitivity must be one of {SENSITIVITIES}, got "
                              f"{sensitivity!r}")  # fmt: skip
        coverage = data.get("coverage", False)
        if not isinstance(coverage, bool):
            raise BundleError(f"{path}: reference.combination.coverage must be true or false, got {coverage!r}")
        return cls(slope, midpoint, str(data.get("fitted_on", "")), dict(data.get("metrics", {})), sensitivity,
                   coverage)  # fmt: skip


SLOPES = (2.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0)
MIDPOINTS = tuple(np.round(np.arange(0.0, 1.01, 0.025), 3))


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def fit_combination(
    probabilities: np.ndarray,
    labels: np.ndarray,
    hit_class: np.ndarray,
    identity: np.ndarray,
    fitted_on: str = "",
    coverage: np.ndarray | None = None,
) -> Combination:
    """The (slope, midpoint) of least log-loss on these (out-of-fold) calls, by grid search; with ``coverage``
    the weight is multiplied by each best hit's query coverage (:attr:`Combination.coverage`)."""
    uses = coverage is not None
    best: tuple[float, float, float] | None = None
    for slope in SLOPES:
        for midpoint in MIDPOINTS:
            mixed = Combination(slope, midpoint, coverage=uses).combine(probabilities, hit_class, identity, coverage)
            loss = log_loss(mixed, labels)
            if best is None or loss < best[0]:
                best = (loss, slope, float(midpoint))
    assert best is not None
    return Combination(best[1], best[2], fitted_on, coverage=uses)


# ----------------------------------------------------------------------------- cross-validation
@dataclass
class OutOfFoldEvidence:
    """Per evaluated protein: model probabilities, true label, fold, best hit (class index, identity) or none."""

    probabilities: np.ndarray  # (N, C)
    labels: np.ndarray  # (N,)
    folds: np.ndarray  # (N,)
    hit_class: np.ndarray  # (N,) class index of the best hit, -1 when none
    identity: np.ndarray  # (N,) best hit's identity, NaN when none
    coverage: np.ndarray | None = None  # (N,) best hit's query coverage, NaN when none
    seconds_search: float = 0.0


def best_hit_arrays(hits: Sequence[Sequence[Hit]], classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(class index of each best hit or -1, its identity or NaN)."""
    index = {c: i for i, c in enumerate(classes)}
    hit_class = np.array([index[h[0].location] if h else -1 for h in hits], dtype=np.int64)
    identity = np.array([h[0].identity if h else np.nan for h in hits], dtype=np.float64)
    return hit_class, identity


def cross_validate(
    bundle: ModelBundle, data: LabelledSet, reference: Reference, callback: Any = None
) -> OutOfFoldEvidence:
    """Each member predicts its own validation fold alone; that fold is left out of the reference for the search.

    Model probabilities are calibrated as ``locviz predict`` calibrates a member (its own temperature), that
    temperature cross-fitted on the other half of the fold, so the combination is not fitted on in-sample rows.
    """

    oof = calibration.out_of_fold(bundle, data, callback=callback)
    if calibration.current_section(bundle.card) is not None:  # member temperatures cross-fitted on these rows
        probabilities, _ = calibration.member_cross_fitted(oof, bundle.card.members)
    else:
        probabilities = oof.probabilities
    hit_class = np.full(len(oof.labels), -1, dtype=np.int64)
    identity = np.full(len(oof.labels), np.nan)
    coverage = np.full(len(oof.labels), np.nan)
    t0 = time.perf_counter()
    for fold in np.unique(oof.folds):
        rows = np.flatnonzero(oof.folds == fold)
        records = [data.records[i] for i in oof.indices[rows]]
        hits = reference.search(records, exclude_folds=[int(fold)], exclude_ids=[r.id for r in records])
        hit_class[rows], identity[rows] = best_hit_arrays(hits, bundle.classes)
        coverage[rows] = [h[0].coverage if h else np.nan for h in hits]
    seconds = time.perf_counter() - t0
    return OutOfFoldEvidence(probabilities, oof.labels, oof.folds, hit_class, identity, coverage, seconds)


def scores(ev: OutOfFoldEvidence, combination: Combination) -> dict[str, Any]:
    """Accuracy of the model alone, homology alone (model where no hit) and combined, on ``ev``'s proteins."""
    n = len(ev.labels)
    has = ev.hit_class >= 0
    model = ev.probabilities.argmax(1)
    homology = np.where(has, ev.hit_class, model)
    combined = combination.combine(ev.probabilities, ev.hit_class, ev.identity, ev.coverage).argmax(1)
    return {
        "n": int(n),
        "with_hit": float(has.mean()) if n else 0.0,
        "hit_location_right": float((ev.hit_class[has] == ev.labels[has]).mean()) if has.any() else float("nan"),
        "model": float((model == ev.labels).mean()),
        "homology": float((homology == ev.labels).mean()),
        "combined": float((combined == ev.labels).mean()),
    }


def cross_fitted_scores(ev: OutOfFoldEvidence, fitted_on: str = "") -> tuple[Combination, dict[str, Any]]:
    """Fit on all folds (what the card stores) and score with fold k's parameters fitted on the other folds."""
    full = fit_combination(ev.probabilities, ev.labels, ev.hit_class, ev.identity, fitted_on, ev.coverage)
    combined = np.empty_like(ev.probabilities)
    folds = np.unique(ev.folds)
    coverage = ev.coverage
    for fold in folds:
        rows = ev.folds == fold
        fit_rows = ~rows if len(folds) > 1 else rows
        fit_cover, cover = (None, None) if coverage is None else (coverage[fit_rows], coverage[rows])
        part = fit_combination(ev.probabilities[fit_rows], ev.labels[fit_rows], ev.hit_class[fit_rows],
                               ev.identity[fit_rows], coverage=fit_cover)  # fmt: skip
        combined[rows] = part.combine(ev.probabilities[rows], ev.hit_class[rows], ev.identity[rows], cover)
    result = scores(ev, full)
    result["combined"] = float((combined.argmax(1) == ev.labels).mean())
    result["combined_note"] = "each fold scored with parameters fitted on the other folds"
    return full, result


def build(
    bundle: ModelBundle,
    data: LabelledSet,
    folds: Sequence[int],
    out: str | Path,
    command: str,
    *,
    fit: bool = True,
    sensitivity: str = DEFAULT_SENSITIVITY,
    callback: Any = None,
) -> tuple[Reference, ReferenceCard, dict[str, Any] | None]:
    """Write the reference set of ``data``'s ``folds`` to ``out``, fit the combination by cross-validation.

    Returns the reference, the card section to store and the cross-validated scores (None without ``fit``).

    Raises:
        InputError: a fold is a test fold, or the data set's classes are not the model's.
    """
    from locviz.datasets import TEST_FOLD

    test = TEST_FOLD.get(data.name)
    if test in folds:
        raise InputError(f"fold {test} is {data.name}'s test fold: it is not training data, leave it out of --folds")
    if list(data.classes) != list(bundle.classes):
        raise InputError(f"the model's classes {bundle.classes} are not {data.name}'s {list(data.classes)}")
    reference = Reference.from_labelled(data, folds, sensitivity=sensitivity)
    out = Path(out)
    reference.write(out)
    cv = None
    if fit:
        ev = cross_validate(bundle, data, reference, callback=callback)
        fitted_on = (f"{data.name}: each of the {bundle.card.members} members' own validation fold, searched against "
                     "the reference without that fold (out-of-fold calls only)")  # fmt: skip
        combination, cv = cross_fitted_scores(ev, fitted_on)
        cv["search_seconds"] = round(ev.seconds_search, 1)
        metrics = {"cross_validation": cv, "weights_sha256": bundle.card.weights_sha256}
        reference.combination = Combination(combination.slope, combination.midpoint, fitted_on, metrics, sensitivity,
                                            combination.coverage)  # fmt: skip
    sources = (f"{data.name} folds {', '.join(map(str, folds))} ({len(reference)} proteins; data files sha256 "
               f"{', '.join(f'{k} {v[:12]}' for k, v in data.files.items())})",)  # fmt: skip
    section = reference.section(out, bundle.card_path.parent, sources, command)
    return reference, section, cv


# ----------------------------------------------------------------------------- evidence for a call
@dataclass(frozen=True)
class Evidence:
    """What the homology search says about one prediction."""

    hits: tuple[Hit, ...]
    known: tuple[RefEntry, ...]  # the protein itself (its very sequence) is in the reference set
    sentence: str
    combined: np.ndarray | None  # (C,) combined probabilities, None when the card has no fitted combination
    combined_label: str | None
    variant_of: tuple[RefEntry, ...] = ()  # entries with its accession and another sequence (not known)

    @property
    def other_hits(self) -> tuple[Hit, ...]:
        """The hits that are other proteins: the protein's own reference entry (training data), or the entry of
        the protein it is a variant of, is no independent support, whatever its identity."""
        own = {e.accession for e in (*self.known, *self.variant_of)}
        return tuple(h for h in self.hits if h.accession not in own)


def _annotation(location: str, label: str, organism: str) -> tuple[str, str]:
    """(the annotation in words, how it compares with the call), the annotation read as ``organism`` reads the
    model's classes (:func:`locviz.organisms.annotation_in`: a vacuolar homologue of an animal protein is
    lysosomal)."""
    where = organisms.annotation_text(location, organism, display_name)
    same = organisms.annotation_in(location, organism)
    if same is None:
        return where, "neither for nor against the call"
    return where, "agrees with the model" if same == label else f"the model says {display_name(label)}"


def _evalue(evalue: float) -> str:
    return f"E = {evalue:.0e}" if evalue > 0 else "E = 0 (below what the search can report)"


def describe(label: str, hits: Sequence[Hit], known: Sequence[RefEntry], max_evalue: float = MAX_EVALUE,
             variant_of: Sequence[RefEntry] = (), organism: str = "any") -> str:  # fmt: skip
    """The plain sentence shown beside a call of a prediction restricted to ``organism``."""
    if known:
        first = known[0]
        where, agreement = _annotation(first.location, label, organism)
        others = {e.location for e in known} - {first.location}
        also = f"; also annotated {', '.join(display_name(o) for o in sorted(others))}" if others else ""
        return (f"known: {where} ({first.accession} is in the reference set, {first.dataset} fold {first.fold}"
                f"{also}) — {agreement}")  # fmt: skip
    named = ""
    if variant_of:
        e = variant_of[0]
        named = (f"; its accession {e.accession} is in the reference set with another sequence "
                 f"({display_name(e.location)}, {e.dataset} fold {e.fold}): a variant or isoform of a training "
                 "protein")  # fmt: skip
    if not hits:
        return (f"no annotated protein in the reference set is similar (E ≤ {max_evalue:g}): the call rests on the "
                f"model{named}")  # fmt: skip
    h = hits[0]
    weak = ""  # the support verdict does not count such a hit (calibration._homology): the sentence says so too
    if h.identity < calibration.HOMOLOGY_SUPPORT_IDENTITY or h.coverage < calibration.HOMOLOGY_MIN_COVERAGE:
        why = "too distant" if h.identity < calibration.HOMOLOGY_SUPPORT_IDENTITY else "covers too little of the query"
        weak = (f" ({why} to confirm or contradict the call: the support verdict counts hits of at least "
                f"{calibration.HOMOLOGY_SUPPORT_IDENTITY:.0%} identity over {calibration.HOMOLOGY_MIN_COVERAGE:.0%} of "
                "the query)")  # fmt: skip
    where, agreement = _annotation(h.location, label, organism)
    return (f"closest annotated protein {h.accession}, {calibration.percent(h.identity)} identity over "
            f"{calibration.percent(h.coverage)} of the query, {_evalue(h.evalue)}: {where} — {agreement}{weak}{named}")


def _combined(prediction: Prediction, hits: Sequence[Hit], combination: Combination | None) -> np.ndarray | None:
    """The combined probabilities, restricted to the prediction's organism like the model's (no Plastid in animals)."""
    if combination is None:
        return None
    hit_class, identity = best_hit_arrays([hits], prediction.classes)
    coverage = np.array([hits[0].coverage if hits else np.nan])
    combined = combination.combine(prediction.probabilities, hit_class, identity, coverage)
    organism = prediction.organism
    return (combined if organism == "any" else organisms.restrict(combined, prediction.classes, organism))[0]


def evidence(
    prediction: Prediction, reference: Reference, hits: Sequence[Hit] | None = None, max_hits: int = MAX_HITS
) -> Evidence:
    """Hits, whether the protein is known, the sentence and the combined call for one prediction.

    ``hits`` from an earlier :meth:`Reference.search` are reused; otherwise the protein is searched now.
    """
    if hits is None:
        hits = reference.search([prediction], max_hits=max_hits)[0]
    known = reference.known(prediction)
    variant_of = [e for e in reference.named(prediction) if e not in known]
    combined = _combined(prediction, hits, reference.combination)
    label = None if combined is None else prediction.classes[int(np.argmax(combined))]
    sentence = describe(prediction.label, hits, known, variant_of=variant_of, organism=prediction.organism)
    return Evidence(tuple(hits), tuple(known), sentence, combined, label, tuple(variant_of))


def evidence_columns(ev: Evidence) -> dict[str, object]:
    """The table columns :data:`COLUMNS` (and the sentence) of one protein's evidence.

    A known protein's nearest protein is itself (identity 1); ``combined`` is None when the card has no
    fitted combination. The CLI (:func:`annotate`) and the app both fill ``Prediction.extra`` from here.
    Beside the columns: ``homology_hint``, what the support verdict may count (the best *other* protein).
    """
    if ev.known:
        own = next((h for h in ev.hits if h.accession == ev.known[0].accession), None)
        nearest = (ev.known[0].accession, 1.0, 1.0, None if own is None else own.evalue, ev.known[0].location)
    elif ev.hits:
        h = ev.hits[0]
        nearest = (h.accession, _fraction(h.identity), _fraction(h.coverage), h.evalue, h.location)
    else:
        nearest = (None, None, None, None, None)
    other = ev.other_hits[0] if ev.other_hits else None
    hint = HomologyHint(
        None if other is None else other.identity, None if other is None else other.location,
        "" if other is None else other.accession, None if other is None else other.coverage,
        ev.known[0].accession if ev.known else "", ev.variant_of[0].accession if ev.variant_of else "",
    )  # fmt: skip
    combined_confidence = None if ev.combined is None else round(float(np.max(ev.combined)), 6)
    return {**dict(zip(COLUMNS[:5], nearest, strict=True)), "combined": ev.combined_label,
            "combined_confidence": combined_confidence, "homology_sentence": ev.sentence,
            "homology_hint": hint}  # fmt: skip


def _fraction(value: float) -> float:
    """A fraction to 4 decimals that reads 1 only when it is 1 (0.99996 identity is no identical protein)."""
    return 1.0 if value >= 1 else min(round(value, 4), 0.9999)


def homology_hint(prediction: Prediction) -> HomologyHint:
    """What the support verdict may count of the evidence in ``prediction.extra`` (see :func:`evidence_columns`):
    the best hit that is another protein, with its coverage; the protein's own reference entry only named."""
    hint = prediction.extra.get("homology_hint")
    if not isinstance(hint, HomologyHint):  # the table columns alone cannot say which hit is the protein itself
        raise InputError(f"protein {prediction.id!r} has no homology evidence yet: run locviz.neighbours (or "
                         "homology.annotate) on it first")  # fmt: skip
    return hint


def annotate(
    predictions: Sequence[Prediction], reference: Reference, thresholds: SupportThresholds | None = None
) -> list[list[Hit]]:
    """Search every prediction and set the table columns :data:`COLUMNS` in ``extra``; returns the hits.

    With ``thresholds`` the ``support`` verdict is renewed with the homology evidence
    (:func:`locviz.calibration.annotate`).
    """
    all_hits = reference.search(predictions)
    for pred, hits in zip(predictions, all_hits, strict=True):
        pred.extra.update(evidence_columns(evidence(pred, reference, hits=hits)))
        if thresholds is not None:
            calibration.annotate(pred, thresholds, homology=homology_hint(pred))
    return all_hits
