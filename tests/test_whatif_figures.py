"""What-if figures on hand-made results (no model): what each figure must say so that it cannot mislead."""

from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go
import pytest
from conftest import synthetic_prediction

from locviz import figures, whatif_figures
from locviz.card import display_name
from locviz.prediction import Prediction
from locviz.whatif import NEGLIGIBLE, Attribution, DeletionCurve, SaturationScan, VariantComparison


def _subtitle(fig: go.Figure) -> str:
    """The subtitle as one line: wrapping breaks it at any space."""
    return fig.layout.title.subtitle.text.replace("<br>", " ")


# ------------------------------------------------------------------ attribution lanes
def test_each_lane_carries_its_maximum_and_a_negligible_delta_p_lane_is_grey_and_says_so() -> None:
    wild = synthetic_prediction(150, seen_upto=None)
    rng = np.random.default_rng(0)
    attention = Attribution("attention", wild.label, wild.attention, wild)
    noise = Attribution("occlusion", wild.label, rng.uniform(-3e-4, 3e-4, 150), wild)
    noise.scores[10] = 3e-4
    real = Attribution("gradxinput", wild.label, rng.uniform(-0.2, 0.2, 150), wild)
    real.scores[20] = 0.2
    fig = whatif_figures.attribution_tracks([attention, noise, real])
    titles = [fig.layout[f"yaxis{k}"].title.text for k in ("", "2", "3")]
    assert titles[0].endswith(f"max share {np.nanmax(wild.attention):.2g}")
    assert titles[1].endswith("max |ΔP| 0.0003") and titles[2].endswith("max |ΔP| 0.2")
    assert "of its maximum 0.0003" in fig.data[1].hovertemplate
    assert np.nanmax(np.abs(np.asarray(fig.data[1].y, dtype=float))) == pytest.approx(1.0)  # still scaled
    assert fig.data[1].line.color == figures.MUTED
    assert figures.MUTED not in (fig.data[0].line.color, fig.data[2].line.color)
    said = [a for a in fig.layout.annotations if a.name == "negligible"]
    assert len(said) == 1 and said[0].yref == "y2 domain"  # in the occlusion lane only
    assert said[0].text == f"no occluded window moves P({display_name(wild.label)}) by {NEGLIGIBLE:g} or more"
    assert "share of attention" in _subtitle(fig) and "|ΔP(" in _subtitle(fig)


# ------------------------------------------------------------------ saturation scan
def make_scan(seen: list[bool]) -> SaturationScan:
    wild = synthetic_prediction(150, seen_upto=None)
    width = len(seen)
    delta = np.random.default_rng(1).uniform(-0.02, 0.02, (width, 20, len(wild.classes)))
    delta[~np.array(seen)] = 0.0  # the model never sees those positions: Δ is exactly 0, not "no effect"
    return SaturationScan(wild, np.arange(101, 101 + width), wild.sequence[100 : 100 + width], delta, np.array(seen))


def test_unseen_scan_positions_are_grey_marked_and_counted() -> None:
    scan = make_scan([True] * 4 + [False] * 2)
    fig = whatif_figures.scan_heatmap(scan)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.isnan(z[:, 4:]).all() and np.isfinite(z[:, :4]).all()  # not drawn white as Δ = 0
    grey = next(t for t in fig.data if t.name == figures.NOT_SEEN)
    grey_z = np.asarray(grey.z, dtype=float)
    assert (grey_z[:, 4:] == 1).all() and np.isnan(grey_z[:, :4]).all() and grey.hoverinfo == "skip"
    assert set(np.asarray(grey.colorscale, dtype=object)[:, 1]) == {figures.UNSEEN_GREY}
    assert (grey.xgap, grey.ygap) == (1, 1)
    assert [label.endswith("·") for label in fig.data[0].x] == [False] * 4 + [True] * 2
    assert "2 positions not seen by the model" in _subtitle(fig)
    assert "not seen by the model" in fig.data[0].text[0][5] and "Δp" not in fig.data[0].text[0][5]
    seen = whatif_figures.scan_heatmap(make_scan([True] * 6))
    assert figures.NOT_SEEN not in [t.name for t in seen.data] and "not seen" not in _subtitle(seen)


# ------------------------------------------------------------------ where the attention moved
def make_comparison(wild: Prediction, delta_attention: np.ndarray, changed: list[int],
                    insertions: list[tuple[int, str, float]] | None = None) -> VariantComparison:  # fmt: skip
    return VariantComparison("K1200T", wild, wild, np.arange(wild.length), np.zeros(len(wild.classes)),
                             delta_attention, changed, insertions or [])  # fmt: skip


def test_delta_attention_uses_the_attention_profile_s_axis_and_a_floor_of_one_uniform_share() -> None:
    wild = synthetic_prediction(1500, seen_upto=None, seen_ends=500)  # the policy's unseen middle
    noise = np.where(wild.seen, np.random.default_rng(2).uniform(-1e-6, 1e-6, wild.length), np.nan)
    fig = whatif_figures.delta_attention_track(make_comparison(wild, noise, [1200], [(0, "MA", 0.0)]))
    axis = figures.ResidueAxis.of(wild.seen)
    assert len(fig.data[0].x) == len(axis.residues) < 1100  # not 1-1,500 with 500 blank bars
    assert fig.layout.xaxis.range[1] == len(axis.residues) + 0.5
    assert [a.text for a in fig.layout.annotations if a.name == "gap"] == ["500 aa not seen"]
    changed = next(s for s in fig.layout.shapes if s.fillcolor == "#999")
    assert (changed.x0 + changed.x1) / 2 == pytest.approx(axis.at(1200))
    assert any(s.type == "line" and s.x0 == 0.5 for s in fig.layout.shapes)  # ins0: before the first residue
    assert fig.data[0].customdata[-1] == 1500
    assert tuple(fig.layout.yaxis.range) == pytest.approx((-1 / 1000, 1 / 1000))  # noise stays flat
    assert "uniform share of attention (1/1000 = 0.001)" in _subtitle(fig)
    loud = np.where(wild.seen, 0.0, np.nan)
    loud[3] = 0.05
    big = whatif_figures.delta_attention_track(make_comparison(wild, loud, [4]))
    assert big.layout.yaxis.range[1] == pytest.approx(0.055)  # a real move still fits


# ------------------------------------------------------------------ deletion curves
def test_deletion_figure_gives_every_reading_the_model_and_the_random_draws() -> None:
    def curve(method: str, reading: str) -> DeletionCurve:
        ks = np.array([1, 5])
        return DeletionCurve(method, "nuclear", ks, 0.8, np.array([0.7, 0.3]), np.array([0.78, 0.75]),
                             np.array([0.01, 0.02]), 5, reading)  # fmt: skip

    curves = [curve("attention", "attention is not faithful here"), curve("occlusion", "occlusion is faithful here")]
    fig = whatif_figures.deletion_curve_figure(curves, "P1", model_name="deeploc", organism="any")
    lines = fig.layout.title.subtitle.text.split("<br>")
    assert lines[0] == "P1 · model deeploc · all compartments (organism any)"
    assert lines[1:3] == [c.reading for c in curves]  # one line each, not only the first
    assert "dotted: k random residues, mean ± SD of 5 draws" in _subtitle(fig)


# ------------------------------------------------------------------ organism
def test_every_what_if_figure_states_the_organism_of_its_prediction() -> None:
    wild = synthetic_prediction(150, seen_upto=None)
    flat = np.zeros(wild.length)
    any_figs = [whatif_figures.comparison_probabilities(make_comparison(wild, flat, [3])),
                whatif_figures.variants_probabilities([make_comparison(wild, flat, [3])]),
                whatif_figures.delta_attention_track(make_comparison(wild, flat, [3])),
                whatif_figures.attribution_tracks([Attribution("attention", wild.label, wild.attention, wild)]),
                whatif_figures.scan_heatmap(make_scan([True] * 3))]  # fmt: skip
    assert all("all compartments (organism any)" in _subtitle(f) for f in any_figs)
    animal = dataclasses.replace(wild, organism="animal")
    fig = whatif_figures.comparison_probabilities(make_comparison(animal, flat, [3]))
    assert "organism animal (excluded: chloroplast, vacuolar)" in _subtitle(fig)
