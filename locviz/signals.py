"""Known sorting signals found by documented rules, and where the model's call disagrees with them.

These are textbook rules, not a trained predictor: each is a pattern or a hydrophobicity threshold from
the paper cited in its function, so a user can check the track by hand and a disagreement with the
model is a lead to follow, not a verdict. They are deliberately simple; SignalP, TMHMM/DeepTMHMM,
TargetP and NLStradamus do each job better.

API:

* :func:`find_signals` (``sequence``) → ``[Signal(kind, start, end, label, evidence)]``, 1-based inclusive,
  sorted by start. Kinds: :data:`KINDS`.
* :func:`disagreements` (``prediction, signals``) → sentences such as
  ``"predicted nucleus, but an N-terminal signal peptide is present (residues 1-21)"``.
* :func:`compartment` maps a class id of the DeepLoc or MultiLoc model to a compartment key
  (``"er"``, ``"nucleus"`` ...); :data:`IMPLIES` lists the compartments each signal is compatible with.

How often each rule fires on the 11,085 DeepLoc 1.0 training proteins (by class) is printed by
``python benchmarks/attention_signals.py --rules-only``; the thresholds are the published ones, except the
signal peptide's h-region threshold and the presequence's hydrophobic moment threshold, which were set by
looking at those training proteins (no test data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from locviz.card import display_name
from locviz.prediction import Prediction

__all__ = [
    "IMPLIES", "KINDS", "Signal", "compartment", "disagreements", "er_retention", "find_signals",
    "hydrophobic_moment", "mito_presequence", "nuclear_localisation_signals", "pts1", "signal_peptide",
    "transmembrane_helices", "RULES", "TRACK_COLUMNS", "track_of", "track_rows",
]

KINDS = ("signal_peptide", "transmembrane", "er_retention", "pts1", "nls", "mito_presequence")

# Kyte & Doolittle (1982) J Mol Biol 157:105-132, Table 2.
KYTE_DOOLITTLE = {
    "A": 1.8, "R": -4.5, "N": -3.5, "D": -3.5, "C": 2.5, "Q": -3.5, "E": -3.5, "G": -0.4, "H": -3.2, "I": 4.5,
    "L": 3.8, "K": -3.9, "M": 1.9, "F": 2.8, "P": -1.6, "S": -0.8, "T": -0.7, "W": -0.9, "Y": -1.3, "V": 4.2,
}  # fmt: skip
# Eisenberg, Schwarz, Komaromy & Wall (1984) J Mol Biol 179:125-142, normalised consensus scale.
EISENBERG = {
    "A": 0.62, "R": -2.53, "N": -0.78, "D": -0.90, "C": 0.29, "Q": -0.85, "E": -0.74, "G": 0.48, "H": -0.40,
    "I": 1.38, "L": 1.06, "K": -1.50, "M": 0.64, "F": 1.19, "P": 0.12, "S": -0.18, "T": -0.05, "W": 0.81,
    "Y": 0.26, "V": 1.08,
}  # fmt: skip

SP_SEARCH = 35  # the h-region lies within the first 35 residues
SP_H_WINDOW = 8  # residues of the h-region window
SP_H_THRESHOLD = 2.0  # mean Kyte-Doolittle of that window
SP_MAX_CLEAVAGE = 45  # the -1 residue of the cleavage site lies at or before this position
SP_C_REGION = (2, 12)  # the -1 residue lies this many residues after the h-region's last residue
SMALL_MINUS1 = "AGSCT"  # von Heijne (-3,-1) rule
SMALL_MINUS3 = "AGSCTVIL"
TM_WINDOW = 19
TM_THRESHOLD = 1.6
PRESEQ_LENGTH = 30
PRESEQ_MIN_ARG = 3
PRESEQ_MIN_NET = 3
PRESEQ_MAX_ACIDIC = 1
PRESEQ_MOMENT_WINDOW = 18
PRESEQ_MIN_MOMENT = 0.3
RULES = {
    "signal_peptide": f"{SP_H_WINDOW}-residue h-region with mean Kyte-Doolittle >= {SP_H_THRESHOLD}, then a (-3,-1) "
    "cleavage site (von Heijne 1985, 1986)",
    "transmembrane": f"{TM_WINDOW}-residue windows with mean Kyte-Doolittle >= {TM_THRESHOLD}, merged "
    "(Kyte & Doolittle 1982)",
    "er_retention": "C-terminal [KHR]DEL (Munro & Pelham 1987)",
    "pts1": "C-terminal [SAC][KRH][LM] (Gould et al. 1989)",
    "nls": "PSORT II pat4, pat7 or bipartite (Nakai & Horton 1999; Robbins et al. 1991)",
    "mito_presequence": f"first {PRESEQ_LENGTH} residues: >= {PRESEQ_MIN_ARG} Arg, net charge >= +{PRESEQ_MIN_NET}, "
    f"<= {PRESEQ_MAX_ACIDIC} acidic, hydrophobic moment >= {PRESEQ_MIN_MOMENT} (von Heijne 1986)",
}
"""The rule behind each kind, in one line: what the tables, the JSON and the GFF3 file name as ``rule``."""


@dataclass(frozen=True)
class Signal:
    """A segment matched by one rule (1-based inclusive on the full sequence)."""

    kind: str  # one of KINDS
    start: int
    end: int
    label: str  # short text for a track, e.g. "signal peptide", "KDEL"
    evidence: str  # what the rule saw, with the numbers

    def __str__(self) -> str:
        """``kind:start-end``, the form of the table's ``signals`` cell (``signal_peptide:1-24``)."""
        return f"{self.kind}:{self.start}-{self.end}"

    def to_json(self) -> dict[str, object]:
        """The signal as a JSON object: type, start, end (1-based inclusive), label, rule, evidence."""
        return {"type": self.kind, "start": self.start, "end": self.end, "label": self.label,
                "rule": RULES.get(self.kind, ""), "evidence": self.evidence}  # fmt: skip


def _values(sequence: str, scale: dict[str, float]) -> np.ndarray:
    return np.array([scale.get(c, 0.0) for c in sequence])  # X and other ambiguity codes count as 0


def _window_means(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return (cumulative[window:] - cumulative[:-window]) / window


# ------------------------------------------------------------------------------ signal peptide
def signal_peptide(sequence: str) -> Signal | None:
    """N-terminal signal peptide: a hydrophobic h-region, then a cleavage site obeying the (-3,-1) rule.

    n/h/c-region model of von Heijne (1985) J Mol Biol 184:99-105; cleavage-site (-3,-1) rule of von Heijne
    (1983) Eur J Biochem 133:17-21 and (1986) Nucleic Acids Res 14:4683-4690: small, neutral residues at -1
    (A, G, S, C, T) and -3 (also V, I, L), no proline at -3 to -1. Here: the h-region is the most hydrophobic
    of the 5 most hydrophobic windows of :data:`SP_H_WINDOW` residues starting in the first :data:`SP_SEARCH`
    residues that reaches a mean Kyte-Doolittle hydrophobicity of :data:`SP_H_THRESHOLD` and holds no charged
    residue or proline (D, E, K, R, P); it extends over the hydrophobic residues after it. The -1 residue of the
    cleavage site is 2-12 residues after the h-region (at or before residue :data:`SP_MAX_CLEAVAGE`) and obeys
    the rule; among the first three such sites, A at -1 and -3 is preferred.

    Checked against SignalP 6.0's curated annotations of 6,036 DeepLoc training proteins
    (``../shared/data/signals``; the threshold, the c-region range and the proline exclusion were chosen
    there, no test data): 93.8 % of the 274 signal peptides found, 8.1 % false calls among the 5,762
    proteins without one; the cleavage site exact for 42 %, within 2 residues for 56 %.
    """
    head = sequence[: SP_SEARCH + SP_H_WINDOW]
    means = _window_means(_values(head, KYTE_DOOLITTLE), SP_H_WINDOW)[:SP_SEARCH]
    candidates = [
        s for s in np.argsort(-means, kind="stable")[:5].tolist()
        if means[s] >= SP_H_THRESHOLD and not re.search("[DEKRP]", head[s : s + SP_H_WINDOW])
    ]
    if not candidates:
        return None
    h_start = candidates[0]
    h_end = h_start + SP_H_WINDOW  # 0-based exclusive
    while h_end < len(sequence) and KYTE_DOOLITTLE.get(sequence[h_end], 0.0) > 0:  # extend over hydrophobic tail
        h_end += 1
    sites = []
    for minus1 in range(h_end + SP_C_REGION[0], min(h_end + SP_C_REGION[1], SP_MAX_CLEAVAGE) + 1):  # 1-based
        if minus1 >= len(sequence):
            break
        m1, m3 = sequence[minus1 - 1], sequence[minus1 - 3]
        if m1 in SMALL_MINUS1 and m3 in SMALL_MINUS3 and "P" not in sequence[minus1 - 3 : minus1]:
            sites.append(minus1)
    if not sites:
        return None
    best = max(sites[:3], key=lambda p: (sequence[p - 1] == "A") + (sequence[p - 3] == "A"))
    hydro = float(means[h_start])
    n_region = f"n-region 1-{h_start}" if h_start else "no n-region"  # the h-region may start at residue 1
    evidence = (
        f"{n_region}, h-region {h_start + 1}-{h_end} (mean Kyte-Doolittle {hydro:.1f} over "
        f"{SP_H_WINDOW} residues), cleavage after {best} ({sequence[best - 3 : best]}↓{sequence[best : best + 2]}; "
        f"-3 {sequence[best - 3]}, -1 {sequence[best - 1]})"
    )
    return Signal("signal_peptide", 1, best, "signal peptide", evidence)


# --------------------------------------------------------------------------- transmembrane
def transmembrane_helices(sequence: str, signal: Signal | None = None) -> list[Signal]:
    """Hydrophobic stretches: windows of 19 residues with mean Kyte-Doolittle ≥ 1.6, merged.

    Kyte & Doolittle (1982) J Mol Biol 157:105-132: a 19-residue window averaging above 1.6 marks a
    probable membrane-spanning segment. Windows that share a residue are merged into one segment (two runs
    of windows a few positions apart still overlap in residues, so they are one helix); a segment
    that starts inside a signal peptide (``signal``) and ends within 10 residues after it is the
    signal's own h-region and is left out.
    """
    means = _window_means(_values(sequence, KYTE_DOOLITTLE), TM_WINDOW)
    above = np.flatnonzero(means >= TM_THRESHOLD)
    out: list[Signal] = []
    if not len(above):
        return out
    runs = np.split(above, np.flatnonzero(np.diff(above) > 1) + 1)
    segments: list[list] = []  # [start, end, peak], 1-based inclusive residues
    for run in runs:
        start, end, peak = int(run[0]) + 1, int(run[-1]) + TM_WINDOW, float(means[run].max())
        if segments and start <= segments[-1][1] + 1:  # residues overlap or touch (149-168 and 159-177): one helix
            segments[-1][1], segments[-1][2] = max(segments[-1][1], end), max(segments[-1][2], peak)
        else:
            segments.append([start, end, peak])
    for start, end, peak in segments:
        if signal is not None and start <= signal.end and end <= signal.end + 10:
            continue
        evidence = f"{end - start + 1} residues; best {TM_WINDOW}-residue window mean Kyte-Doolittle {peak:.2f}"
        out.append(Signal("transmembrane", start, end, "TM helix", evidence))
    return out


# ---------------------------------------------------------------------------- C-terminal tails
def er_retention(sequence: str) -> Signal | None:
    """C-terminal ER retrieval signal [KHR]DEL (KDEL, HDEL, RDEL).

    Munro & Pelham (1987) Cell 48:899-907 (KDEL); Pelham, Hardwick & Lewis (1988) EMBO J 7:1757-1762 (HDEL
    in yeast); Raykhel et al. (2007) J Cell Biol 179:1193-1204 (the tetrapeptide variants).
    """
    tail = sequence[-4:]
    if re.fullmatch("[KHR]DEL", tail):
        n = len(sequence)
        return Signal("er_retention", n - 3, n, tail, f"C-terminal {tail} matches [KHR]DEL")
    return None


def pts1(sequence: str) -> Signal | None:
    """C-terminal peroxisomal targeting signal 1, [SAC][KRH][LM].

    Gould, Keller, Hosken, Wilkinson & Subramani (1989) J Cell Biol 108:1657-1664 (SKL and its
    conservative variants); Brocard & Hartig (2006) Biochim Biophys Acta 1763:1565-1573 (the consensus).
    """
    tail = sequence[-3:]
    if re.fullmatch("[SAC][KRH][LM]", tail):
        n = len(sequence)
        return Signal("pts1", n - 2, n, tail, f"C-terminal {tail} matches [SAC][KRH][LM]")
    return None


# ------------------------------------------------------------------------------------- NLS
_MONOPARTITE = (
    # PSORT's pat4 (Nakai & Kanehisa 1992 Genomics 14:897-911; Nakai & Horton 1999 TIBS 24:34-36): four basic
    # residues, or three and an H or P, e.g. SV40 large T antigen PKKKRKV (Kalderon et al. 1984 Cell 39:499).
    ("pat4", re.compile(r"(?=([KR]{4}|[KRHP][KR]{3}|[KR][KRHP][KR]{2}|[KR]{2}[KRHP][KR]|[KR]{3}[KRHP]))")),
    # PSORT's pat7: P followed within 3 residues by 4 residues of which 3 are basic.
    ("pat7", re.compile(r"(?=(P.{0,2}(?:[KR]{3}.|[KR]{2}.[KR]|[KR].[KR]{2}|.[KR]{3})))")),
)


_BASIC_PAIR = re.compile(r"(?=[KR]{2})")


def _bipartite(sequence: str) -> list[tuple[int, int]]:
    """Robbins, Dilworth, Laskey & Dingwall (1991) Cell 64:615-623: two basic residues, a 10-12 residue
    spacer, then at least 3 basic residues among the next 5 (nucleoplasmin KRPAATKKAGQAKKKK). Here the cluster
    also starts with K or R, so that the spacer is measured to the basic cluster itself: ``KR`` + 12 residues +
    ``AKAKR`` is not called (its cluster would need a 13-residue spacer)."""
    hits = []
    for pair in _BASIC_PAIR.finditer(sequence, 0, max(len(sequence) - 15, 0)):  # each start i < len - 16
        i = pair.start()
        for spacer in (10, 11, 12):
            j = i + 2 + spacer
            cluster = sequence[j : j + 5]
            if len(cluster) == 5 and sum(c in "KR" for c in cluster) >= 3 and cluster[0] in "KR":
                hits.append((i, j + 5))
                break
    return hits


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Merge overlapping 0-based half-open spans, joining their pattern names."""
    merged: list[list] = []
    for a, b, name in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
            if name not in merged[-1][2]:
                merged[-1][2] += f", {name}"
        else:
            merged.append([a, b, name])
    return [(a, b, n) for a, b, n in merged]


def nuclear_localisation_signals(sequence: str) -> list[Signal]:
    """Classical NLSs: monopartite (PSORT pat4 / pat7, SV40-like) and bipartite (nucleoplasmin-like).

    Patterns as in PSORT II (Nakai & Horton 1999 Trends Biochem Sci 24:34-36), after Kalderon et al.
    (1984) Cell 39:499-509 (SV40 PKKKRKV), Chelsky, Ralph & Jonak (1989) Mol Cell Biol 9:2487-2492
    (K-K/R-X-K/R) and Robbins et al. (1991) Cell 64:615-623 (bipartite). Such patterns also occur by
    chance in many non-nuclear proteins: a hit is a hint, never proof. Overlapping hits are merged.
    """
    spans = [(m.start(1), m.end(1), name) for name, rx in _MONOPARTITE for m in rx.finditer(sequence)]
    spans += [(a, b, "bipartite") for a, b in _bipartite(sequence)]
    return [
        Signal("nls", a + 1, b, "NLS", f"{sequence[a:b]} matches {names}") for a, b, names in _merge(spans)
    ]


# ---------------------------------------------------------------------------- presequence
def hydrophobic_moment(segment: str, angle_degrees: float = 100.0) -> float:
    """Mean hydrophobic moment of ``segment`` as an ideal α-helix (100° per residue), Eisenberg scale.

    Eisenberg, Weiss & Terwilliger (1982) Nature 299:371-374.
    """
    h = _values(segment, EISENBERG)
    angles = np.deg2rad(angle_degrees) * np.arange(len(h))
    return float(np.hypot((h * np.cos(angles)).sum(), (h * np.sin(angles)).sum()) / max(len(h), 1))


def mito_presequence(sequence: str, signal: Signal | None = None) -> Signal | None:
    """N-terminal mitochondrial presequence: Arg-rich, almost no acidic residues, an amphipathic helix.

    von Heijne (1986) EMBO J 5:1335-1342 (presequences are rich in Arg, lack acidic residues and can
    form amphiphilic helices); Claros & Vincens (1996) Eur J Biochem 241:779-786 (MitoProt's features).
    Here, in the first :data:`PRESEQ_LENGTH` residues: at least 3 Arg, net charge (R+K-D-E) at least +3,
    at most 1 acidic residue, and an 18-residue window with hydrophobic moment ≥ 0.3 (Eisenberg scale,
    100°). A protein with a signal peptide (``signal``) has none.
    """
    if signal is not None:
        return None
    head = sequence[:PRESEQ_LENGTH]
    arg, basic, acidic = head.count("R"), sum(c in "RK" for c in head), sum(c in "DE" for c in head)
    windows = [head[i : i + PRESEQ_MOMENT_WINDOW] for i in range(max(len(head) - PRESEQ_MOMENT_WINDOW, 0) + 1)]
    moment = max(hydrophobic_moment(w) for w in windows)
    if arg >= PRESEQ_MIN_ARG and basic - acidic >= PRESEQ_MIN_NET and acidic <= PRESEQ_MAX_ACIDIC:
        if moment >= PRESEQ_MIN_MOMENT:
            evidence = (
                f"first {len(head)} residues: {arg} Arg, net charge {basic - acidic:+d}, {acidic} acidic, "
                f"hydrophobic moment {moment:.2f}"
            )
            return Signal("mito_presequence", 1, len(head), "presequence", evidence)
    return None


# ------------------------------------------------------------------------------------- all
def find_signals(sequence: str) -> list[Signal]:
    """Every rule's hits on ``sequence`` (a cleaned sequence, see :func:`locviz.parse`), sorted by start."""
    sequence = sequence.upper()
    sp = signal_peptide(sequence)
    found: list[Signal | None] = [sp, er_retention(sequence), pts1(sequence), mito_presequence(sequence, sp)]
    signals = [s for s in found if s is not None]
    signals += transmembrane_helices(sequence, sp)
    signals += nuclear_localisation_signals(sequence)
    return sorted(signals, key=lambda s: (s.start, s.end, s.kind))


# -------------------------------------------------------------------- compartments and calls
COMPARTMENT_OF = {
    # DeepLoc 1.0 (Almagro Armenteros et al. 2017)
    "Nucleus": "nucleus", "Cytoplasm": "cytoplasm", "Extracellular": "extracellular",
    "Mitochondrion": "mitochondrion", "Cell.membrane": "plasma_membrane", "Endoplasmic.reticulum": "er",
    "Plastid": "plastid", "Golgi.apparatus": "golgi", "Lysosome/Vacuole": "lysosome_vacuole",
    "Peroxisome": "peroxisome",
    # MultiLoc (Höglund et al. 2006)
    "ER": "er", "Golgi": "golgi", "chloroplast": "plastid", "cytoplasmic": "cytoplasm",
    "extracellular": "extracellular", "lysosomal": "lysosome_vacuole", "mitochondrial": "mitochondrion",
    "nuclear": "nucleus", "peroxisomal": "peroxisome", "plasma_membrane": "plasma_membrane",
    "vacuolar": "lysosome_vacuole",
}  # fmt: skip
SECRETORY = frozenset({"extracellular", "plasma_membrane", "er", "golgi", "lysosome_vacuole"})
IMPLIES: dict[str, frozenset[str]] = {
    "signal_peptide": SECRETORY,  # cleaved SP: the protein enters the ER and goes on from there
    "er_retention": frozenset({"er"}),  # also compatible with Golgi (retrieval from the cis-Golgi)
    "pts1": frozenset({"peroxisome"}),
    "mito_presequence": frozenset({"mitochondrion", "plastid"}),  # transit peptides look alike
    "nls": frozenset({"nucleus", "cytoplasm"}),  # shuttling proteins carry NLSs too
    "transmembrane": frozenset(
        {"plasma_membrane", "er", "golgi", "lysosome_vacuole", "mitochondrion", "plastid", "peroxisome", "nucleus"}
    ),
}
"""Compartments a protein with each signal can sensibly be called in; another call is flagged."""
COMPATIBLE_EXTRA = {"er_retention": frozenset({"golgi"})}
FLAGGED_KINDS = ("signal_peptide", "er_retention", "pts1", "mito_presequence")
"""Kinds whose presence contradicts an incompatible call. Not flagged: NLS patterns (they match 52 % of DeepLoc's
cytoplasmic and 21 % of its extracellular proteins) and the Kyte-Doolittle TM rule (it fires on 11 % of nuclear
and 15 % of cytoplasmic proteins), both shown on the track as hints."""
ARTICLE = {
    "signal_peptide": "an N-terminal signal peptide is present",
    "er_retention": "a C-terminal ER retention signal ({label}) is present",
    "pts1": "a C-terminal peroxisomal PTS1 ({label}) is present",
    "mito_presequence": "an N-terminal mitochondrial presequence is likely",
}


def compartment(class_id: str) -> str | None:
    """The compartment key of a DeepLoc or MultiLoc class id (None for classes of other models)."""
    return COMPARTMENT_OF.get(class_id)


def _where(signals: list[Signal]) -> str:
    spans = [f"{s.start}-{s.end}" for s in signals[:3]]
    more = f" and {len(signals) - 3} more" if len(signals) > 3 else ""
    return f"residues {', '.join(spans)}{more}"


def disagreements(prediction: Prediction, signals: list[Signal]) -> list[str]:
    """Sentences naming each signal that the predicted compartment contradicts (empty: no conflict).

    Also flags an Extracellular call with neither a signal peptide nor a transmembrane helix: classical
    secretion needs one. Unknown class names (another model) give no flags.
    """
    call = compartment(prediction.label)
    if call is None:
        return []
    shown = display_name(prediction.label)
    out = []
    for kind in FLAGGED_KINDS:
        hits = [s for s in signals if s.kind == kind]
        if kind == "pts1" and any(s.kind == "signal_peptide" for s in signals):
            continue  # enters the ER co-translationally: PEX5 never sees its C-terminus, so no PTS1 to flag
        compatible = IMPLIES[kind] | COMPATIBLE_EXTRA.get(kind, frozenset())
        if hits and call not in compatible:
            text = ARTICLE[kind].format(label=hits[0].label)
            out.append(f"predicted {shown}, but {text} ({_where(hits)})")
    kinds = {s.kind for s in signals}
    if call == "extracellular" and not kinds & {"signal_peptide", "transmembrane"}:
        out.append(f"predicted {shown}, but no N-terminal signal peptide was found (most secreted proteins have one)")
    return out


# ------------------------------------------------------------------- the track in the tables
TRACK_COLUMNS = ("id", "type", "start", "end", "label", "rule", "evidence")
"""The long signal table of ``locviz predict --signals FILE``: one row per signal."""


def track_of(prediction: Prediction) -> list[Signal]:
    """The signals of ``prediction``: those stored in ``extra["signals"]`` (:func:`locviz.pipeline.annotate`; the
    table's ``signals`` cell, ``type:start-end; ...`` in TSV/CSV, :meth:`Signal.to_json` objects in JSON), else
    found now."""
    stored = prediction.extra.get("signals")
    return list(stored) if stored is not None else find_signals(prediction.sequence)


def track_rows(prediction: Prediction) -> list[list]:
    """Rows of :data:`TRACK_COLUMNS` for one prediction (none when no rule matched)."""
    return [[prediction.id, s.kind, s.start, s.end, s.label, RULES.get(s.kind, ""), s.evidence]
            for s in track_of(prediction)]  # fmt: skip
