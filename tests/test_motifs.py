"""Filter motifs: top windows against a brute-force search, logos, class association, files, hits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import GFP, HISTONE_H4, HUMAN_INSULIN, UBIQUITIN
from scipy.stats import false_discovery_control

from locviz import figures, motifs
from locviz.datasets import sha256_of
from locviz.errors import InputError
from locviz.known_motifs import (
    EXCEEDANCES,
    FDR,
    FIRST_DECOYS,
    KNOWN_MOTIFS,
    MAX_DECOYS,
    R_MIN,
    MotifMatch,
    benjamini_hochberg,
    correct,
    known_motif,
    match,
)
from locviz.motifs import (
    CHANCE_QUANTILE,
    CONTEXT_FLANK,
    MAX_LOW_COMPLEXITY_SHARE,
    PSEUDOCOUNT,
    FilterMotif,
    MotifError,
    MotifSet,
    chance_level,
    compute,
    evidence_order,
    filter_table,
    load_bundle_motifs,
    load_motifs,
    low_complexity_mask,
    match_summary,
    residue_composition,
    save_motifs,
)
from locviz.predict import Predictor, load_model
from locviz.regions import filter_hits
from locviz.sequences import STANDARD_RESIDUES, ProteinRecord
from locviz.weights import load_bundle, write_card

H4_WITH_X = HISTONE_H4[:40] + "X" + HISTONE_H4[41:]
REFERENCE = [
    ProteinRecord("insulin", HUMAN_INSULIN),
    ProteinRecord("ubiquitin", UBIQUITIN),
    ProteinRecord("h4x", H4_WITH_X),
    ProteinRecord("gfp", GFP),  # longer than the tiny bundle's 200: cut in the middle
]
LABELS = [0, 1, 1, 3]


@pytest.fixture(scope="module")
def predictor(tiny_card: Path) -> Predictor:
    return load_model(str(tiny_card), device="cpu")


def low_complexity_full(pred) -> np.ndarray:
    """The SEG-like mask of the residues the model saw (as compute sees them), at full-length positions."""
    seen = np.flatnonzero(pred.seen)
    out = np.zeros(pred.length, dtype=bool)
    out[seen] = low_complexity_mask("".join(pred.sequence[i] for i in seen))
    return out


def valid_scores(pred, f: int, width: int, masked: bool = True) -> np.ndarray:
    """Brute force: activation at every centre whose whole window is seen, inside and free of X
    (and, ``masked``, at most half in low-complexity segments)."""
    half = width // 2
    row = pred.filter_activations[f]
    low = low_complexity_full(pred)
    out = np.full(len(row), -np.inf)
    for p in range(half, len(row) - half):
        window = slice(p - half, p + half + 1)
        if masked and low[window].sum() > MAX_LOW_COMPLEXITY_SHARE * width:
            continue
        if pred.seen[window].all() and "X" not in pred.sequence[window] and row[p] > 0:
            out[p] = row[p]
    return out


def test_compute_matches_brute_force(predictor: Predictor) -> None:
    bundle = predictor.bundle
    motif_set = compute(bundle, REFERENCE, labels=LABELS, top_k=3, reference="four test proteins")
    preds = predictor.predict(REFERENCE, with_filters=True)
    config = bundle.config
    assert isinstance(motif_set, MotifSet)
    assert motif_set.reference == "four test proteins"
    assert motif_set.member == bundle.model.motif_member
    assert motif_set.model_name == "multiloc" and motif_set.classes == bundle.classes
    assert "z-score" in motif_set.association_method
    assert len(motif_set.motifs) == config.n_filters
    for f, motif in enumerate(motif_set.motifs):
        width = config.filter_width(f)
        assert (motif.index, motif.width) == (f, width)
        # one best window per protein, then the top 3 over proteins
        best = []
        for pred in preds:
            scores = valid_scores(pred, f, width)
            p = int(np.argmax(scores))
            if np.isfinite(scores[p]):
                best.append((scores[p], pred.sequence[p - width // 2 : p + width // 2 + 1]))
        best.sort(key=lambda t: -t[0])
        np.testing.assert_allclose(motif.top_activations, [a for a, _ in best[:3]], atol=1e-5)
        assert motif.top_windows == [w for _, w in best[:3]]
        assert motif.top_activations == sorted(motif.top_activations, reverse=True)
        for window in motif.top_windows:
            assert len(window) == width and set(window) <= set(STANDARD_RESIDUES)
        assert motif.frequencies.shape == (width, 20)
        np.testing.assert_allclose(motif.frequencies.sum(axis=1), 1.0)
        assert (motif.frequencies > 0).all()  # pseudocount
        counts = np.zeros((width, 20))
        for window in motif.top_windows:
            for j, aa in enumerate(window):
                counts[j, STANDARD_RESIDUES.index(aa)] += 1
        expected = (counts + PSEUDOCOUNT) / (len(motif.top_windows) + 20 * PSEUDOCOUNT)
        np.testing.assert_allclose(motif.frequencies, expected)
        assert abs(motif.information_content - motif.ic_per_position().sum()) < 1e-9
        assert 0 <= motif.information_content <= np.log2(20) * width


def test_class_association_is_z_score(predictor: Predictor) -> None:
    motif_set = compute(predictor.bundle, REFERENCE, labels=LABELS, top_k=5)
    preds = predictor.predict(REFERENCE, with_filters=True)
    maxima = np.array([np.nanmax(p.filter_activations, axis=1) for p in preds])  # (N, F)
    labels = np.array(LABELS)
    classes = predictor.classes
    for f, motif in enumerate(motif_set.motifs):
        assert set(motif.class_association) == {classes[c] for c in set(LABELS)}
        std = maxima[:, f].std()
        for c in set(LABELS):
            expected = (maxima[labels == c, f].mean() - maxima[:, f].mean()) / std if std > 0 else 0.0
            assert abs(motif.class_association[classes[c]] - expected) < 1e-4
    unlabelled = compute(predictor.bundle, REFERENCE, top_k=5)
    assert unlabelled.association_method == ""
    assert all(m.class_association == {} for m in unlabelled.motifs)


def test_filter_table_and_orders_are_the_motif_page_s(predictor: Predictor) -> None:
    """The Motifs page's table and sorts, from Python: one row per filter, ordered as asked, and its CSV."""
    import csv
    import io

    from locviz import export, motifs

    motif_set = compute(predictor.bundle, REFERENCE, labels=LABELS, top_k=5)
    rows = motifs.filter_table(motif_set)
    assert [r["filter"] for r in rows] == [m.index for m in motif_set.motifs]
    first, motif = rows[0], motif_set.motifs[0]
    assert first["ic_bits"] == motif.information_content and first["width"] == motif.width
    assert first["ic_per_position"] == pytest.approx(motif.information_content / motif.width)
    for row, m in zip(rows, motif_set.motifs, strict=True):  # the page's flags, as table cells
        assert row["flags"].split(" | ") == (m.flags or [""])
        assert ("single residue" in row["flags"]) == (m.width == 1)
        assert ("never fired" in row["flags"]) == (not m.top_windows)
        assert ("composition" in row["flags"]) == m.composition_only
    cls = predictor.classes[LABELS[0]]
    by_class = motifs.sort_order(motif_set, f"class:{cls}")
    z = {m.index: m.class_association[cls] for m in motif_set.motifs}
    assert [z[i] for i in by_class] == sorted(z.values(), reverse=True)
    ic = motifs.sort_order(motif_set, "ic")
    assert ic[0] == max(motif_set.motifs, key=lambda m: m.information_content).index
    assert motifs.sort_order(motif_set, "evidence") == motifs.evidence_order(motif_set)
    with pytest.raises(InputError, match="unknown filter order"):
        motifs.sort_order(motif_set, "class:nowhere")
    table = list(csv.DictReader(io.StringIO(export.filter_table_csv(motif_set, by_class).decode())))
    assert [int(r["filter"]) for r in table] == by_class and f"assoc_{cls}" in table[0]


def test_max_per_protein_and_top_k(predictor: Predictor) -> None:
    one = compute(predictor.bundle, [REFERENCE[3]], top_k=50, max_per_protein=1)
    four = compute(predictor.bundle, [REFERENCE[3]], top_k=50, max_per_protein=4)
    pred = predictor.predict([REFERENCE[3]], with_filters=True)[0]
    for f, (m1, m4) in enumerate(zip(one.motifs, four.motifs, strict=True)):
        assert len(m1.top_windows) <= 1 and len(m4.top_windows) <= 4
        scores = np.sort(valid_scores(pred, f, m4.width))[::-1]
        expected = scores[np.isfinite(scores)][:4]
        np.testing.assert_allclose(m4.top_activations, expected, atol=1e-5)
        if m1.top_activations:
            assert m1.top_activations[0] == pytest.approx(m4.top_activations[0])
    capped = compute(predictor.bundle, REFERENCE, top_k=2, max_per_protein=3)
    assert max(len(m.top_windows) for m in capped.motifs) == 2
    with pytest.raises(ValueError, match="labels"):
        compute(predictor.bundle, REFERENCE, labels=[0, 1])
    with pytest.raises(ValueError, match="member"):
        compute(predictor.bundle, REFERENCE, member=5)


def test_save_load_round_trip(predictor: Predictor, tmp_path: Path) -> None:
    motif_set = compute(predictor.bundle, REFERENCE, labels=LABELS, top_k=3, reference="ref")
    path = save_motifs(motif_set, tmp_path / "m.motifs.npz")
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert all(data[k].dtype != object for k in data.files)
    loaded = load_motifs(path)
    assert (loaded.model_name, loaded.member, loaded.classes, loaded.reference, loaded.association_method) == (
        motif_set.model_name,
        motif_set.member,
        motif_set.classes,
        motif_set.reference,
        motif_set.association_method,
    )
    for a, b in zip(motif_set.motifs, loaded.motifs, strict=True):
        assert (a.index, a.width, a.top_windows) == (b.index, b.width, b.top_windows)
        assert a.top_activations == b.top_activations
        np.testing.assert_array_equal(a.frequencies, b.frequencies)
        assert a.information_content == b.information_content
        assert a.class_association == b.class_association
        assert a.context_windows == b.context_windows
        assert a.low_complexity_share == pytest.approx(b.low_complexity_share, nan_ok=True)
        assert a.matches == b.matches
        assert a.composition_only == b.composition_only
    assert (loaded.masking_method, loaded.match_method, loaded.known_motifs_version) == (
        motif_set.masking_method,
        motif_set.match_method,
        motif_set.known_motifs_version,
    )
    assert "SEG" in loaded.masking_method and "Tomtom" in loaded.match_method and loaded.known_motifs_version >= 1
    np.testing.assert_allclose(loaded.background, residue_composition(r.sequence for r in REFERENCE))  # chance line
    assert loaded.pseudocount == motif_set.pseudocount == PSEUDOCOUNT
    assert any(m.matches for m in loaded.motifs)  # width 3 and 5 filters are compared with PTS1 / NLS
    assert all(len(w) == 2 * CONTEXT_FLANK + 1 for m in loaded.motifs if m.width == 1 for w in m.context_windows)


def test_load_motifs_errors(tmp_path: Path) -> None:
    with pytest.raises(MotifError, match="no motifs file"):
        load_motifs(tmp_path / "missing.motifs.npz")
    corrupt = tmp_path / "corrupt.motifs.npz"
    corrupt.write_bytes(b"not a zip file at all")
    with pytest.raises(MotifError, match="not a readable locviz motifs file"):
        load_motifs(corrupt)


def copy_bundle(source: Path, folder: Path) -> Path:
    for suffix in (".json", ".safetensors"):
        shutil.copy(source.with_suffix(suffix), folder / f"multiloc{suffix}")
    return folder / "multiloc.json"


def test_bundle_motifs_checksum(tiny_card: Path, tmp_path: Path) -> None:
    card_path = copy_bundle(tiny_card, tmp_path)
    bundle = load_bundle(card_path, device="cpu")
    with pytest.raises(MotifError, match="locviz motifs"):
        load_bundle_motifs(bundle)
    path = save_motifs(compute(bundle, REFERENCE, top_k=2), bundle.sibling(".motifs.npz"))
    assert len(load_bundle_motifs(bundle).motifs) == bundle.config.n_filters  # no checksum in the card yet
    card = json.loads(card_path.read_text())
    card["motifs_sha256"] = sha256_of(path)
    write_card(card_path, card)
    bundle = load_bundle(card_path, device="cpu")
    assert load_bundle_motifs(bundle).model_name == "multiloc"
    save_motifs(compute(bundle, REFERENCE[:2], top_k=2), path)  # different content, stale checksum
    with pytest.raises(MotifError, match="checksum mismatch"):
        load_bundle_motifs(bundle)


def test_filter_hits(predictor: Predictor) -> None:
    pred = predictor.predict([ProteinRecord("gfp", GFP)], with_filters=True)[0]
    config = predictor.bundle.config
    f = config.n_filters - 1
    width = config.filter_width(f)
    hits = filter_hits(pred, f, width, n=6)
    assert hits and len(hits) <= 6
    activations = [h.score for h in hits]
    assert activations == sorted(activations, reverse=True)
    assert activations[0] == pytest.approx(valid_scores(pred, f, width).max())
    for start, end, activation, window in [(h.start, h.end, h.score, h.subsequence) for h in hits]:
        assert end - start + 1 == width
        assert window == GFP[start - 1 : end]
        assert pred.seen[start - 1 : end].all()
        assert activation == pytest.approx(pred.filter_activations[f, start - 1 + width // 2])
        assert activation > 0
    spans = sorted((h.start, h.end) for h in hits)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    plain = predictor.predict([ProteinRecord("gfp", GFP)])[0]
    with pytest.raises(ValueError, match="with_filters=True"):
        filter_hits(plain, 0, 1)


# ------------------------------------------------------------------ low complexity
COMPLEX = "MWTRHLAPGCKDNFYSQIVEMWTRHLAPGCKDNFYSQIV"  # 20 different residues in every 20-residue stretch


def test_low_complexity_mask_finds_poly_e_only() -> None:
    assert not low_complexity_mask(COMPLEX).any()
    sequence = COMPLEX + "E" * 20 + COMPLEX
    mask = low_complexity_mask(sequence)
    start = len(COMPLEX)
    assert mask[start : start + 20].all()  # every E of the run
    assert not mask[: start - 11].any() and not mask[start + 20 + 11 :].any()  # extension stays within one window
    # entropy of 12 residues with 3 kinds, 4 each: log2(3) = 1.58 bits <= 2.2 triggers; 12 kinds (3.58 bits) never
    assert low_complexity_mask("AAAADDDDSSSS").all()
    assert not low_complexity_mask("ACDEFGHIKLMN").any()
    assert not low_complexity_mask("EEEEE").any()  # shorter than the 12-residue window


def test_masking_keeps_poly_e_out_of_the_logos(predictor: Predictor) -> None:
    protein = [ProteinRecord("acidic", "MKTWLRH" + "E" * 40 + "WLRHCPKNGT")]
    plain = compute(predictor.bundle, protein, top_k=5, max_per_protein=5, mask_low_complexity=False)
    masked = compute(predictor.bundle, protein, top_k=5, max_per_protein=5)
    low = low_complexity_mask(protein[0].sequence)
    sequence = protein[0].sequence

    def in_low_complexity(window: str) -> bool:
        """Every place the window occurs is more than half low-complexity."""
        starts = [i for i in range(len(sequence)) if sequence.startswith(window, i)]
        return all(low[i : i + len(window)].sum() > MAX_LOW_COMPLEXITY_SHARE * len(window) for i in starts)

    assert plain.masking_method == "" and "SEG" in masked.masking_method
    assert any(w.count("E") > len(w) / 2 for m in plain.motifs for w in m.top_windows)  # poly-E leads unmasked
    assert not any(in_low_complexity(w) for m in masked.motifs for w in m.top_windows)
    checked = 0
    for m in plain.motifs:
        if m.top_windows and m.width > 1:  # (one letter occurs inside and outside the run: ambiguous)
            # share of the strongest windows (before masking) in the low-complexity run, stored by both runs
            expected = np.mean([in_low_complexity(w) for w in m.top_windows])
            assert m.low_complexity_share == pytest.approx(expected)
            assert masked.motifs[m.index].low_complexity_share == pytest.approx(expected)
            assert m.composition_only == (expected >= 0.5) or m.width >= 5
            checked += 1
    assert checked >= 3


def flat(width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(20, 5.0), size=width)


def column(residues: str, share: float = 0.9) -> np.ndarray:
    row = np.full(20, (1 - share) / (20 - len(residues)))
    for aa in residues:
        row[STANDARD_RESIDUES.index(aa)] = share / len(residues)
    return row


def test_composition_flag() -> None:
    poly_e = np.stack([column("E", 0.8)] * 21)
    motif = FilterMotif(0, 21, poly_e, 0.0, ["E" * 21], [1.0])
    assert motif.composition_only  # same letter in every column
    varied = np.stack([column(aa) for aa in "MKTWLRHCPNG"])
    assert not FilterMotif(1, 11, varied, 0.0, [], []).composition_only  # a different residue per column
    assert not FilterMotif(2, 11, flat(11), 0.0, [], []).composition_only  # no information at all
    assert not FilterMotif(3, 3, np.stack([column("G")] * 3), 0.0, [], []).composition_only  # too short to judge
    led = FilterMotif(4, 11, varied, 0.0, [], [], low_complexity_share=0.6)
    assert led.composition_only  # its strongest windows were mostly low-complexity
    bits, share, top2 = motif.composition()
    assert share > 0.99 and top2 > 0.8 and bits > 2


def test_only_stretches_without_a_spacer_are_compositional() -> None:
    """A bipartite NLS scores only its basic columns, but its spacer is a position: a filter that matches it found a
    known signal, not a hydrophobic stretch."""
    by_name = {m.name: m for m in KNOWN_MOTIFS}
    assert [n for n, m in by_name.items() if m.compositional] == ["SP h-region", "TM helix"]
    assert not by_name["NLS bipartite"].informative.all()


def test_a_known_signal_is_not_composition_and_leads_the_order() -> None:
    """A basic cluster that matches the NLS clears the low-complexity flag; a hydrophobic stretch does not."""
    nls = planted(["G", "K", "K", "R", "R", "K", "R", "R", "R"], at=0)
    hydrophobic = np.stack([colour({"L": 0.35, "I": 0.2, "V": 0.2})] * 15)
    motifs = [
        FilterMotif(0, 15, hydrophobic, 0.0, ["L" * 15], [1.0], {"membrane": 1.3}, low_complexity_share=0.9),
        FilterMotif(1, 9, nls, 0.0, ["GKKRRKRRR"], [1.0], {"nucleus": 0.9}, low_complexity_share=0.6),
        FilterMotif(2, 9, flat(9, seed=2), 0.0, ["ACDEFGHIK"], [1.0], {"nucleus": 1.0}),
        FilterMotif(3, 5, flat(5, seed=3), 0.0, [], [], {}),
    ]
    for m, group in zip(motifs, correct([match(m.frequencies, seed=m.index) for m in motifs]), strict=True):
        m.matches = group
    assert motifs[0].best_match.name in ("TM helix", "SP h-region") and motifs[0].composition_only
    assert motifs[1].composition_led and motifs[1].positional_match.name == "NLS mono"
    assert not motifs[1].composition_only
    assert [m.evidence for m in motifs] == [3, 0, 2, 4]
    motif_set = MotifSet("m", 0, ["membrane", "nucleus"], motifs, "")
    assert evidence_order(motif_set) == [1, 2, 0, 3]  # the NLS first, though the hydrophobic blob's z is larger
    summary = match_summary(motif_set)
    assert (summary.matched, summary.filters, summary.fdr) == (2, 4, FDR)
    assert summary.comparisons == sum(len(m.matches) for m in motifs)
    assert str(summary).startswith("2 of 4 filters match a known localisation motif at a false discovery rate of 5%")


def test_width_one_filters_keep_their_context(predictor: Predictor) -> None:
    motif_set = compute(predictor.bundle, REFERENCE, top_k=10)
    by_id = {r.id: r.sequence for r in REFERENCE}
    ones = [m for m in motif_set.motifs if m.width == 1 and m.top_windows]
    assert ones and all(not m.context_windows for m in motif_set.motifs if m.width > 1)
    for m in ones:
        assert len(m.context_windows) == len(m.top_windows)
        for window, context in zip(m.top_windows, m.context_windows, strict=True):
            assert len(context) == 2 * CONTEXT_FLANK + 1 and context[CONTEXT_FLANK] == window
            core = context.strip("-")  # '-' only past the ends of the protein
            assert "-" not in core and any(core in seq for seq in by_id.values())
        context = m.context_frequencies()
        assert context.shape == (2 * CONTEXT_FLANK + 1, 20)
        np.testing.assert_allclose(context[CONTEXT_FLANK], m.frequencies[0])


# ------------------------------------------------------------------ known motifs
def planted(residues: list[str], width: int = 9, at: int = 3, seed: int = 0) -> np.ndarray:
    """A flat logo with the given columns written in from window column ``at`` (0-based)."""
    freqs = flat(width, seed)
    for j, aa in enumerate(residues):
        freqs[at + j] = column(aa, 0.85)
    return freqs


def test_planted_kdel_matches_at_its_offset_and_shuffled_does_not() -> None:
    kdel = match(planted(["K", "D", "E", "L"], at=3))
    best = kdel[0]
    assert best.name == "KDEL/HDEL" and best.offset == 3 and best.overlap == 4
    assert best.significant and best.score > 0.9 and best.q_value <= FDR and best.agreement == 1.0
    assert best.decoys > FIRST_DECOYS and best.p_value < 1 / (FIRST_DECOYS + 1)  # resolved past the first decoys
    assert best.window_positions(9) == (4, 7) and best.describe(9).startswith("KDEL/HDEL at 4-7")
    shuffled = {m.name: m for m in match(planted(["L", "E", "K", "D"], at=3))}  # same columns, other order
    assert not shuffled["KDEL/HDEL"].significant
    assert shuffled["KDEL/HDEL"].score < best.score - 0.3
    assert not any(m.significant for m in match(flat(9, seed=4)))  # nothing planted, nothing found


def test_known_motifs_are_matched_by_their_own_consensus() -> None:
    for known in KNOWN_MOTIFS:
        width = known.length + 4
        freqs = flat(width, seed=7)
        freqs[2 : 2 + known.length] = known.frequencies
        found = {m.name: m for m in match(freqs)}
        assert found[known.name].significant, known.name
        assert found[known.name].score > 0.95 and found[known.name].offset == 2, known.name
        assert "Munro" in known_motif("KDEL/HDEL").source
    assert match(flat(1)) == []  # one column cannot hold any known motif
    with pytest.raises(InputError, match="shape"):
        match(np.ones((4, 19)))
    with pytest.raises(InputError, match="no known motif called 'KDEL'"):
        known_motif("KDEL")
    m = MotifMatch("PTS1", 0.81, 2, 3, 0.001, q_value=0.003, agreement=1.0, decoys=9_999)
    assert MotifMatch.from_dict(m.to_dict()) == m
    assert m.describe() == "PTS1 (r = 0.81, offset +2, q = 0.003)" and m.p_text == "p = 0.001"
    old = MotifMatch.from_dict({"name": "PTS1", "score": 0.81, "offset": 2, "overlap": 3, "p_value": 0.001})
    assert not old.significant  # a version-1 file has no q-value: nothing is reported from it


def colour(weights: dict[str, float]) -> np.ndarray:
    """A logo column with these residue shares, the rest spread evenly."""
    row = np.zeros(20)
    for aa, share in weights.items():
        row[STANDARD_RESIDUES.index(aa)] = share
    row[row == 0] = (1 - row.sum()) / (row == 0).sum()
    return row


def test_a_match_needs_the_pattern_s_own_residues() -> None:
    acidic = np.stack([colour({"E": 0.3, "K": 0.22, "R": 0.14})] * 21)  # E first, K and R next: correlates with K/R
    found = {m.name: m for m in match(acidic)}
    assert found["NLS bipartite"].score >= R_MIN and found["NLS bipartite"].q_value <= FDR  # r and q alone pass
    assert found["NLS bipartite"].agreement == 0.0 and not found["NLS bipartite"].significant
    sdel = {m.name: m for m in match(planted(["S", "D", "E", "L"], at=3))}["KDEL/HDEL"]  # no K or H in front
    assert sdel.score >= R_MIN and sdel.agreement == 0.75 and not sdel.significant
    hdel = {m.name: m for m in match(planted(["H", "D", "E", "L"], at=3))}["KDEL/HDEL"]
    assert hdel.significant and hdel.agreement == 1.0


def test_p_values_are_resolved_not_floored() -> None:
    """Sequential decoys: a weak match stops early with a p-value close to a fixed-size run's; a strong one goes on."""
    weak = planted(["K", "D", "A", "L"], at=3)  # three of four KDEL columns
    one = {m.name: m for m in match(weak, max_decoys=MAX_DECOYS, seed=3)}["KDEL/HDEL"]
    fixed = {m.name: m for m in match(weak, max_decoys=FIRST_DECOYS, seed=3)}["KDEL/HDEL"]
    assert one.decoys > FIRST_DECOYS or one.p_value > EXCEEDANCES / (FIRST_DECOYS + 1)
    assert 1 / (MAX_DECOYS + 1) < one.p_value < 0.05
    assert one.p_value == pytest.approx(fixed.p_value, rel=1.0, abs=3 / FIRST_DECOYS)
    strong = {m.name: m for m in match(planted(["K", "D", "E", "L"], at=3))}["KDEL/HDEL"]
    assert strong.decoys == MAX_DECOYS and strong.p_text == "p <= 1e-05"
    noise = match(flat(9, seed=4))
    assert all(m.decoys <= FIRST_DECOYS for m in noise)  # nothing to resolve: cheap


def test_benjamini_hochberg_over_every_comparison() -> None:
    groups = [match(planted(["K", "D", "E", "L"], at=3)), match(flat(9, seed=4)), match(flat(15, seed=5))]
    corrected = correct(groups)
    p = np.array([m.p_value for g in corrected for m in g])
    q = np.array([m.q_value for g in corrected for m in g])
    np.testing.assert_allclose(q, false_discovery_control(p, method="bh"))  # scipy's own, as the reference
    assert benjamini_hochberg([]).shape == (0,)
    alone = {m.name: m.q_value for m in groups[0]}
    together = {m.name: m.q_value for m in corrected[0]}
    assert together["KDEL/HDEL"] >= alone["KDEL/HDEL"]  # more comparisons, never a smaller q


# ------------------------------------------------------------------ logos on one scale
def test_logo_grid_shares_one_scale() -> None:
    motifs = [
        FilterMotif(0, 21, planted(["K", "D", "E", "L"], width=21, at=17), 0.0, [], []),
        FilterMotif(1, 5, planted(["S", "K", "L"], width=5, at=2), 0.0, [], []),
        FilterMotif(
            2, 1, np.stack([column("E")]), 0.0, ["E"], [1.0], context_windows=["AKEEEDR", "--MEKLS"]
        ),  # fmt: skip
        FilterMotif(3, 3, planted(["W"], width=3, at=1), 0.0, [], []),
    ]
    for m in motifs:
        m.information_content = float(m.ic_per_position().sum())
        m.matches = match(m.frequencies)
    fig = figures.logo_grid(motifs, n_columns=2)
    assert len(fig.axes) == 4
    assert [ax.get_ylim() for ax in fig.axes] == [(0.0, pytest.approx(np.log2(20)))] * 4
    fig_width = fig.get_figwidth()
    columns = [21, 5, 7, 3]  # the width-1 filter is drawn with its neighbours (3 each side here)
    per_column = [ax.get_position().width * fig_width / n for ax, n in zip(fig.axes, columns, strict=True)]
    assert per_column == pytest.approx([figures.LOGO_COLUMN_INCHES] * 4)
    heights = {ax.get_position().height for ax in fig.axes}
    assert len(heights) == 1
    assert "like KDEL/HDEL at 18-21" in fig.axes[0].get_title()
    assert "like PTS1 at 3-5" in fig.axes[1].get_title()
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["-3", "-2", "-1", "0", "+1", "+2", "+3"]
    single = figures.sequence_logo(motifs[0])
    assert single.axes[0].get_position().width * single.get_figwidth() == pytest.approx(21 * figures.LOGO_COLUMN_INCHES)
    with pytest.raises(ValueError, match="at least one"):
        figures.logo_grid([])


def test_bundle_motifs_refuses_wrong_filter_count(tiny_card: Path, tmp_path: Path) -> None:
    card_path = copy_bundle(tiny_card, tmp_path)
    bundle = load_bundle(card_path, device="cpu")
    motif_set = compute(bundle, REFERENCE, top_k=2)
    motif_set.motifs = motif_set.motifs[:-1]
    save_motifs(motif_set, bundle.sibling(".motifs.npz"))
    with pytest.raises(MotifError, match=f"has {bundle.config.n_filters - 1} filters but model"):
        load_bundle_motifs(bundle)


# ------------------------------------------------------------------ what chance draws in a logo
def test_chance_level_is_what_random_columns_reach() -> None:
    """A column of n random residues has bits from the composition and from the small sample: more for a skewed
    background and for fewer windows; its quantile bounds the bits of independently drawn random columns."""
    uniform = np.full(20, 0.05)
    skewed = np.array([0.3, *([0.7 / 19] * 19)])
    few, many = chance_level(20, uniform), chance_level(2_000, uniform)
    assert few.mean_bits > 10 * many.mean_bits and many.mean_bits < 0.01  # the sample, not the letters
    h = -(skewed * np.log2(skewed)).sum()
    assert chance_level(2_000, skewed).mean_bits == pytest.approx(np.log2(20) - h, abs=0.01)  # the composition
    hundred = chance_level(100, skewed)
    assert hundred.upper_bits > hundred.mean_bits > chance_level(100, uniform).mean_bits
    rng = np.random.default_rng(7)  # draws of its own: the quantile holds for columns it never saw
    counts = rng.multinomial(100, skewed, size=4_000) + PSEUDOCOUNT
    freqs = counts / counts.sum(axis=1, keepdims=True)
    bits = np.log2(20) + (freqs * np.log2(freqs)).sum(axis=1)
    assert np.mean(bits <= hundred.upper_bits) == pytest.approx(CHANCE_QUANTILE, abs=0.015)
    assert np.isnan(chance_level(0, uniform).upper_bits)


def test_shipped_logos_know_their_chance_level() -> None:
    """Shipped motif files predate stored backgrounds: the reference set's composition stands in, checksum checked;
    the table counts the columns above the dashed line, and the logo draws it."""
    predictor = load_model("multiloc", device="cpu")
    motif_set = load_bundle_motifs(predictor.bundle)
    assert motif_set.background is not None and motif_set.background.sum() == pytest.approx(1.0)
    assert motif_set.background[STANDARD_RESIDUES.index("L")] > 2 * motif_set.background[STANDARD_RESIDUES.index("W")]
    rows = {r["filter"]: r for r in filter_table(motif_set)}
    wide = next(m for m in motif_set.motifs if m.width >= 9 and m.top_windows)
    chance = motif_set.chance(wide)
    assert chance.n_windows == len(wide.top_windows) and 0.1 < chance.mean_bits < chance.upper_bits < 1.0
    assert rows[wide.index]["columns_above_chance"] == int((wide.ic_per_position() > chance.upper_bits).sum())
    fig = figures.sequence_logo(wide, motif_set=motif_set)
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() not in ("None", "")]
    assert line.get_ydata()[0] == pytest.approx(chance.upper_bits) and "dashed: chance (95%)" in fig.axes[0].get_title()
    plain = figures.sequence_logo(wide)  # no motif set: no line, and the title does not promise one
    assert not plain.axes[0].get_lines() and "chance" not in plain.axes[0].get_title()


def test_logos_without_their_reference_set_load_without_a_chance_line(tmp_path: Path) -> None:
    """The chance line is an extra: a bundle whose reference set is missing still shows its logos, and says why
    the line is not there (the Predict page's filter scaling reads the same motif set)."""
    source = load_model("multiloc-fast", device="cpu").bundle.card_path
    for suffix in (".json", ".safetensors", ".motifs.npz"):
        shutil.copy(source.with_name(f"multiloc-fast{suffix}"), tmp_path / f"multiloc-fast{suffix}")
    bundle = load_bundle(tmp_path / "multiloc-fast.json", device="cpu")
    with pytest.warns(UserWarning, match="without their chance line"):
        motif_set = load_bundle_motifs(bundle)
    assert motif_set.background is None and motif_set.chance(motif_set.motifs[0]) is None
    assert all(row["columns_above_chance"] is None for row in filter_table(motif_set))


def test_the_background_is_checked_again_when_the_reference_set_changes(tmp_path: Path) -> None:
    """Reading the composition once must not vouch for the file for ever: an altered or deleted reference set is
    refused on the next call, as on the first."""
    source = load_model("multiloc-fast", device="cpu").bundle.card_path
    for suffix in (".json", ".safetensors", ".motifs.npz", ".reference.fa.gz"):
        shutil.copy(source.with_name(f"multiloc-fast{suffix}"), tmp_path / f"multiloc-fast{suffix}")
    bundle = load_bundle(tmp_path / "multiloc-fast.json", device="cpu")
    first = motifs.reference_background(bundle)
    assert first is not None and first.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(motifs.reference_background(bundle), first)  # unchanged: the same composition
    reference = tmp_path / "multiloc-fast.reference.fa.gz"
    reference.write_bytes(reference.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(MotifError, match="cannot be read"):
        motifs.reference_background(bundle)
    reference.unlink()
    with pytest.raises(MotifError, match="missing"):
        motifs.reference_background(bundle)
