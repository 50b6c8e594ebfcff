"""Figure builders: built from hand-made Predictions/motifs (no model), contents checked."""

from __future__ import annotations

import dataclasses
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
import pytest
from conftest import synthetic_prediction
from matplotlib.figure import Figure

from locviz import figures
from locviz.card import MemberTraining, ModelCard
from locviz.datasets import MULTILOC_CLASSES
from locviz.encoding import LengthPolicy
from locviz.metrics import classification_report
from locviz.model import ModelConfig
from locviz.motifs import FilterMotif, MotifSet
from locviz.prediction import Prediction
from locviz.regions import AttentionRegion, attended_regions, top_regions

CLASSES = list(MULTILOC_CLASSES)
N_FILTERS = 12
WIDTHS = [(1, 3, 5)[i % 3] for i in range(N_FILTERS)]


def make_prediction(length: int, seen_upto: int | None = None, seed: int = 0, pid: str = "P12345") -> Prediction:
    """A protein whose residues after ``seen_upto`` were cut by the long-sequence policy."""
    return synthetic_prediction(length, seen_upto, seed, pid, n_filters=N_FILTERS)


@pytest.fixture
def pred() -> Prediction:
    return make_prediction(150, seen_upto=120)


def make_motif(index: int = 7, width: int = 5, seed: int = 1) -> FilterMotif:
    rng = np.random.default_rng(seed)
    freqs = rng.dirichlet(np.ones(20) * 0.3, size=width)
    ic = float(np.sum(np.log2(20) + (np.clip(freqs, 1e-12, 1) * np.log2(np.clip(freqs, 1e-12, 1))).sum(axis=1)))
    return FilterMotif(index, width, freqs, ic, ["ACDEF"], [2.5], {c: float(rng.normal()) for c in CLASSES})


def _subtitle(fig: go.Figure) -> str:
    """The subtitle as one line: wrapping breaks it at any space."""
    return fig.layout.title.subtitle.text.replace("<br>", " ")


# ---------------------------------------------------------------- probabilities


def test_probability_bar_sorted_highlighted_with_values(pred):
    fig = figures.probability_bar(pred)
    bar = fig.data[0]
    assert isinstance(bar, go.Bar)
    assert list(bar.x) == sorted(pred.probabilities)  # ascending: plotly draws the first bar at the bottom
    assert bar.y[-1] == pred.label.replace("_", " ")
    assert bar.marker.color[-1] == figures.HIGHLIGHT
    assert set(bar.marker.color[:-1]) == {figures.MUTED}
    column = next(t for t in fig.data if t.name == "values")
    assert column.text[-1] == f"{pred.confidence:.1%}"
    assert len(column.text) == len(CLASSES)
    # whiskers span the members' min..max, one segment per class, in the bars' order (the top class last)
    top = int(np.argmax(pred.probabilities))
    members = pred.member_probabilities[:, top]
    whiskers = next(t for t in fig.data if t.name == "members")
    assert list(whiskers.x[-3:-1]) == pytest.approx([members.min(), members.max()])
    assert list(whiskers.y[-3:-1]) == [bar.y[-1]] * 2 and whiskers.x[-1] is None
    assert "P12345" in _subtitle(fig) and "multiloc" in _subtitle(fig)


def test_member_whiskers_stay_on_the_members_when_the_ensemble_lies_outside_them(pred):
    """An ensemble temperature below 1 sharpens the average past its members: the whisker still spans the
    members' own range (error bars around the bar would have had a negative length)."""
    top = int(np.argmax(pred.probabilities))
    sharpened = pred.probabilities.copy()
    sharpened[top] = pred.member_probabilities[:, top].max() + 0.1
    sharpened /= sharpened.sum()
    pred.probabilities = sharpened
    fig = figures.probability_bar(pred)
    whiskers = next(t for t in fig.data if t.name == "members")
    low, high = whiskers.x[-3], whiskers.x[-2]
    assert low < high < fig.data[0].x[-1]  # the bar ends beyond the highest member, as it is
    column = pred.member_probabilities[:, top]
    assert (low, high) == pytest.approx((column.min(), column.max()))


def test_a_single_network_has_no_whiskers(pred):
    pred.member_probabilities = pred.member_probabilities[:1]
    fig = figures.probability_bar(pred)
    assert [t.name for t in fig.data] == ["probability", "values"] and "whiskers" not in fig.layout.xaxis.title.text


def test_a_restricted_probability_bar_names_its_organism_and_what_it_left_out(pred):
    assert "organism" not in _subtitle(figures.probability_bar(pred))  # any: nothing left out, nothing said
    restricted = dataclasses.replace(pred, organism="animal")  # multiloc: animals have no chloroplast, no vacuole
    assert "organism animal (excluded: chloroplast, vacuolar)" in _subtitle(figures.probability_bar(restricted))
    keep = [i for i, c in enumerate(CLASSES) if c not in ("chloroplast", "vacuolar")]
    cut = dataclasses.replace(restricted, classes=[CLASSES[i] for i in keep], probabilities=pred.probabilities[keep],
                              member_probabilities=pred.member_probabilities[:, keep])  # as the Predict page draws it
    fig = figures.probability_bar(cut, excluded=("chloroplast", "vacuolar"))
    assert len(fig.data[0].y) == len(keep) and "(excluded: chloroplast, vacuolar)" in _subtitle(fig)
    assert figures.organism_text("any") == "all compartments (organism any)"


def test_probability_bar_rejects_mismatched_classes(pred):
    pred.probabilities = pred.probabilities[:-1]
    with pytest.raises(ValueError, match="probabilities for 11 classes"):
        figures.probability_bar(pred)


# ---------------------------------------------------------------- attention


def test_attention_heatmap_grid_letters_and_unseen(pred):
    fig = figures.attention_heatmap(pred, residues_per_row=60)
    grey, heat, letters = fig.data
    assert heat.z.shape == (3, 60) and grey.z.shape == (3, 60)
    assert list(fig.layout.yaxis.ticktext) == ["1", "61", "121"]
    assert fig.layout.title.text and "multiloc" in _subtitle(fig) and "P12345" in _subtitle(fig)
    assert heat.colorbar.title.text == "share of attention<br>(uniform 0.0083)"  # 1/120 seen: a peak is read against it

    # residue letters, one per residue, at the right cell
    assert "".join(letters.text) == pred.sequence
    assert (letters.x[61], letters.y[61]) == (2, 1)  # residue 62 → row 2 (start 61), column 2

    # seen residue 5 (row 0, col 4): weight in the attention trace, hover names position/residue/weight
    weight = pred.attention[4]
    assert heat.z[0][4] == pytest.approx(weight)
    assert math.isnan(grey.z[0][4])
    hover = heat.text[0][4]
    assert f"position 5 · {pred.sequence[4]}" in hover and f"{weight:.4g}" in hover
    assert f"{weight * 120:.2f}× uniform" in hover

    # unseen residue 130 (row 2, col 9): grey, no attention value, hover says so
    assert math.isnan(heat.z[2][9]) and grey.z[2][9] == 1
    assert "not seen by the model" in grey.text[2][9] and "position 130" in grey.text[2][9]
    assert set(np.asarray(grey.colorscale, dtype=object)[:, 1]) == {figures.UNSEEN_GREY}

    # cells after the last residue are empty in both traces
    assert math.isnan(heat.z[2][59]) and math.isnan(grey.z[2][59])
    assert "30 residues not seen" in _subtitle(fig)


def long_prediction(length: int = 20_000, ends: int = 500) -> Prediction:
    """A protein the long-sequence policy crops to its first and last ``ends`` residues (the unseen middle NaN)."""
    return synthetic_prediction(length, seen_upto=None, n_filters=N_FILTERS, seen_ends=ends)


def test_attention_heatmap_long_protein_stays_legible():
    short = figures.attention_heatmap(make_prediction(600))
    long_pred = make_prediction(3000, seen_upto=1000)  # an unseen tail of 2,000 residues: one gap row
    fig = figures.attention_heatmap(long_pred)
    assert fig.data[1].z.shape == (18, 60)  # rows 1-1,020 (the last one partly unseen), then the gap
    assert list(fig.layout.yaxis.ticktext[-2:]) == ["961", "⋮"]
    assert fig.layout.height >= 18 * 20 and short.layout.height >= 10 * 20  # ~22 px per row whatever the length
    drawn = "".join(fig.data[2].text)
    assert drawn == long_pred.sequence[:1020]
    gap = [a.text for a in fig.layout.annotations if a.name == "gap"]
    assert gap == ["··· 2,000 residues not seen by the model (1,001–3,000) ···"]  # the whole run, partial row too


def test_a_long_unseen_middle_is_one_labelled_gap():
    """20,000 residues, the first and last 500 seen: the figures draw those, the middle is one narrow gap."""
    pred = long_prediction()
    heat = figures.attention_heatmap(pred)
    rows = figures.heatmap_rows(pred.length, pred.seen, 60)
    assert rows.count(-1) == 1 and len(rows) == heat.data[1].z.shape[0] < 20  # was 334 rows
    assert heat.layout.height < 600
    gap = [a.text for a in heat.layout.annotations if a.name == "gap"]
    assert gap == ["··· 19,000 residues not seen by the model (501–19,500) ···"]  # the run, not its whole rows
    assert np.nansum(np.asarray(heat.data[1].z, dtype=float)) == pytest.approx(1.0)  # every seen residue drawn

    profile = figures.attention_profile(pred)
    axis = figures.ResidueAxis.of(pred.seen)
    assert len(axis.gaps) == 1 and axis.gaps[0][:2] == (500, 19_499)
    assert int(axis.drawn.sum()) == 1000 and len(profile.data[0].x) < 1100
    assert profile.layout.xaxis.range == (0.5, len(axis.residues) + 0.5)
    y = np.asarray(profile.data[0].y, dtype=float)
    assert np.isnan(y[~axis.drawn]).all()  # the line breaks across the gap
    np.testing.assert_allclose(y[axis.drawn], pred.attention[pred.seen])
    assert {a.text for a in profile.layout.annotations if a.name == "gap"} == {"19,000 aa not seen"}
    labels = list(profile.layout.xaxis.ticktext)
    numbers = [int(t.replace(",", "")) for t in labels]
    assert numbers[0] == 1 and numbers[-1] == 20_000 and not [n for n in numbers if 500 < n <= 19_500]
    assert axis.at(19_501) == axis.at(500) + len(axis.residues) - 1000 + 1  # the gap's slots lie between

    track = figures.filter_track(pred, top_n=3)
    heat_z = np.asarray(track.data[1].z, dtype=float)
    assert heat_z.shape == (3, len(axis.residues))
    assert track.data[1].customdata[0][-1] == 20_000 and track.data[1].text[0][-1] == pred.sequence[-1]
    gap_slots = ~axis.drawn
    assert 0 not in np.asarray(track.data[1].customdata).ravel().tolist()  # no "position 0" in the gap's hover
    assert np.isnan(np.asarray(track.data[0].z, dtype=float)[:, gap_slots]).all()  # no grey cells to hover there
    assert np.isnan(heat_z[:, gap_slots]).all()
    assert len(track.to_json()) < 500_000  # was 5 MB for eight filters


def test_long_titles_wrap_instead_of_running_past_the_chart():
    short = figures.attention_profile(make_prediction(150))
    long_id = "sp|Q9XYZ1|A_RATHER_LONG_ENTRY_NAME_AS_UNIPROT_WRITES_THEM_FOR_FUSIONS"
    fig = figures.attention_profile(make_prediction(150, pid=long_id), [])
    lines = fig.layout.title.subtitle.text.split("<br>")
    assert len(lines) >= 2 and all(len(line) <= figures.SUBTITLE_CHARS for line in lines[1:])
    assert " ".join(lines).startswith(long_id)  # wrapped at spaces, nothing dropped
    assert fig.layout.margin.t > short.layout.margin.t and fig.layout.height > short.layout.height  # room for it
    assert figures.wrap_lines("a b<br>c", 80) == ["a b", "c"]


def test_attention_heatmap_rejects_bad_input(pred):
    with pytest.raises(ValueError, match="residues_per_row"):
        figures.attention_heatmap(pred, residues_per_row=0)
    pred.attention = pred.attention[:-1]
    with pytest.raises(ValueError, match="sequence length"):
        figures.attention_heatmap(pred)


def test_attention_profile_gaps_regions_and_unseen(pred):
    region = AttentionRegion(40, 55, 0.31, 47, pred.sequence[39:55])
    fig = figures.attention_profile(pred, [region])
    line = fig.data[0]
    assert list(line.x) == list(range(1, 151))
    assert np.isnan(np.asarray(line.y[120:], dtype=float)).all()
    assert np.asarray(line.y[:120], dtype=float) == pytest.approx(pred.attention[:120])
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    spans = sorted((s.x0, s.x1) for s in rects)
    assert spans == [(39.5, 55.5), (120.5, 150.5)]  # the region and the unseen tail
    texts = [a.text for a in fig.layout.annotations]
    assert "1" in texts and "not seen by the model" in texts and "uniform" in texts
    ratio = 0.31 / (16 / 120)  # its share against its length's among the 120 residues seen
    hover = f"region 1: 40–55 (31.0% of the attention, {ratio:.1f}× uniform)"
    assert hover in [a.hovertext for a in fig.layout.annotations]
    assert "shaded: 1 most-attended region" in _subtitle(fig) and "no more than" not in _subtitle(fig)
    faint = AttentionRegion(60, 75, 0.05, 66, pred.sequence[59:75])  # 5 % on 16 of 120 residues: below uniform
    both = figures.attention_profile(pred, [region, faint])
    assert "1 of them holding no more than their length's share" in _subtitle(both)
    even = make_prediction(150)
    even.attention = np.where(even.seen, 1 / 120, np.nan)  # even attention: every window exactly 1× (float noise)
    best = top_regions(even, n=3, window=9)
    assert attended_regions(even, n=3, window=9) == []  # the table, the page and the figure agree
    assert "3 of them holding no more than their length's share" in _subtitle(figures.attention_profile(even, best))


# ---------------------------------------------------------------- filters


def test_filter_track_default_top_filters(pred):
    pred.filter_activations[9, 30] = 50.0  # planted: filter 9 fires hardest in this protein
    fig = figures.filter_track(pred, widths=WIDTHS, top_n=4, scale_each=False)
    grey, heat = fig.data
    assert len(heat.y) == 4 and heat.y[0] == "f9 (w=1)"
    assert heat.z.shape == (4, 150)
    assert heat.z[0][30] == 50.0
    assert np.isnan(heat.z[:, 120:].astype(float)).all() and (grey.z[:, 120:] == 1).all()
    assert heat.text[0][30] == pred.sequence[30]
    assert "activation" in heat.hovertemplate and "position" in heat.hovertemplate
    assert "not seen by the model" in grey.hovertemplate
    assert "member 1" in fig.layout.title.text
    assert fig.layout.height > figures.filter_track(pred, top_n=2).layout.height
    default = figures.filter_track(pred).data[1]  # the Predict page's start: the 8 most active, each on its own scale
    assert len(default.y) == figures.FILTER_TRACK_TOP and default.colorbar.title.text == "share of peak"
    top = figures.filters_by_peak(pred)[: figures.FILTER_TRACK_TOP]
    assert top[0] == 9 and [int(label.split()[0][1:]) for label in default.y] == top


def test_filter_track_scales_each_filter_by_its_reference_maximum(pred):
    """A filter that barely fires here stays pale: its row is a share of its strongest reference activation."""
    motifs = [make_motif(i, width=3, seed=i) for i in range(N_FILTERS)]
    for m in motifs:
        m.top_activations = [10.0, 5.0]  # strongest in the reference set: ten times this protein's activations
    motif_set = MotifSet("multiloc", pred.filter_member, CLASSES, motifs, "training folds 1-4")
    fig = figures.filter_track(pred, [3, 0], scale_each=True, motif_set=motif_set)
    heat = np.asarray(fig.data[1].z, dtype=float)
    np.testing.assert_allclose(heat[:, :120], pred.filter_activations[[3, 0], :120] / 10.0)
    assert np.nanmax(heat) < 0.11  # not stretched to 1 as its own peak would be
    assert "strongest activation" in fig.data[1].colorbar.title.text and "reference set" in _subtitle(fig)
    other = dataclasses.replace(motif_set, member=pred.filter_member + 1)  # another member's filters: not used
    own = figures.filter_track(pred, [3], scale_each=True, motif_set=other)
    peak = np.nanmax(pred.filter_activations[3])
    assert list(own.data[1].y) == [f"f3 (w=3) · peak {peak:.2g}"] and own.data[1].colorbar.title.text == "share of peak"
    assert np.nanmax(np.asarray(own.data[1].z, dtype=float)) == pytest.approx(1.0)


def test_filter_track_chosen_filters_and_errors(pred):
    fig = figures.filter_track(pred, filter_indices=[3, 0, 3], scale_each=False)
    assert list(fig.data[1].y) == ["f3", "f0"]
    with pytest.raises(ValueError, match="out of range"):
        figures.filter_track(pred, filter_indices=[N_FILTERS])
    with pytest.raises(ValueError, match="widths"):
        figures.filter_track(pred, widths=[1, 3])
    pred.filter_activations = None
    with pytest.raises(ValueError, match="no filter activations"):
        figures.filter_track(pred)


# ---------------------------------------------------------------- motifs


def test_sequence_logo_information_scaled_without_pyplot():
    before = plt.get_fignums()
    motif = make_motif()
    fig = figures.sequence_logo(motif)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == before  # nothing registered with pyplot's global state
    ax = fig.axes[0]
    assert ax.get_title() == f"filter 7 · width 5 · IC {motif.information_content:.1f} bits\n1 window"
    assert ax.get_ylabel() == "bits"
    assert ax.get_ylim() == pytest.approx((0, math.log2(20)))
    # the stack drawn at each position is as tall as that position's information content
    heights = np.zeros(motif.width)
    for patch in ax.patches:
        bbox = patch.get_extents().transformed(ax.transData.inverted())
        position = int(round((bbox.x0 + bbox.x1) / 2))
        if 0 <= position < motif.width:
            heights[position] = max(heights[position], bbox.y1)
    assert heights == pytest.approx(motif.ic_per_position(), abs=0.05)


def test_an_exported_logo_names_model_member_and_windows():
    motif = make_motif()
    motif.top_windows = ["ACDEF"] * 20
    motif_set = MotifSet("deeploc", 2, CLASSES, [motif], "reference set")
    source = figures.motif_source(motif_set)
    assert source == "model deeploc · ensemble member 2"
    fig = figures.sequence_logo(motif, source=source)
    assert [t.get_text() for t in fig.texts] == [source]
    assert "20 windows" in fig.axes[0].get_title()
    bare = figures.sequence_logo(motif)
    assert not bare.texts and fig.get_figheight() > bare.get_figheight()  # room for the header, logo unchanged
    assert fig.axes[0].get_position().height * fig.get_figheight() == pytest.approx(figures.LOGO_AXES_INCHES)
    grid = figures.logo_grid([motif, make_motif(8)], source=source)
    assert [t.get_text() for t in grid.texts] == [source]
    bar = figures.filter_association_bar(motif, "deeploc", member=2)
    assert "model deeploc · ensemble member 2" in _subtitle(bar)


def test_sequence_logo_draws_on_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert figures.sequence_logo(make_motif(), ax=ax) is fig


def test_class_association_heatmap():
    motifs = [make_motif(i, width=3, seed=i) for i in range(5)]
    motif_set = MotifSet("multiloc", 1, CLASSES, motifs, "reference set", "z-score of mean activation")
    fig = figures.class_association_heatmap(motif_set, filter_indices=[4, 2])
    heat = fig.data[0]
    assert list(heat.y) == ["f4 (w=3)", "f2 (w=3)"]
    assert heat.z[0][0] == pytest.approx(motifs[4].class_association[CLASSES[0]])
    assert "member 1" in _subtitle(fig) and "z-score" in _subtitle(fig)
    assert figures.class_association_heatmap(motif_set).data[0].z.shape == (5, len(CLASSES))
    largest = max(abs(v) for m in (motifs[4], motifs[2]) for v in m.class_association.values())
    limit = figures.step_limit(largest, figures.ASSOCIATION_STEPS)  # a fixed step, not this set's own maximum
    assert (heat.zmin, heat.zmid, heat.zmax) == (-limit, 0.0, limit) and limit in figures.ASSOCIATION_STEPS
    assert f"colour scale ± {limit:g}" in _subtitle(fig)
    with pytest.raises(ValueError, match=r"filters \[9\]"):
        figures.class_association_heatmap(motif_set, filter_indices=[9])


# ---------------------------------------------------------------- model quality


def test_confusion_heatmap_row_normalised_counts_as_text():
    classes = ["cytoplasmic", "nuclear", "plasma_membrane"]
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    fig = figures.confusion_heatmap(classification_report(labels, predicted, classes), model_name="deeploc")
    heat = fig.data[0]
    assert heat.z[0] == pytest.approx([2 / 3, 1 / 3, 0])
    assert heat.z[2] == pytest.approx([1, 0, 0])
    assert [list(row) for row in heat.text] == [["2", "1", "0"], ["0", "2", "0"], ["1", "0", "0"]]
    assert "deeploc" in _subtitle(fig) and "accuracy 0.667" in _subtitle(fig)
    assert list(heat.x) == ["cytoplasmic", "nuclear", "plasma membrane"]
    assert "member" not in _subtitle(fig)  # a bare report says nothing it does not know


def test_confusion_heatmap_says_which_member_fold_and_data_it_shows():
    report = classification_report(np.array([0, 1]), np.array([0, 1]), ["a", "b"])
    member = figures.confusion_heatmap({**report, "dataset": "deeploc", "folds": [3], "member": 3}, "deeploc")
    assert "model deeploc · member 3 · deeploc data · fold 3 · 2 proteins" in _subtitle(member)
    ensemble = figures.confusion_heatmap({**report, "dataset": "deeploc", "folds": [0, 1], "member": None})
    assert "ensemble · deeploc data · folds 0, 1" in _subtitle(ensemble)


def test_training_curves_members_and_best_epoch():
    def member(fold: int, best: int) -> MemberTraining:
        history = [
            {"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e, "val_accuracy": 0.3 + 0.01 * e, "val_mcc": 0.1}
            for e in range(1, 11)
        ]
        return MemberTraining(validation_fold=fold, best_epoch=best, history=tuple(history))

    card = ModelCard(("a", "b"), ModelConfig(2), LengthPolicy(), name="multiloc", members=2,
                     training=(member(1, 7), member(2, 9)))  # fmt: skip
    fig = figures.training_curves(card)
    names = [t.name for t in fig.data]
    assert "member 0 (val fold 1)" in names and "member 1 (val fold 2)" in names
    stars = [t for t in fig.data if t.marker.symbol == "star"]
    assert [(s.x[0], s.y[0]) for s in stars] == [(7, pytest.approx(0.37)), (9, pytest.approx(0.39))]
    assert sum("training loss" in n for n in names) == 2 and sum("validation loss" in n for n in names) == 2
    assert "multiloc" in _subtitle(fig) and "2 ensemble members" in _subtitle(fig)
    assert tuple(fig.layout.yaxis.range) == (0, 1)  # accuracy from 0: gaps between members at their true size


def test_training_curves_without_history_says_so():
    fig = figures.training_curves(ModelCard(("a", "b"), ModelConfig(2), LengthPolicy()), model_name="tiny")
    assert len(fig.data) == 0
    assert any("no training history" in a.text for a in fig.layout.annotations)


def test_the_signal_track_shares_the_attention_profile_s_axis_on_a_long_protein() -> None:
    """A 3,000-residue protein seen at its ends: its C-terminal KDEL sits under the attention at its residues."""
    from locviz import whatif_figures
    from locviz.signals import find_signals

    base = synthetic_prediction(length=3000, seen_upto=None)
    seen = np.zeros(3000, dtype=bool)
    seen[:500] = seen[-500:] = True
    attention = np.where(seen, 1.0 / 1000, np.nan)
    pred = Prediction(base.id, base.sequence[:-4] + "KDEL", base.classes, base.probabilities, attention, seen,
                      base.model_name)  # fmt: skip
    profile = figures.attention_profile(pred)
    x_of = dict(zip(profile.data[0].customdata[:, 2], profile.data[0].x, strict=True))  # residue -> x
    kdel = next(s for s in find_signals(pred.sequence) if s.kind == "er_retention")
    track = whatif_figures.signal_track([kdel], len(pred.sequence), pred.id, pred.seen)
    assert list(track.data[0].x) == pytest.approx([x_of[2997] - 0.5, x_of[3000] + 0.5])
    assert track.layout.xaxis.range[1] < 1100  # the unseen middle is one narrow gap, as in the profile


def test_the_readme_s_figure_calls_draw_and_export() -> None:
    """The README's "app's figures from Python" paragraph, call by call, on a shipped student and one protein: every
    figure the app draws has a public function, and figure_bytes writes it."""
    from conftest import HUMAN_INSULIN

    import locviz
    from locviz import whatif, whatif_figures
    from locviz.export import figure_bytes

    predictor = locviz.load_model("multiloc-fast", device="cpu")
    (p,) = predictor.predict([locviz.ProteinRecord("insulin", HUMAN_INSULIN)], with_filters=True)
    motif_set = locviz.motifs.load_bundle_motifs(predictor.bundle)
    card = predictor.bundle.card
    key = next(k for k, r in card.metrics.items() if isinstance(r, dict) and r.get("confusion_matrix"))
    (change,) = locviz.mutate(predictor, p, "del1-24")
    scan = locviz.scan(predictor, p, 1, 3)
    attributions, curves = whatif.cross_check(predictor, locviz.ProteinRecord("insulin", HUMAN_INSULIN), p.label)
    drawn = [
        figures.probability_bar(p), figures.attention_heatmap(p),
        figures.attention_profile(p, locviz.attended_regions(p)),
        figures.filter_track(p, motif_set=motif_set), figures.sequence_logo(motif_set.motifs[0], motif_set=motif_set),
        figures.confusion_heatmap(card.metrics[key]), figures.training_curves(card), figures.reliability_diagram(card),
        whatif_figures.signal_track(locviz.find_signals(p), p.length, p.id, p.seen), whatif_figures.scan_heatmap(scan),
        whatif_figures.delta_attention_track(change), whatif_figures.comparison_probabilities(change),
        whatif_figures.attribution_tracks(attributions), whatif_figures.deletion_curve_figure(curves, p.id),
    ]  # fmt: skip
    for fig in drawn:
        assert figure_bytes(fig, "svg").lstrip().startswith((b"<?xml", b"<svg"))
    labels = [str(label) for label in drawn[3].data[0].y]  # the filter track: widths from the motif set
    assert labels and all(re.fullmatch(r"f\d+ \(w=\d+\)", label) for label in labels), labels
    plt.close("all")
