"""Read raw or FASTA protein text into validated records.

This module is the one place that decides the alphabet: the 20 standard
residues, the ambiguity codes that the model sees as "unknown", and what is
silently cleaned (white space, digits, a trailing stop ``*``). Every problem is
reported with the record it belongs to and, where it applies, the 1-based
position of the offending character, so the caller can show it to a person.
"""

from __future__ import annotations

import gzip
import io
import re
import sys
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from Bio.Data.IUPACData import protein_letters_3to1_extended
from Bio.SeqIO.FastaIO import SimpleFastaParser

from locviz.errors import InputError

STANDARD_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
UNKNOWN_RESIDUES = "XBZJUO"
ALLOWED_RESIDUES = frozenset(STANDARD_RESIDUES + UNKNOWN_RESIDUES)
NUCLEOTIDE_LETTERS = frozenset("ACGTUN")

MIN_LENGTH = 10
"""Shorter records are rejected: too little sequence for a localisation call."""
MIN_THREE_LETTER_CODES = 4  # = ceil(MIN_LENGTH / 3): that many three-letter code words are a sequence written out
DUPLICATE_NAME = "duplicate record name; give every record a unique name"

NUCLEOTIDE_FRACTION = 0.9
"""A record whose letters are at least this fraction ACGTUN looks like DNA/RNA."""
IUPAC_NUCLEOTIDES = frozenset("ACGTUNRYKMSWBDHV")
AMBIGUOUS_NUCLEOTIDE_FRACTION = 0.6  # ... or this fraction, the rest IUPAC ambiguity codes (no E, F, I, L, P, Q)

MAX_UNKNOWN_FRACTION = 0.5
"""A record with more unknown residues (X/B/Z/J/U/O) than this is refused: too little sequence to predict from."""
RARE_LETTERS = "OU"
"""Pyrrolysine and selenocysteine: at most one (O) or a handful (U) per known protein; in English text about one
letter in ten, so many of them mean prose, not a protein."""
MAX_RARE_FRACTION = 0.05
"""More O+U than this share (and at least 3 of them), or 2 or more O, reads like text (selenoprotein P, the
protein richest in U, has 10 in 381 residues: 2.6 %)."""
MIN_WORDS = 5
"""Raw text split into at least this many words of letters, of 3+ different lengths and median length under 9,
reads like prose; pasted sequence comes in blocks of one length (10 or 60) or as one line."""

RAW_RECORD_ID = "sequence_1"
MAX_WRAPPED_WIDTH = 200
"""Sequence wrapped over lines has 60-80 letters a line: a raw line longer than this, with more lines after it,
is a whole protein on each line (several proteins pasted without headers)."""

_ACCESSION = (
    r"(?:[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})(?:-[0-9]+)?(?:\.[0-9]+)?"  # UniProt
    r"|[NXYWA]P_[0-9]+(?:\.[0-9]+)?"  # RefSeq protein
    r"|ENS[A-Z]*P[0-9]{11}(?:\.[0-9]+)?"  # Ensembl protein
)
ACCESSION_TOKEN = re.compile(
    rf"(?:(?:sp|tr)\|)?(?P<acc>{_ACCESSION})(?:\|[A-Z0-9]{{1,11}}_[A-Z0-9]{{1,5}})?|(?P<name>[A-Z0-9]{{1,11}}_[A-Z0-9]{{1,5}})",
    re.IGNORECASE,
)
"""One database identifier: a UniProt accession (``P07237``, ``P07237-2``), a UniProt id
(``sp|P07237|PDIA1_HUMAN``) or entry name (``PDIA1_HUMAN``), a RefSeq or Ensembl protein id."""
_TOKEN_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class ProteinRecord:
    """One cleaned, validated protein sequence ready for encoding."""

    id: str
    sequence: str
    description: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """A record made by hand rather than by :func:`parse` gets the alphabet and nucleotide checks too."""
        if set(self.sequence) <= ALLOWED_RESIDUES and self.sequence and nucleotide_share(self.sequence) is None:
            return
        how = "make records with locviz.parse(text), which cleans and checks sequences and says what it changed"
        if not self.sequence:
            raise InputError(f"record {self.id!r}: the sequence is empty; {how}")
        bad = next(((i, c) for i, c in enumerate(self.sequence, start=1) if c not in ALLOWED_RESIDUES), None)
        if bad is not None:
            shown = repr(bad[1]) if bad[1].isprintable() else f"U+{ord(bad[1]):04X}"
            raise InputError(f"record {self.id!r}, position {bad[0]}: {shown} is not an upper-case amino-acid "
                             f"letter ({STANDARD_RESIDUES}, {UNKNOWN_RESIDUES}); {how}")  # fmt: skip
        raise InputError(f"record {self.id!r} looks like a nucleotide sequence ({nucleotide_share(self.sequence):.0%} "
                         "A/C/G/T/U/N); give the translated protein sequence")  # fmt: skip

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class ParseIssue:
    """A problem with one record (or with the whole input when ``record_id`` is None)."""

    message: str
    record_id: str | None = None
    position: int | None = None
    accessions: tuple[str, ...] = ()  # set when the text looks like database identifiers, not a sequence
    kind: str = ""  # "unnamed": a warning the command line prints one by one (the record was given a name)

    def __str__(self) -> str:
        where = ""
        if self.record_id is not None:
            where = f"record '{self.record_id}'"
            if self.position is not None:
                where += f", position {self.position}"
            where += ": "
        return where + self.message


@dataclass
class ParseResult:
    """Valid records plus the errors (records dropped) and warnings (records kept)."""

    records: list[ProteinRecord] = field(default_factory=list)
    errors: list[ParseIssue] = field(default_factory=list)
    warnings: list[ParseIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.records)


class SequenceError(InputError):
    """Raised by :func:`parse_strict` when any record is rejected."""

    def __init__(self, issues: list[ParseIssue]):
        self.issues = issues
        super().__init__("; ".join(str(issue) for issue in issues))


def iter_fasta(handle: IO[str]) -> Iterator[tuple[str, str, str]]:
    """(id, description, raw sequence) for every FASTA record of an open file, streamed by Biopython.

    The one FASTA reader of the package: user input (through :func:`parse`), the data sets and the
    shipped reference sets all come through here. Sequences are raw; :func:`clean_sequence` checks them.
    """
    for header, raw in SimpleFastaParser(handle):
        yield *split_header(header), raw


def record_accession(record_id: str) -> str:
    """``sp|P12345|NAME_HUMAN`` → ``P12345``; anything else as given (first word): how a UniProt record is named
    when its accession is what the user types (homology, ``locviz mutate --variants P12345:...``)."""
    word = record_id.split()[0] if record_id.strip() else record_id
    parts = word.split("|")
    return parts[1] if len(parts) >= 3 and parts[0] in ("sp", "tr") else word


def split_header(header: str) -> tuple[str, str]:
    """(name, description) of a FASTA header line without its '>': the name ends at any white space, a tab too, as
    in Biopython's record ids (a name with a tab in it is awkward in every tab-separated table)."""
    name, description = (header.split(maxsplit=1) + ["", ""])[:2]
    return name, description.strip()


SNIFF_BYTES = 8192
_COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ": "xz",
               b"\x28\xb5\x2f\xfd": "zstd"}  # fmt: skip
_FLAT_FILES = {b"ID   ": "a UniProt (SwissProt) flat file", b"LOCUS ": "a GenBank/GenPept flat file"}


def file_issue(head: bytes, name: str, gzip_ok: bool = False) -> str | None:
    """Why a file that starts with ``head`` cannot be read as FASTA text, with the fix; or None.

    Compressed archives, binary files and sequence databases' flat files would otherwise reach the parser as
    hundreds of "not an amino-acid letter" messages. ``gzip_ok``: the caller reads gzip itself (:func:`open_fasta`).
    """
    kind = next((k for magic, k in _COMPRESSED.items() if head.startswith(magic)), None)
    if kind == "gzip" and gzip_ok:
        return None
    if kind:
        return f"{name} is {kind}-compressed, not text: unpack it first (e.g. {kind_command(kind)} {name})"
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return f"{name} is UTF-32 text: save it as UTF-8 (most editors offer the choice under 'Save as')"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return f"{name} is UTF-16 text: save it as UTF-8 (most editors offer the choice under 'Save as')"
    if b"\x00" in head:
        return f"{name} is a binary file, not text: give a FASTA text file"
    flat = next((k for magic, k in _FLAT_FILES.items() if head.lstrip().startswith(magic)), None)
    if flat:
        return f"{name} is {flat}, not FASTA: download or export the sequences in FASTA format"
    return None


def kind_command(kind: str) -> str:
    return {"gzip": "gunzip", "zip": "unzip", "bzip2": "bunzip2", "xz": "unxz", "zstd": "unzstd"}[kind]


def open_fasta(path: str | Path) -> IO[str]:
    """A text handle on a UTF-8 FASTA file, gzip-compressed or not (UniProt serves proteomes as ``.fasta.gz``).

    Reading it raises :class:`InputError` (never a decoder's traceback) when the gzip stream is cut short or
    corrupt, or a byte is not UTF-8 (:func:`utf8_issue` names the line).

    Raises:
        InputError: the file cannot be read, or is not FASTA text (:func:`file_issue` says what it is instead).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        problem = file_issue(head, str(path), gzip_ok=True)
        if problem:
            raise InputError(problem)
        if head.startswith(b"\x1f\x8b"):
            return _CheckedText(gzip.open(path, "rt", encoding="utf-8-sig"), Path(path))
        return _CheckedText(open(path, encoding="utf-8-sig"), Path(path))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


_READ_FAILURES = (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)
"""What reading a cut-short or corrupt gzip stream, or a byte that is not UTF-8, raises."""


class _CheckedText:
    """A text handle whose decoding failures become :class:`InputError` with the file's name and the fix.

    A truncated download (``.fasta.gz`` cut short), a corrupt gzip stream or a Latin-1 file would otherwise end
    the command in a traceback, or, with ``errors="replace"``, put '\ufffd' into names without a word.
    """

    def __init__(self, handle: IO[str], path: Path | None):
        self._handle, self._path = handle, path  # path None: standard input

    def _failed(self, exc: Exception) -> InputError:
        if isinstance(exc, UnicodeDecodeError):
            where = self._path and utf8_issue(self._path)
            return InputError(where or f"{self._path or 'the standard input'} is not UTF-8 text: save it as UTF-8")
        return InputError(f"{self._path} looks gzip-compressed but cannot be unpacked ({exc}): the file is "
                          "incomplete or damaged; download it again")  # fmt: skip

    def __iter__(self) -> _CheckedText:
        return self

    def __next__(self) -> str:
        try:
            return next(self._handle)
        except _READ_FAILURES as exc:
            raise self._failed(exc) from exc

    def read(self, size: int = -1) -> str:
        try:
            return self._handle.read(size)
        except _READ_FAILURES as exc:
            raise self._failed(exc) from exc

    def readline(self, size: int = -1) -> str:
        try:
            return self._handle.readline(size)
        except _READ_FAILURES as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        if self._path is not None:  # standard input stays open for whoever reads it next
            self._handle.close()

    def __getattr__(self, name: str) -> object:  # name, closed, ...: what the wrapped handle has
        return getattr(self._handle, name)

    def __enter__(self) -> _CheckedText:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def utf8_issue(path: str | Path) -> str | None:
    """Where the first byte that is not UTF-8 sits in ``path`` (gzip or not), with the fix; None if all are."""
    path = Path(path)
    try:
        with open(path, "rb") as probe:
            packed = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if packed else open(path, "rb") as handle:
            return first_non_utf8(handle, str(path))
    except (OSError, EOFError, zlib.error):  # unreadable or damaged: the caller's own message stands
        return None


def first_non_utf8(lines: Iterable[bytes], name: str) -> str | None:
    """Where the first byte that is not UTF-8 sits in ``lines`` (a file's, or an upload's), with the fix; or None."""
    for line_no, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = line[exc.start]
            return (f"{name}, line {line_no}: byte 0x{byte:02X} (column {exc.start + 1}) is not UTF-8; the file is "
                    f"in another encoding (in Latin-1 that byte is {bytes([byte]).decode('latin-1')!r}): save it as "
                    "UTF-8")  # fmt: skip
    return None


def checked_stdin() -> IO[str]:
    """Standard input read as :func:`open_fasta` reads a file: UTF-8, a byte-order mark dropped, and a byte that is not
    UTF-8 said in words (``sys.stdin`` itself follows the locale and, in UTF-8 mode, turns bad bytes into
    surrogates that fail only when the table is written)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # replaced by a text object (tests, notebooks): already decoded
        return _CheckedText(sys.stdin, None)
    return _CheckedText(io.TextIOWrapper(buffer, encoding="utf-8-sig", errors="strict"), None)


def _split_fasta(text: str) -> list[tuple[str, str, str]]:
    """:func:`iter_fasta` of ``text``, each record's sequence as written (Biopython drops the spaces, and words
    separated by spaces are what shows English pasted under a header: :func:`reads_like_text`)."""
    records = list(iter_fasta(io.StringIO(text)))
    bodies = [record.partition("\n")[2] for _, record in iter_record_texts(io.StringIO(text))]
    if len(bodies) != len(records):  # both split at lines starting with '>'; should they ever differ, trust Biopython
        return records
    return [(rec_id, description, body) for (rec_id, description, _), body in zip(records, bodies, strict=True)]


def iter_record_texts(handle: IO[str]) -> Iterator[tuple[int, str]]:
    """(1-based line of the header, text of one record) for each FASTA record, read lazily.

    Input with no '>' header at all is handed over whole, as one record, so :func:`parse` reads it as a raw
    sequence or explains what is wrong. Text before the first header goes with the first record, whose
    :func:`parse` reports it (:func:`preamble_issue`) and reads the record.
    """
    header_line, lines = 0, []
    for line_no, line in enumerate(handle, start=1):
        if line.startswith(">"):
            if header_line:
                yield header_line, "".join(lines)
                lines = []
            header_line = line_no
            lines.append(line)
        else:
            lines.append(line)  # before any header: kept for the first record (or, with none, the whole input)
    if header_line:
        yield header_line, "".join(lines)
    else:
        text = "".join(lines)  # no header: one raw sequence (parse() says if it is not one), or empty input
        first = next((n for n, line in enumerate(lines, start=1) if line.strip()), 1)
        yield first, text


def accession_like(text: str, header_only: bool = False) -> tuple[str, ...]:
    """The identifiers in ``text`` when it holds nothing but database identifiers, else ``()``.

    People paste ``P07237`` or ``sp|P07237|PDIA1_HUMAN`` expecting a look-up; locviz works offline
    and never looks anything up, so such text gets one clear message instead of "removed 5
    digit(s)" and "only 1 residues". UniProt ids give their accession; isoform and version
    suffixes are dropped (``P07237-2`` → ``P07237``).
    """
    tokens = [t for t in _TOKEN_SPLIT.split(text.strip()) if t]
    found: list[str] = []
    for token in tokens:
        match = ACCESSION_TOKEN.fullmatch(token)
        if match is None:
            return ()
        if match.group("acc"):
            found.append(re.split(r"[-.]", match.group("acc"))[0].upper())
        elif header_only and not token.isupper():  # UniProt writes entry names upper case: ">test_1" is a user's name
            return ()
        else:
            found.append(match.group("name").upper())
    return tuple(dict.fromkeys(found))


def accession_issue(accessions: tuple[str, ...], record_id: str | None, header_only: bool = False) -> ParseIssue:
    """The one message for text that names proteins instead of giving their sequence."""
    shown = ", ".join(accessions[:5]) + (f" and {len(accessions) - 5} more" if len(accessions) > 5 else "")
    what = "a FASTA header without a sequence" if header_only else "an accession, not a sequence"
    if not header_only and len(accessions) > 1:
        what = "accessions, not sequences"
    return ParseIssue(
        f"{shown} looks like {what}: locviz does not look accessions up (it works offline); give the protein's "
        "sequence itself, raw or as FASTA (e.g. the FASTA from the protein's UniProt page)",
        record_id,
        accessions=accessions,
    )


def clean_sequence(record_id: str, raw: str) -> tuple[str | None, list[ParseIssue], list[ParseIssue]]:
    """Upper-case, drop white space and digits and a trailing ``*``; validate letters.

    Returns (sequence or None when rejected, errors, warnings). Positions count
    characters of the raw sequence text (white space and digits excluded), 1-based.
    """
    errors: list[ParseIssue] = []
    warnings: list[ParseIssue] = []
    # ASCII letters only are upper-cased: str.upper() turns 'ß' into "SS" and 'ı' into 'I', residues nobody gave
    kept = [c.upper() if c.isascii() else c for c in raw if not (c.isspace() or c.isdigit())]
    dropped_digits = sum(c.isdigit() for c in raw)
    if dropped_digits:
        warnings.append(ParseIssue(f"removed {dropped_digits} digit(s) (sequence numbering)", record_id))
    lower = sum(c.isascii() and c.islower() for c in raw)
    if lower:  # soft-masked sequences mark repeats or signals in lower case; the model reads no case
        warnings.append(ParseIssue(f"read {lower} lower-case letter(s) as upper case (the model ignores case, "
                                   "so lower-case masking is not used)", record_id))  # fmt: skip
    stops = len(kept) - len("".join(kept).rstrip("*"))
    if stops:
        del kept[-stops:]
        what = "the trailing stop codon '*'" if stops == 1 else f"{stops} trailing stop codons '*'"
        warnings.append(ParseIssue(f"removed {what}", record_id))
    three = three_letter_codes(raw)
    if three:
        return None, [ParseIssue(f"written in three-letter codes ({three}): give one-letter codes (Biopython's "
                                 "Bio.SeqUtils.seq1 converts them)", record_id)], warnings  # fmt: skip
    gaps = [pos for pos, c in enumerate(kept, start=1) if c in "-."]
    if gaps:  # an aligned sequence: one message, not one per gap
        gap = ParseIssue(f"{len(gaps)} alignment gap character(s) '-' or '.' (the first at position {gaps[0]}): "
                         "remove the gaps to give the protein's own sequence", record_id)  # fmt: skip
        return None, [gap], warnings
    for pos, c in enumerate(kept, start=1):
        if c not in ALLOWED_RESIDUES:
            shown = _shown_character(c)
            hint = " (a stop '*' is only allowed at the end)" if c == "*" else ""
            errors.append(
                ParseIssue(
                    f"character {shown} is not an amino-acid letter{hint}; "
                    f"allowed: {STANDARD_RESIDUES} and {UNKNOWN_RESIDUES} (unknown)",
                    record_id,
                    pos,
                )
            )
            if len(errors) >= 5:
                errors.append(ParseIssue("further invalid characters not listed", record_id))
                break
    if errors:
        return None, errors, warnings
    seq = "".join(kept)
    if not seq:
        return None, [ParseIssue(_empty_sequence(record_id), record_id)], warnings
    share = nucleotide_share(seq)
    if share is not None:
        rest = "" if share >= NUCLEOTIDE_FRACTION else ", the rest IUPAC ambiguity codes"
        return None, [ParseIssue(f"looks like a nucleotide sequence ({share:.0%} A/C/G/T/U/N{rest}); give the "
                                 "translated protein sequence instead", record_id)], warnings  # fmt: skip
    prose = reads_like_text(raw, seq)
    if prose:
        return None, [ParseIssue(f"not a protein sequence: {prose}. Give the protein's amino-acid sequence "
                                 "(one-letter codes), raw or as FASTA", record_id)], warnings  # fmt: skip
    if len(seq) < MIN_LENGTH:
        return (
            None,
            [ParseIssue(f"only {len(seq)} residues; at least {MIN_LENGTH} are needed", record_id)],
            warnings,
        )
    unknown = sum(c in UNKNOWN_RESIDUES for c in seq)
    if unknown > MAX_UNKNOWN_FRACTION * len(seq):
        return None, [ParseIssue(
            f"{unknown} of its {len(seq)} residues are unknown ({'/'.join(UNKNOWN_RESIDUES)}): too little sequence "
            f"to predict from (at most {MAX_UNKNOWN_FRACTION:.0%} may be unknown); give the sequence with its "
            "residues resolved",
            record_id)], warnings  # fmt: skip
    if unknown:
        warnings.append(
            ParseIssue(f"{unknown} ambiguous residue(s) ({UNKNOWN_RESIDUES}) encoded as unknown", record_id)
        )
    return seq, errors, warnings


def _empty_sequence(record_id: str) -> str:
    """The message for a record with no sequence, saying so when the sequence was written on the header line."""
    if record_id == RAW_RECORD_ID:
        return "no amino-acid letters were given: give the protein's sequence (one-letter codes)"
    if len(record_id) >= MIN_LENGTH and set(record_id.upper()) <= set(ALLOWED_RESIDUES):
        return ("the sequence is empty, and the '>' header line holds what looks like a sequence: write a name on the "
                "'>' line and the sequence on the lines after it")  # fmt: skip
    return "the sequence is empty: give the sequence on the lines after the '>' header"


def _shown_character(c: str) -> str:
    """A character as a message shows it: ``'#'``, or with its code point and Unicode name when it is not ASCII,
    so a Greek 'Α' that looks like an A, or an invisible zero-width space, can be found and replaced."""
    code = f"U+{ord(c):04X} {unicodedata.name(c, '')}".rstrip()
    if c.isascii() and c.isprintable():
        return repr(c)
    return f"{c!r} ({code})" if c.isprintable() else code


def three_letter_codes(raw: str) -> str | None:
    """The first codes when ``raw`` is a sequence in three-letter codes ("Met Ala Trp Lys", "MET-ALA-TRP-LYS"), else
    None.

    Read as one-letter codes, "Met Ala Trp" would be the protein METALATRP, which nobody gave.
    """
    tokens = [t for t in re.split(r"[\s\-]+", raw) if t and not t.isdigit()]
    codes = [t for t in tokens if t.capitalize() in protein_letters_3to1_extended]
    if len(tokens) >= MIN_THREE_LETTER_CODES and len(codes) >= 0.9 * len(tokens):
        return " ".join(codes[:3]) + " …"
    return None


def nucleotide_share(seq: str) -> float | None:
    """The share of A/C/G/T/U/N letters when ``seq`` reads as DNA or RNA, else None: at least
    :data:`NUCLEOTIDE_FRACTION`, or :data:`AMBIGUOUS_NUCLEOTIDE_FRACTION` when every other letter is an IUPAC
    ambiguity code (R, Y, K, M, S, W, B, D, H, V); and three of the four bases (a poly-Ala or Gly/Ala repeat is not
    DNA). No DeepLoc training protein is made of nucleotide codes alone with even a third of them A/C/G/T/U/N."""
    if len(seq) < MIN_LENGTH or len(set(seq) & set("ACGTU")) < 3:
        return None
    share = sum(c in NUCLEOTIDE_LETTERS for c in seq) / len(seq)
    if share >= NUCLEOTIDE_FRACTION or (share >= AMBIGUOUS_NUCLEOTIDE_FRACTION and set(seq) <= IUPAC_NUCLEOTIDES):
        return share
    return None


def reads_like_text(raw: str, seq: str) -> str | None:
    """Why ``raw`` (cleaned to ``seq``) cannot be a protein but reads like prose, or None.

    Two signs, either enough: many pyrrolysine/selenocysteine letters (:data:`RARE_LETTERS`), or words of
    letters of varying length separated by spaces (:data:`MIN_WORDS`).
    """
    rare = sum(seq.count(c) for c in RARE_LETTERS)
    if seq.count("O") >= 2 or (rare >= 3 and rare > MAX_RARE_FRACTION * len(seq)):
        return (f"{rare} of its {len(seq)} letters are O or U (pyrrolysine, selenocysteine: at most a few in any "
                "known protein, about one letter in ten of English), so it reads like text")  # fmt: skip
    words = [w for w in raw.split() if w.isalpha()]
    lengths = sorted(len(w) for w in words)
    if len(words) >= MIN_WORDS and len(set(lengths)) >= 3 and lengths[len(lengths) // 2] < 9:
        return f"it is {len(words)} words of varying length separated by spaces, so it reads like text"
    return None


def parse(
    text: str, max_records: int | None = None, min_length: int = MIN_LENGTH, first_record: int = 1
) -> ParseResult:
    """Parse raw sequence or FASTA text (one or many records) into a :class:`ParseResult`.

    Text without a ``>`` header is one raw sequence named ``sequence_1``. A record whose header has no
    name (``>`` alone) is called ``record_N`` after its place in the input (``first_record`` numbers the
    first, for a caller that parses a file record by record), with a note saying so.
    Rejected records are listed in ``errors`` and left out; the rest are kept.
    """
    if text is not None and not isinstance(text, str):
        raise InputError(f"parse takes text (str), not {type(text).__name__}; decode it first (data.decode('utf-8'))")
    result = ParseResult()
    if text:  # what open() leaves in: a byte-order mark, and Windows or old Mac line ends
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if text is None or not text.strip():
        result.errors.append(ParseIssue("the input is empty: give a protein sequence or FASTA text"))
        return result
    stripped = text.strip()
    header = _first_header(text)
    if stripped.startswith(">"):
        raw_records = _split_fasta(stripped)
    elif header is not None:  # text, then FASTA: the records are read, the text before them is reported
        result.errors.append(preamble_issue(text[:header]))
        raw_records = _split_fasta(text[header:])
    else:
        layout = raw_layout_issue(stripped)
        if layout:
            result.errors.append(ParseIssue(layout, RAW_RECORD_ID))
            return result
        raw_records = [(RAW_RECORD_ID, "", stripped)]
    if not raw_records:
        result.errors.append(ParseIssue("no FASTA records found"))
        return result
    if max_records is not None and len(raw_records) > max_records:
        result.errors.append(
            ParseIssue(
                f"{len(raw_records)} records given; at most {max_records} are allowed at once. "
                "Split the input or use the 'locviz predict' command for large files"
            )
        )
        return result
    seen: set[str] = set()
    given = {rec_id for rec_id, _, _ in raw_records}
    for number, (rec_id, description, raw) in enumerate(raw_records, start=first_record):
        unnamed = None
        if not rec_id:
            rec_id = unnamed_id(number, given)
            unnamed = ParseIssue(f"the FASTA header of record {number} has no name; it is called '{rec_id}' here",
                                 rec_id, kind="unnamed")  # fmt: skip
        if rec_id in seen:
            result.errors.append(ParseIssue(DUPLICATE_NAME, rec_id))
            continue
        seen.add(rec_id)
        accessions = accession_like(raw) if raw.strip() else accession_like(rec_id, header_only=True)
        if accessions:
            raw_input = rec_id == RAW_RECORD_ID and not stripped.startswith(">")
            result.errors.append(accession_issue(accessions, None if raw_input else rec_id, not raw.strip()))
            continue
        seq, errors, warnings = clean_sequence(rec_id, raw)
        warnings = [unnamed, *warnings] if unnamed else warnings
        if seq is not None and len(seq) < min_length:
            errors = [ParseIssue(f"only {len(seq)} residues; at least {min_length} are needed", rec_id)]
            seq = None
        result.errors.extend(errors)
        if seq is None:  # a refused record's cleaning notes would only blur its error; its made-up name is said
            result.warnings.extend([unnamed] if unnamed else [])
        else:
            result.warnings.extend(warnings)
            notes = tuple(w.message for w in warnings)
            result.records.append(ProteinRecord(rec_id, seq, description, notes))
    return result


def raw_layout_issue(text: str) -> str | None:
    """Why raw text (no ``>`` header) is not read as one protein, or None: several blocks, a name line above the
    sequence, or lines that look like two wrapped sequences or one protein per line. Joined, they would make one
    protein that exists nowhere, with every position shifted; the user is asked to add headers instead."""
    header = "Put a '>' header line above each protein (its name after the '>')"
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if len(blocks) > 1:
        return (f"the text has {len(blocks)} blocks separated by blank lines, so it looks like {len(blocks)} "
                f"proteins, not one. {header}, or remove the blank lines if it is one protein")  # fmt: skip
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(rows) < 2:
        return None
    words = [bool(re.search(r"[A-Za-z]\s+[A-Za-z]", row)) for row in rows]
    if words[0] and not any(words[1:]):
        return (f"line 1 ({rows[0][:40]!r}) has words while the lines under it are sequence, so it looks like a "
                "name. Start it with '>' to make it the header, or delete it")  # fmt: skip
    widths = [sum(c.isalpha() for c in row) for row in rows]
    if widths[0] > MAX_WRAPPED_WIDTH:
        return (f"line 1 alone has {widths[0]} letters and {len(rows) - 1} more line(s) follow, so each line looks "
                f"like a whole protein. {header}, or join the lines if it is one protein")  # fmt: skip
    widest = max(widths)
    short = next((i for i in range(1, len(rows) - 1)  # a short line that ends full lines and is followed by more
                  if widths[i - 1] == widest > widths[i] and widest in widths[i + 1 :]), None)  # fmt: skip
    if short is not None:
        return (f"line {short + 1} is shorter than the lines after it ({widths[short]} letters, not {widest}), so "
                f"the text looks like two wrapped sequences, not one. {header}, or join the lines if it is one "
                "protein")  # fmt: skip
    return None


def _first_header(text: str) -> int | None:
    """Where the first line starting with ``>`` begins in ``text`` (a ``>`` inside a line is not a header)."""
    if text.startswith(">"):
        return 0
    at = text.find("\n>")
    return None if at < 0 else at + 1


def preamble_issue(preamble: str) -> ParseIssue:
    """The problem of text before the first FASTA header: not a record (a raw sequence and FASTA records
    cannot be told apart there), so it is skipped, saying which lines and how to keep them."""
    lines = [n for n, line in enumerate(preamble.splitlines(), start=1) if line.strip()]
    where = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
    return ParseIssue(f"text before the first FASTA header ({where}) is not part of any record and was skipped; "
                      "put a '>' header line above a sequence to predict it", kind="preamble")  # fmt: skip


@dataclass
class StreamedChunk:
    """One record text of a streamed file, parsed and checked against the names seen before it."""

    records: list[ProteinRecord]  # to predict (named for the first time)
    errors: list[ParseIssue]  # its problems, a repeated name included
    bad_record: bool  # its record was refused (a chunk holds one)
    preamble: bool  # it carried text before the first header (reported, skipped)
    notes: list[ParseIssue]  # "no name, called record_N": said, not a problem
    warned: bool  # its record was read with a change the user is told about (cleaned letters, a cut, ...)

    def line_of(self, issue: ParseIssue, line: int) -> int:
        """Where to report ``issue``: text before any header starts the file, the rest at the chunk's header."""
        return 1 if issue.kind == "preamble" else line


def take_chunk(text: str, number: int, seen: set[str]) -> StreamedChunk:
    """:func:`parse` the ``number``-th record text of :func:`iter_record_texts` (1-based in the whole input, so an
    unnamed record gets the same ``record_N`` wherever the file was cut), its names checked against (and added to)
    ``seen``: the one rule of the single-process command and the cluster's workers."""
    result = parse(text, first_record=number)
    records = [r for r in result.records if r.id not in seen]
    errors = [*result.errors, *(ParseIssue(DUPLICATE_NAME, r.id) for r in result.records if r.id in seen)]
    seen.update(i.record_id for i in errors if i.record_id is not None)
    seen.update(r.id for r in records)
    return StreamedChunk(
        records,
        errors,
        bad_record=any(i.kind != "preamble" for i in errors),
        preamble=any(i.kind == "preamble" for i in errors),
        notes=[i for i in result.warnings if i.kind == "unnamed"],
        warned=any(i.kind != "unnamed" for i in result.warnings),
    )


def unnamed_id(number: int, taken: set[str]) -> str:
    """``record_N`` for the N-th record of the input, made unique against the names ``taken``."""
    name, k = f"record_{number}", 1
    while name in taken:
        k += 1
        name = f"record_{number}_{k}"
    taken.add(name)
    return name


def parse_strict(text: str, **kwargs) -> list[ProteinRecord]:
    """Like :func:`parse`, but raise :class:`SequenceError` if anything was rejected."""
    result = parse(text, **kwargs)
    if result.errors:
        raise SequenceError(result.errors)
    return result.records
