"""Known-signal rules on real, textbook sequences, and the sentences that flag a call against them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GFP, HUMAN_INSULIN, synthetic_prediction

from locviz import signals
from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES
from locviz.examples import by_accession

ALBUMIN = by_accession("P02768").sequence  # serum albumin: signal peptide 1-18
PDI = by_accession("P07237").sequence  # protein disulfide-isomerase: signal peptide 1-17, C-terminal KDEL
ATP5B = by_accession("P06576").sequence  # ATP synthase beta: mitochondrial presequence 1-47
PARP1 = by_accession("P09874").sequence  # PARP1: bipartite NLS 207-226 (KRK...KKKSKK)
SOD1 = by_accession("P00441").sequence  # cytosolic Cu/Zn superoxide dismutase: no sorting signal
SV40_NLS_GFP = "MPKKKRKV" + GFP[1:]  # Kalderon et al. 1984's SV40 NLS on GFP
GFP_SKL = GFP + "SKL"  # the classic peroxisomal marker


def kinds(sequence: str) -> dict[str, list[signals.Signal]]:
    out: dict[str, list[signals.Signal]] = {}
    for s in signals.find_signals(sequence):
        out.setdefault(s.kind, []).append(s)
    return out


def test_signal_peptides_of_secreted_proteins_are_found_near_their_cleavage_sites() -> None:
    for sequence, cleavage in ((HUMAN_INSULIN, 24), (ALBUMIN, 18), (PDI, 17)):
        (sp,) = kinds(sequence)["signal_peptide"]
        assert sp.start == 1
        assert abs(sp.end - cleavage) <= 2, (sp, cleavage)
        assert "h-region" in sp.evidence and "cleavage" in sp.evidence


def test_cytosolic_and_nuclear_proteins_have_no_signal_peptide() -> None:
    for sequence in (GFP, SOD1, PARP1, ATP5B):
        assert "signal_peptide" not in kinds(sequence)


def test_c_terminal_kdel_and_pts1() -> None:
    (kdel,) = kinds(PDI)["er_retention"]
    assert (kdel.start, kdel.end, kdel.label) == (len(PDI) - 3, len(PDI), "KDEL")
    (skl,) = kinds(GFP_SKL)["pts1"]
    assert (skl.start, skl.end, skl.label) == (len(GFP_SKL) - 2, len(GFP_SKL), "SKL")
    assert "pts1" not in kinds(GFP) and "er_retention" not in kinds(GFP)
    assert "pts1" not in kinds(PDI[:-1] + "Q")


def test_nuclear_localisation_signals_mono_and_bipartite() -> None:
    (sv40,) = kinds(SV40_NLS_GFP)["nls"]
    assert sv40.start <= 3 and sv40.end >= 7  # PKKKRKV at 2-8
    bipartite = [s for s in kinds(PARP1)["nls"] if "bipartite" in s.evidence]
    assert any(abs(s.start - 207) <= 2 for s in bipartite), bipartite
    assert "nls" not in kinds(GFP)


def test_a_bipartite_nls_spacer_is_measured_to_a_basic_cluster() -> None:
    """Robbins et al. 1991: KR, a 10-12 residue spacer, 3 basic of the next 5; the cluster starts basic here."""
    head = "MSTGQNAGSTWQ" + "KR" + "AGSTQNAGSTWQ"  # a 12-residue spacer
    tail = "GSTWQNAGSTWQNAGSTWQAGSTQNAGS"
    assert signals._bipartite(head + "KAKAK" + tail) == [(12, 31)]
    assert signals._bipartite(head + "AKAKR" + tail) == []  # its cluster begins after a 13-residue spacer


def test_a_signal_peptide_that_starts_hydrophobic_has_no_n_region() -> None:
    sp = signals.signal_peptide("LLLLLLLLLLLLAGASAQPKTEEDSQRSTWYNPGHKQEDSRTWYNPQEDS")
    assert sp is not None and sp.evidence.startswith("no n-region, h-region 1-")  # not "n-region 1-0"
    albumin = signals.signal_peptide(ALBUMIN)
    assert albumin is not None and albumin.evidence.startswith("n-region 1-")


def test_mitochondrial_presequence_only_where_it_is() -> None:
    (pre,) = kinds(ATP5B)["mito_presequence"]
    assert pre.start == 1 and "Arg" in pre.evidence
    for sequence in (ALBUMIN, GFP, SOD1, PARP1):
        assert "mito_presequence" not in kinds(sequence)


def test_transmembrane_rule_finds_a_hydrophobic_helix_and_not_the_signal_peptide() -> None:
    helix = "LLIVALLAVFGLIVALLAV"  # 19 hydrophobic residues (mean Kyte-Doolittle ~3.4)
    sequence = SOD1[:60] + helix + SOD1[60:]
    (tm,) = kinds(sequence)["transmembrane"]
    assert tm.start <= 61 and tm.end >= 79
    assert "transmembrane" not in kinds(SOD1)
    assert "transmembrane" not in kinds(HUMAN_INSULIN)  # its h-region is the signal peptide's


def test_hydrophobic_moment_of_an_ideal_amphipathic_helix_beats_a_uniform_one() -> None:
    amphipathic = "LKKLLKLLKKLLKLLKKL"  # hydrophobic face every 3-4 residues
    assert signals.hydrophobic_moment(amphipathic) > 0.5
    assert signals.hydrophobic_moment("L" * 18) < 0.1


def prediction_called(label: str, classes: tuple[str, ...]):
    pred = synthetic_prediction()
    pred.classes = list(classes)
    probs = np.full(len(classes), 0.01)
    probs[classes.index(label)] = 1.0
    pred.probabilities = probs / probs.sum()
    return pred


def test_disagreement_sentences_name_the_call_and_the_signal() -> None:
    nucleus = prediction_called("Nucleus", DEEPLOC_CLASSES)
    (sp,) = kinds(ALBUMIN)["signal_peptide"]
    flags = signals.disagreements(nucleus, signals.find_signals(ALBUMIN))
    assert flags == [f"predicted nucleus, but an N-terminal signal peptide is present (residues 1-{sp.end})"]
    cytoplasm = prediction_called("cytoplasmic", MULTILOC_CLASSES)  # MultiLoc's class names map too
    assert any("PTS1 (SKL)" in f for f in signals.disagreements(cytoplasm, signals.find_signals(GFP_SKL)))
    assert any("ER retention" in f for f in signals.disagreements(cytoplasm, signals.find_signals(PDI)))
    er = prediction_called("Endoplasmic.reticulum", DEEPLOC_CLASSES)  # the call in words, as the pages show it
    er_flags = signals.disagreements(er, signals.find_signals(GFP_SKL))
    assert any(f.startswith("predicted endoplasmic reticulum, but") for f in er_flags)


def test_no_flag_when_call_and_signals_agree() -> None:
    er = prediction_called("Endoplasmic.reticulum", DEEPLOC_CLASSES)
    assert signals.disagreements(er, signals.find_signals(PDI)) == []
    mito = prediction_called("mitochondrial", MULTILOC_CLASSES)
    assert signals.disagreements(mito, signals.find_signals(ATP5B)) == []


def test_extracellular_call_without_any_signal_peptide_is_flagged() -> None:
    extracellular = prediction_called("Extracellular", DEEPLOC_CLASSES)
    assert any("no N-terminal signal peptide" in f for f in signals.disagreements(extracellular, []))
    assert signals.disagreements(extracellular, signals.find_signals(ALBUMIN)) == []


@pytest.mark.parametrize("name", DEEPLOC_CLASSES + MULTILOC_CLASSES)
def test_every_shipped_class_has_a_compartment(name: str) -> None:
    assert signals.compartment(name) is not None


def test_overlapping_tm_windows_are_one_helix() -> None:
    """Two runs of hydrophobic windows a few residues apart share residues (issue 14 saw 149-168 and 159-177
    reported apart): they are one helix, and no two reported helices ever overlap."""
    from locviz.signals import KYTE_DOOLITTLE, TM_THRESHOLD, TM_WINDOW, _values, _window_means, transmembrane_helices

    sequence = "MSTNPQ" * 5 + "L" * 10 + "KD" + "L" * 12 + "QNPTSG" * 5
    starts = np.flatnonzero(_window_means(_values(sequence, KYTE_DOOLITTLE), TM_WINDOW) >= TM_THRESHOLD)
    runs = np.split(starts, np.flatnonzero(np.diff(starts) > 1) + 1)
    assert len(runs) == 2 and runs[1][0] + 1 <= runs[0][-1] + TM_WINDOW  # the case: two runs, shared residues
    (helix,) = transmembrane_helices(sequence)
    assert (helix.start, helix.end) == (int(runs[0][0]) + 1, int(runs[1][-1]) + TM_WINDOW)
    rng = np.random.default_rng(0)
    for _ in range(200):
        seq = "".join(rng.choice(list("LLLIIVVFAGKDSTM"), 300))
        helices = transmembrane_helices(seq)
        assert all(a.end + 1 < b.start for a, b in zip(helices, helices[1:], strict=False)), helices
