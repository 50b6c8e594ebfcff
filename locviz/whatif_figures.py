"""Figures of the what-if tools: result objects of :mod:`locviz.whatif` / :mod:`locviz.signals` in, plotly out.

* :func:`scan_heatmap` — the 20 × W saturation-mutagenesis heatmap for one class (wild type marked);
* :func:`comparison_probabilities` and :func:`delta_attention_track` — a variant beside its wild type;
  :func:`variants_probabilities` — several mutants beside one wild type;
* :func:`signal_track` — the known-signal lanes, drawn on the same residue axis as attention;
* :func:`attribution_tracks` — attention, occlusion and gradients on one axis, each scaled to its maximum;
* :func:`deletion_curve_figure` — P(call) against k, top-k against random, one line per method.

Same look as :mod:`locviz.figures` (white, Okabe-Ito colours, a title naming protein and model), so the
exporters in :mod:`locviz.export` turn any of them into PNG/SVG/PDF; no Streamlit here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from locviz.card import display_name
from locviz.figures import (
    HIGHLIGHT,
    MUTED,
    NOT_SEEN,
    PALETTE,
    UNSEEN_GREY,
    ResidueAxis,
    _esc,
    _runs,
    organism_text,
    prediction_organism,
    step_limit,
)
from locviz.figures import _style as _figure_style
from locviz.prediction import Prediction
from locviz.signals import KINDS, Signal
from locviz.whatif import (
    NEGLIGIBLE,
    Attribution,
    DeletionCurve,
    SaturationScan,
    VariantComparison,
    rescore_summary,
    scan_summary,
)

KIND_NAMES = {
    "signal_peptide": "signal peptide", "transmembrane": "TM helix", "er_retention": "ER retention",
    "pts1": "PTS1", "nls": "NLS", "mito_presequence": "presequence",
}  # fmt: skip
DIVERGING = [[0.0, "#2166AC"], [0.5, "#F7F7F7"], [1.0, "#B2182B"]]  # blue = lower, red = higher probability
SCALE_STEPS = (0.05, 0.1, 0.2, 0.5, 1.0)
"""The saturation heatmap's colour scale is ± one of these (the smallest that holds every Δp), never fitted to a
scan: a scan of ±0.005 effects stays nearly white instead of looking as strong as one of ±0.8."""


def scale_limit(largest: float) -> float:
    """The colour-scale half-range for a largest |Δp|: the smallest of :data:`SCALE_STEPS` at or above it."""
    return step_limit(largest, SCALE_STEPS)


def _style(fig: go.Figure, title: str, subtitle: str, height: int) -> go.Figure:
    """The look of :mod:`locviz.figures`; titles here are plain text (ids, variants), so they are escaped ("\\n"
    starts a new subtitle line)."""
    return _figure_style(fig, _esc(title), "<br>".join(_esc(line) for line in subtitle.split("\n")), height)


def _about(pred: Prediction) -> str:
    """Protein, model and organism of the prediction a what-if figure draws: Δs of a prediction restricted to an
    organism are Δs of renormalised probabilities."""
    return f"{pred.id} · model {pred.model_name} · {prediction_organism(pred)}"


def scan_heatmap(scan: SaturationScan, cls: str | None = None) -> go.Figure:
    """Δp(``cls``) of every substitution: substitutes down, positions across (wild-type letter under each).

    The colour scale is symmetric around 0 (red: the mutant raises the class probability) and fixed in
    steps (:data:`SCALE_STEPS`, its range in the title), so colour strength compares across scans; the
    subtitle says in words when no substitution reaches :data:`locviz.whatif.NEGLIGIBLE`. Wild-type cells
    are marked with a dot. Positions the model never sees (Δ is 0 there by construction, not "no effect") are
    grey columns with a "·" after their label, counted in the subtitle. ``cls`` defaults to
    :attr:`~locviz.whatif.SaturationScan.default_class` (a fast scan: the class the full model re-scored).
    """
    cls = cls or scan.default_class
    if cls not in scan.classes:
        raise ValueError(f"class {cls!r} is not one of {scan.classes}")
    seen = np.asarray(scan.seen, dtype=bool)
    z = np.where(seen[None, :], scan.heatmap(cls), np.nan)  # (20, W)
    shown = display_name(cls)
    limit = scale_limit(float(np.nanmax(np.abs(z))) if seen.any() else 0.0)
    x = [f"{wt}{pos}" + ("" if ok else "·") for wt, pos, ok in zip(scan.wt, scan.positions.tolist(), seen, strict=True)]
    subs = list(scan.substitutes)
    hover = [[f"{x[i]}{aa}: Δp({shown}) = {z[j, i]:+.4f}" if seen[i] else f"{x[i]}{aa}: position {NOT_SEEN}"
              for i in range(len(x))] for j, aa in enumerate(subs)]  # fmt: skip
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=subs, zmin=-limit, zmax=limit, colorscale=DIVERGING, hoverinfo="text", text=hover,
        colorbar=dict(title=dict(text=f"Δp({shown})", side="right")), xgap=1, ygap=1,
    ))
    wt_x = [x[i] for i, wt in enumerate(scan.wt) if wt in subs]
    wt_y = [wt for wt in scan.wt if wt in subs]
    fig.add_trace(go.Scatter(x=wt_x, y=wt_y, mode="markers", name="wild type", hoverinfo="skip",
                             marker=dict(symbol="circle", size=7, color="#222")))
    if scan.rescored_by is not None:  # the cells the full model predicted again: outlined, both Δs on hover
        c = scan.classes.index(cls)
        full = scan.rescored_by.model_name
        cells = list(scan.rescored)
        fig.add_trace(go.Scatter(
            x=[x[i] for i, _ in cells], y=[subs[j] for _, j in cells], mode="markers", name=f"re-scored by {full}",
            marker=dict(symbol="square-open", size=15, color="#111", line=dict(width=2)), hoverinfo="text",
            text=[f"{x[i]}{subs[j]}: Δp({shown}) = {scan.rescored[i, j][c]:+.4f} by {full}, "
                  f"{z[j, i]:+.4f} by {scan.model}" for i, j in cells],
        ))  # fmt: skip
    if not seen.all():  # under the dots (plotly draws heatmaps below scatter traces); hover stays on the Δ trace
        fig.add_trace(go.Heatmap(z=np.where(seen[None, :], np.nan, 1.0) * np.ones((len(subs), 1)), x=x, y=subs,
                                 colorscale=[[0, UNSEEN_GREY], [1, UNSEEN_GREY]], showscale=False, hoverinfo="skip",
                                 name=NOT_SEEN, xgap=1, ygap=1))  # fmt: skip
    fig.update_yaxes(title="substitute", autorange="reversed", tickfont=dict(family="monospace"))
    fig.update_xaxes(title="position (wild type)", tickangle=-90, tickfont=dict(family="monospace", size=10))
    subtitle = (f"{scan.id} · model {scan.model} · {prediction_organism(scan.wild)} · positions "
                f"{scan.positions[0]}-{scan.positions[-1]} · {scan.model}'s call {display_name(scan.wild.label)} "
                f"({scan.wild.confidence:.2f})\n{scan_summary(scan, cls)}")  # the drawing model's own call
    unseen = int((~seen).sum())
    if unseen:
        subtitle += f"\n{unseen} position{'s' if unseen > 1 else ''} {NOT_SEEN} (grey, marked ·)"
    if scan.rescored_by is not None:
        subtitle += "\n" + rescore_summary(scan, cls)
    fig.update_layout(showlegend=False)
    return _style(fig, f"Saturation mutagenesis: Δp({shown}), colour scale ±{limit:g}", subtitle, 560)


def comparison_probabilities(comparison: VariantComparison) -> go.Figure:
    """Class probabilities of the wild type and the mutant, side by side."""
    classes = [display_name(c) for c in comparison.classes]
    fig = go.Figure([
        go.Bar(x=classes, y=comparison.wild.probabilities, marker_color=MUTED,
               name=f"wild type ({display_name(comparison.wild.label)})"),
        go.Bar(x=classes, y=comparison.mutant.probabilities, marker_color=HIGHLIGHT,
               name=f"{comparison.label} ({display_name(comparison.mutant.label)})"),
    ])
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.3))
    fig.update_yaxes(title="probability", range=[0, 1])
    subtitle = f"{_about(comparison.wild)} · {comparison.label}"
    return _style(fig, "Wild type and variant", subtitle, 420)


def variants_probabilities(comparisons: Sequence[VariantComparison]) -> go.Figure:
    """The wild type's class probabilities beside those of every mutant (one bar per mutant and class).

    Each mutant is its own prediction against the same wild type, so "del505-508, L7R" shows what each
    change does alone; a combined mutant is one more bar group.
    """
    if not comparisons:
        raise ValueError("no comparison to draw")
    first = comparisons[0]
    classes = [display_name(c) for c in first.classes]
    bars = [go.Bar(x=classes, y=first.wild.probabilities, marker_color=MUTED,
                   name=f"wild type ({display_name(first.wild.label)})")]  # fmt: skip
    for k, c in enumerate(comparisons):
        colour = HIGHLIGHT if len(comparisons) == 1 else PALETTE[k % len(PALETTE)]
        bars.append(go.Bar(x=classes, y=c.mutant.probabilities, marker_color=colour,
                           name=f"{c.label} ({display_name(c.mutant.label)})"))  # fmt: skip
    fig = go.Figure(bars)
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.3))
    fig.update_yaxes(title="probability", range=[0, 1])
    what = first.label if len(comparisons) == 1 else f"{len(comparisons)} mutants, each against the wild type"
    subtitle = f"{_about(first.wild)} · {what}"
    title = "Wild type and variant" if len(comparisons) == 1 else "Wild type and variants"
    return _style(fig, title, subtitle, 420 + 20 * max(0, len(comparisons) - 2))


def delta_attention_track(comparison: VariantComparison) -> go.Figure:
    """Mutant minus wild-type attention on the wild type's residues; changed residues and insertions marked.

    On the attention profile's axis (:class:`ResidueAxis`): a long unseen middle is one labelled gap, not hundreds
    of empty bars that read as "no change". The y axis spans at least ± the uniform share 1/n_seen, so float
    noise of 1e-6 stays flat instead of filling the plot.
    """
    delta = comparison.delta_attention
    axis = ResidueAxis.of(comparison.wild.seen)
    index = np.maximum(axis.residues, 0)
    y = np.where(axis.drawn, delta[index], np.nan)
    colours = np.where(np.nan_to_num(y) >= 0, HIGHLIGHT, PALETTE[0])
    fig = go.Figure(go.Bar(x=axis.x, y=y, marker_color=colours, name="Δ attention", customdata=index + 1,
                           hovertemplate="residue %{customdata}: Δ attention %{y:+.4f}<extra></extra>"))
    deleted = np.isin(index + 1, list(comparison.changed))  # no counterpart in the variant: marked as changed
    no_delta = axis.drawn & np.isnan(y) & ~deleted  # a residue the wild type or the variant did not see
    for start, end in _runs(no_delta):
        fig.add_vrect(x0=axis.x[start] - 0.5, x1=axis.x[end] + 0.5, fillcolor=UNSEEN_GREY, opacity=0.6, line_width=0,
                      layer="below")  # fmt: skip
    for pos in comparison.changed:
        fig.add_vrect(x0=axis.at(pos) - 0.5, x1=axis.at(pos) + 0.5, fillcolor="#999", opacity=0.3, line_width=0)
    for after, residues, _ in comparison.insertions:
        x = axis.at(after) + 0.5 if after else 0.5  # between residues after and after + 1 (ins0: before the first)
        fig.add_vline(x=x, line=dict(color="#222", dash="dot", width=1))
        fig.add_annotation(x=x, y=1, yref="paper", text=f"+{_esc(residues[:8])}", showarrow=False,
                           font=dict(size=10))
    n_seen = max(int(np.asarray(comparison.wild.seen, dtype=bool).sum()), 1)
    largest = float(np.nanmax(np.abs(y))) if np.isfinite(y).any() else 0.0
    half = max(1.1 * largest, 1.0 / n_seen)
    axis.layout(fig, title="position (wild type)")
    fig.update_yaxes(title="Δ attention", range=[-half, half])
    unseen = int(no_delta.sum())
    shaded = (f", light grey: {unseen} residue{'s' if unseen != 1 else ''} the wild type or the variant did not "
              "see (no Δ)" if unseen else "")  # fmt: skip
    subtitle = (f"{_about(comparison.wild)} · {comparison.label} · grey: changed residues{shaded}, dotted: "
                f"insertions\ny axis at least ± the uniform share of attention (1/{n_seen} = {1 / n_seen:.2g})")
    return _style(fig, "Where the attention moved", subtitle, 340)


def signal_track(signals: Sequence[Signal], length: int, title_id: str = "", seen: np.ndarray | None = None
                 ) -> go.Figure:  # fmt: skip
    """One lane per signal kind, each hit a bar from its start to its end (1-based), evidence on hover.

    ``seen`` (the prediction's): the residue axis of the attention profile drawn beside it (:class:`ResidueAxis`),
    a long unseen middle collapsed into one labelled gap, so a C-terminal signal sits under its attention.
    """
    seen = np.ones(length, dtype=bool) if seen is None else np.asarray(seen, dtype=bool)
    if len(seen) != length:
        raise ValueError(f"seen has {len(seen)} residues, the protein {length}")
    axis = ResidueAxis.of(seen)
    fig = go.Figure()
    for lane, kind in enumerate(KINDS):
        hits = [s for s in signals if s.kind == kind]
        for s in hits:
            fig.add_trace(go.Scatter(
                x=[axis.at(s.start) - 0.5, axis.at(s.end) + 0.5], y=[KIND_NAMES[kind]] * 2, mode="lines+markers",
                line=dict(width=12, color=PALETTE[lane % len(PALETTE)]), showlegend=False,
                # a marker at each end keeps a 4-residue signal (KDEL) visible on a 1,000-residue axis
                marker=dict(size=11, symbol="diamond", color=PALETTE[lane % len(PALETTE)]),
                hovertemplate=f"{_esc(s.label)} {s.start}-{s.end}<br>{_esc(s.evidence)}<extra></extra>",
            ))
    fig.update_yaxes(categoryorder="array", categoryarray=[KIND_NAMES[k] for k in KINDS][::-1],
                     type="category", range=[-0.5, len(KINDS) - 0.5])
    axis.layout(fig, title="position")
    fig.add_trace(go.Scatter(x=[1, len(axis.residues)], y=[KIND_NAMES[KINDS[0]]] * 2, mode="markers", opacity=0,
                             showlegend=False, hoverinfo="skip"))  # keeps every lane on the axis when empty
    subtitle = f"{title_id} · {length} aa · rules of locviz.signals (cited there)" if title_id else f"{length} aa"
    return _style(fig, "Known sorting signals", subtitle, 300)


def _largest(a: Attribution) -> float:
    """The lane's largest |score|: the number its scaled line stands for (0 for a lane with no finite score)."""
    return float(np.nanmax(np.abs(a.scores))) if np.isfinite(a.scores).any() else 0.0


def _negligible(a: Attribution) -> bool:
    """A ΔP lane (not attention) in which no residue moves P(target) by :data:`NEGLIGIBLE`: scaled to its maximum,
    noise of 3e-4 would be drawn as tall as a real peak."""
    return a.method != "attention" and _largest(a) < NEGLIGIBLE


def _negligible_text(a: Attribution) -> str:
    """What a grey lane means, in the method's own terms: occlusion measures ΔP, gradients only estimate it."""
    target = _esc(display_name(a.target))
    if a.method == "occlusion":
        return f"no occluded window moves P({target}) by {NEGLIGIBLE:g} or more"
    return f"every |{_esc(a.name)}| under {NEGLIGIBLE:g} (a first-order estimate of ΔP({target}))"


def _lane_title(a: Attribution) -> str:
    """Method and the lane's maximum in its own unit: a share of attention, or ΔP of the target class."""
    unit = "share" if a.method == "attention" else "|ΔP|"
    return f"{a.name.replace(' ', '<br>', 1)}<br>max {unit} {_largest(a):.2g}"


def attribution_tracks(attributions: Sequence[Attribution]) -> go.Figure:
    """One lane per method, sharing the residue axis: each method's scores divided by their largest magnitude.

    Stacked rather than overlaid, so four methods stay readable on a long protein; agreement shows as
    peaks at the same x in several lanes. Each lane's maximum is in its y title and hover; a ΔP lane under
    :data:`locviz.whatif.NEGLIGIBLE` is grey and says so in words.
    """
    if not attributions:
        raise ValueError("no attribution to draw")
    n = len(attributions)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    axis = ResidueAxis.of(attributions[0].wild.seen)  # the attention profile's axis: a long unseen middle collapsed
    index = np.maximum(axis.residues, 0)
    for i, a in enumerate(attributions):
        scale, quiet = _largest(a), _negligible(a)
        fig.add_trace(go.Scatter(
            x=axis.x, y=np.where(axis.drawn, a.scores[index] / (scale or 1.0), np.nan), mode="lines", name=a.name,
            customdata=index + 1, showlegend=False,
            line=dict(width=1.2, color=MUTED if quiet else PALETTE[i % len(PALETTE)]),
            hovertemplate=f"{_esc(a.name)}: residue %{{customdata}}, %{{y:.2f}} of its maximum {scale:.2g}"
                          "<extra></extra>",
        ), row=i + 1, col=1)  # fmt: skip
        fig.update_yaxes(range=[-1.05, 1.05] if np.nanmin(a.scores) < 0 else [0, 1.05], row=i + 1, col=1,
                         nticks=3, title=dict(text=_lane_title(a), font=dict(size=11)))  # fmt: skip
        if quiet:
            fig.add_annotation(
                text=_negligible_text(a), x=0.5, y=0.9,
                xref="x domain", yref="y domain", showarrow=False, font=dict(size=11, color="#555"),
                bgcolor="rgba(255,255,255,0.8)", name="negligible", row=i + 1, col=1,
            )  # fmt: skip
    first = attributions[0]
    axis.layout(fig)
    fig.update_xaxes(title="position", row=n, col=1)
    subtitle = (f"{_about(first.wild)} · for {display_name(first.target)} (attention is the same for every "
                "class)\neach lane scaled to its maximum, given at its left (attention: a share of attention; the "
                f"others: |ΔP({display_name(first.target)})|); grey lane: under {NEGLIGIBLE:g}; gaps: {NOT_SEEN}")
    return _style(fig, "Attention and attributions", subtitle, 130 + 110 * n)


def deletion_curve_figure(curves: Sequence[DeletionCurve], protein_id: str = "", *, model_name: str = "",
                          organism: str | None = None) -> go.Figure:  # fmt: skip
    """P(call) after replacing each method's top-k residues with X (solid) and k random ones (dotted).

    Every curve's reading is a subtitle line of its own: an exported figure of attention and occlusion must not
    carry only the first verdict. ``organism``: that of the wild type's prediction (:func:`organism_text`).
    """
    if not curves:
        raise ValueError("no deletion curve to draw")
    fig = go.Figure()
    for i, c in enumerate(curves):
        colour = PALETTE[i % len(PALETTE)]
        ks = np.concatenate([[0], c.ks])
        fig.add_trace(go.Scatter(x=ks, y=np.concatenate([[c.p_wild], c.p_top]), name=f"{c.name}: top k",
                                 mode="lines+markers", line=dict(color=colour)))
        fig.add_trace(go.Scatter(
            x=ks, y=np.concatenate([[c.p_wild], c.p_random]), name=f"{c.name}: random k", mode="lines",
            line=dict(color=colour, dash="dot"),
            error_y=dict(type="data", array=np.concatenate([[0], c.p_random_sd]), visible=True, thickness=1),
        ))
    fig.update_xaxes(title="residues replaced by X (k)")
    fig.update_yaxes(title=f"P({display_name(curves[0].target)})", range=[0, 1])
    fig.update_layout(legend=dict(orientation="h", y=-0.3))
    about = [protein_id, f"model {model_name}" if model_name else "", organism_text(organism) if organism else ""]
    draws = sorted({c.n_random for c in curves})
    lines = [" · ".join(part for part in about if part), *(c.reading for c in curves),
             f"dotted: k random residues, mean ± SD of {', '.join(map(str, draws))} draws"]
    return _style(fig, "Deletion curves", "\n".join(line for line in lines if line), 400 + 20 * len(curves))
