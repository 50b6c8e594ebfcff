"""Figure builders: a Prediction (or FilterMotif, MotifSet, report, card) in, a figure out.

Plotly for everything interactive; matplotlib for sequence logos (letters drawn as cached outlines).
No Streamlit here: the same figures feed the app, the command line and the
static exporters in :mod:`locviz.export`. Every figure carries a title naming
the protein and the model so an exported file still says what it shows.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import logomaker
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D
from plotly.colors import sequential
from plotly.subplots import make_subplots

from locviz.card import ModelCard, display_name
from locviz.motifs import CHANCE_QUANTILE, ChanceLevel, FilterMotif, MotifSet
from locviz.organisms import allowed_only, excluded_classes
from locviz.prediction import Prediction
from locviz.regions import Region, above_uniform, times_uniform
from locviz.sequences import STANDARD_RESIDUES

FONT = "Helvetica, Arial, sans-serif"
MONO = "Menlo, Consolas, 'DejaVu Sans Mono', monospace"
HIGHLIGHT = "#D55E00"  # Okabe-Ito vermilion: the predicted class, top regions
MUTED = "#A6B1BD"
UNSEEN_GREY = "#D3D3D3"
ATTENTION_SCALE = sequential.Magma_r  # perceptual, light = low so letters stay readable
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
NOT_SEEN = "not seen by the model"


# ---------------------------------------------------------------- helpers


def _esc(text: object) -> str:
    """Plotly titles are pseudo-HTML: escape ids such as ``sp|P1|X<1>``."""
    return html.escape(str(text), quote=False)


def organism_text(organism: str, excluded: Sequence[str] = ()) -> str:
    """Which compartments the probabilities are spread over: a restricted prediction's numbers are renormalised,
    so an exported figure must say so (``organism animal (excluded: Plastid)``)."""
    if organism == "any":
        return "all compartments (organism any)"
    dropped = f" (excluded: {', '.join(display_name(c) for c in excluded)})" if excluded else ""
    return f"organism {organism}{dropped}"


def prediction_organism(pred: Prediction) -> str:
    """:func:`organism_text` of a prediction, its excluded classes looked up from its own class list."""
    return organism_text(pred.organism, excluded_classes(pred.classes, pred.organism))


def _subtitle(pred: Prediction, extra: str = "") -> str:
    text = f"{_esc(pred.id)} · model {_esc(pred.model_name)} · {pred.length} aa"
    return f"{text} · {extra}" if extra else text


TITLE_CHARS = 50
SUBTITLE_CHARS = 70
"""Title and subtitle lines are wrapped at about these many characters: plotly never wraps them itself, and a
chart can be ~410 px wide in the app (an 800 px window with the sidebar open), where an 80-character line ran
past the chart's edge and was cut off (70 fit there: the What-if heatmap, headless Chromium, 2026-12-02)."""


def wrap_lines(text: str, limit: int) -> list[str]:
    """``text`` as lines of at most about ``limit`` characters, broken at spaces (explicit ``<br>`` kept)."""
    lines = []
    for line in text.split("<br>"):
        lines += textwrap.wrap(line, limit, break_long_words=False, break_on_hyphens=False) or [""]
    return lines


def _style(fig: go.Figure, title: str, subtitle: str, height: int, width: int | None = None) -> go.Figure:
    """One look for every figure: white, light axes, title with a subtitle line (both wrapped, never cut off).

    The top margin grows with the wrapped lines; figures that need more room above the plot add to it.
    """
    title_lines, subtitle_lines = wrap_lines(title, TITLE_CHARS), wrap_lines(subtitle, SUBTITLE_CHARS)
    extra = 22 * (len(title_lines) - 1) + 17 * (len(subtitle_lines) - 1)
    fig.update_layout(
        template="simple_white",
        title=dict(
            text="<b>" + "<br>".join(title_lines) + "</b>",
            subtitle=dict(text="<br>".join(subtitle_lines)),
            x=0.01,
            xanchor="left",
            # anchored at the top of the figure, so a subtitle of many lines grows into the margin made for it
            # (by default Plotly centres the title in the margin and a long subtitle runs into the plot)
            yref="container",
            y=1 - 12 / (height + extra),
            yanchor="top",
        ),
        font=dict(family=FONT, size=13, color="#222"),
        height=height + extra,
        width=width,
        margin=dict(l=80, r=30, t=90 + extra, b=60),
        hoverlabel=dict(font=dict(family=FONT)),
    )
    return fig


def _check_prediction(pred: Prediction) -> tuple[np.ndarray, np.ndarray]:
    """Attention and seen mask as arrays, validated against the sequence length."""
    attention = np.asarray(pred.attention, dtype=float)
    seen = np.asarray(pred.seen, dtype=bool)
    if pred.length == 0:
        raise ValueError(f"protein {pred.id!r} has an empty sequence; nothing to draw")
    if attention.shape != (pred.length,) or seen.shape != (pred.length,):
        raise ValueError(
            f"protein {pred.id!r}: attention {attention.shape} and seen {seen.shape} must both have "
            f"the sequence length ({pred.length},)"
        )
    return attention, seen & np.isfinite(attention)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous True stretches as 0-based inclusive (start, end)."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _filter_label(index: int, widths: Sequence[int] | None) -> str:
    return f"f{index} (w={widths[index]})" if widths is not None else f"f{index}"


def step_limit(largest: float, steps: Sequence[float]) -> float:
    """A colour scale's half-range: the smallest of ``steps`` at or above ``largest`` (else the last), so the
    same colour means the same value across figures instead of each figure's own maximum."""
    return next((step for step in steps if largest <= step), steps[-1])


ASSOCIATION_STEPS = (0.5, 1.0, 2.0, 3.0, 5.0)
"""The filter–class association map's colour scale is ± one of these z-scores (its range in the subtitle)."""


def _activation_scale(values: np.ndarray) -> dict:
    """Sequential scale for non-negative activations, diverging around 0 otherwise."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() < 0:
        return dict(colorscale="RdBu_r", zmid=0.0)
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return dict(colorscale="Viridis", zmin=0.0, zmax=top)


# ---------------------------------------------------------------- prediction figures


def member_range_trace(members: np.ndarray, names: Sequence[str]) -> go.Scatter:
    """One whisker per class from the lowest to the highest member probability (``members``: (M, C), columns in
    ``names`` order), drawn on its own rather than as error bars around the bar: the ensemble temperature scales
    the members' average, so the bar can lie outside its members' range, and error bars would then point the
    wrong way."""
    low, high = members.min(axis=0), members.max(axis=0)
    xs, ys, hover = [], [], []
    for name, a, b in zip(names, low, high, strict=True):
        xs += [a, b, None]
        ys += [name, name, None]
        hover += [f"{name}: members {a:.1%} – {b:.1%}"] * 2 + [None]
    return go.Scatter(
        x=xs, y=ys, mode="lines+markers", line=dict(color="#555", width=1),
        marker=dict(symbol="line-ns-open", size=7, color="#555", line=dict(width=1)),
        hovertext=hover, hoverinfo="text", name="members", showlegend=False,
    )  # fmt: skip


def probability_bar(pred: Prediction, excluded: Sequence[str] | None = None) -> go.Figure:
    """Every class's probability, most likely on top; whiskers span the ensemble members' own probabilities
    (:func:`member_range_trace`).

    A prediction restricted to an organism draws only the classes it can have (:func:`locviz.organisms.allowed_only`)
    and names the organism and the others in the subtitle; ``excluded`` names them when ``pred`` already lacks them.
    """
    if excluded is None:
        excluded = excluded_classes(pred.classes, pred.organism)
    pred = allowed_only(pred)
    probs = np.asarray(pred.probabilities, dtype=float)
    if probs.shape != (len(pred.classes),):
        raise ValueError(f"protein {pred.id!r}: {probs.shape[0]} probabilities for {len(pred.classes)} classes")
    order = np.argsort(-probs, kind="stable")[::-1]  # plotly draws the first bar at the bottom
    best = int(np.argmax(probs))
    names = [display_name(pred.classes[i]) for i in order]
    values = probs[order]
    colours = [HIGHLIGHT if i == best else MUTED for i in order]
    bar = go.Bar(
        x=values,
        y=names,
        orientation="h",
        marker=dict(color=colours, line=dict(width=0)),
        text=[f"{v:.1%}" for v in values],
        textposition="none",  # values go in their own column so the members' whiskers never cross them
        name="probability",
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    )
    traces = [bar]
    members = pred.member_probabilities
    n_members = 0 if members is None or np.asarray(members).ndim != 2 else len(members)
    if n_members > 1:
        traces.append(member_range_trace(np.asarray(members, dtype=float)[:, order], names))
    values_column = go.Scatter(
        x=np.full(len(values), 1.02),
        y=names,
        mode="text",
        text=bar.text,
        textposition="middle right",
        textfont=dict(color=["#111" if i == best else "#555" for i in order]),
        hoverinfo="skip",
        showlegend=False,
        name="values",
        cliponaxis=False,
    )
    fig = go.Figure([*traces, values_column])
    spread = f" (whiskers: range over the {n_members} members)" if n_members > 1 else ""
    restricted = _esc(organism_text(pred.organism, excluded)) if pred.organism != "any" else ""
    _style(
        fig,
        f"Predicted localisation: {_esc(display_name(pred.label))} ({pred.confidence:.1%})",
        _subtitle(pred, restricted),
        height=110 + 30 * len(pred.classes),
    )
    fig.update_xaxes(
        range=[0, 1.12], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0], tickformat=".0%", title="probability" + spread,
        showgrid=True, gridcolor="#eee",
    )  # fmt: skip
    fig.update_yaxes(title=None, ticks="")
    fig.update_layout(showlegend=False, bargap=0.25)
    return fig


def _attention_hover(pred: Prediction, attention: np.ndarray, shown: np.ndarray) -> list[str]:
    n_seen = max(int(shown.sum()), 1)
    out = []
    for i, (residue, weight, ok) in enumerate(zip(pred.sequence, attention, shown, strict=True)):
        head = f"position {i + 1} · {residue}"
        out.append(
            f"{head}<br>attention {weight:.4g}<br>{weight * n_seen:.2f}× uniform" if ok else f"{head}<br>{NOT_SEEN}"
        )
    return out


COLLAPSE_MIN = 100
"""An unseen run (the middle the long-sequence policy cuts away) at least this long is drawn as one labelled gap."""


def unseen_gaps(shown: np.ndarray, min_run: int = COLLAPSE_MIN) -> list[tuple[int, int]]:
    """0-based inclusive (first, last) of the unseen runs long enough to draw as one gap."""
    return [(a, b) for a, b in _runs(~np.asarray(shown, dtype=bool)) if b - a + 1 >= min_run]


def gap_text(first: int, last: int) -> str:
    """``19,000 residues not seen by the model (501–19,500)``: 0-based inclusive in, 1-based out."""
    return f"{last - first + 1:,} residues {NOT_SEEN} ({first + 1:,}–{last + 1:,})"


def heatmap_rows(length: int, shown: np.ndarray, width: int) -> list[int]:
    """The rows of a wrapped ``width``-residue grid to draw, top to bottom (row ``r`` starts at residue
    ``r * width``); ``-1`` is one gap row standing for two or more whole rows inside a long unseen run."""
    n_rows = math.ceil(length / width)
    hidden = np.zeros(n_rows, dtype=bool)
    for first, last in unseen_gaps(shown):
        inside = range(math.ceil(first / width), (last + 1) // width)  # rows wholly inside the run
        if len(inside) >= 2:
            hidden[inside.start : inside.stop] = True
    out: list[int] = []
    for r in range(n_rows):
        if not hidden[r]:
            out.append(r)
        elif out[-1:] != [-1]:
            out.append(-1)
    return out


@dataclass(frozen=True)
class ResidueAxis:
    """Where each residue sits on a figure's x axis, long unseen runs collapsed into one labelled gap.

    Slot ``k`` (drawn at x = k + 1) holds residue ``residues[k]`` (0-based) or, -1, part of a gap of
    ``GAP_SLOTS``-ish width. Without a long unseen run every residue is its own slot: x is the position.
    """

    residues: np.ndarray  # (n_slots,) int
    gaps: tuple[tuple[int, int, int, int], ...]  # (first, last residue, first, last slot), all 0-based inclusive

    @classmethod
    def of(cls, shown: np.ndarray) -> ResidueAxis:
        shown = np.asarray(shown, dtype=bool)
        runs = unseen_gaps(shown)
        if not runs:
            return cls(np.arange(len(shown)), ())
        n_slots = max(12, (len(shown) - sum(b - a + 1 for a, b in runs)) // 25)  # about 4 % of the drawn axis
        parts, gaps, start, used = [], [], 0, 0
        for first, last in runs:
            parts += [np.arange(start, first), np.full(n_slots, -1)]
            used += first - start
            gaps.append((first, last, used, used + n_slots - 1))
            used += n_slots
            start = last + 1
        parts.append(np.arange(start, len(shown)))
        return cls(np.concatenate(parts).astype(int), tuple(gaps))

    @property
    def x(self) -> np.ndarray:
        return np.arange(1, len(self.residues) + 1)

    @property
    def drawn(self) -> np.ndarray:
        return self.residues >= 0

    def at(self, position: float) -> float:
        """x of a residue (1-based position); one inside a gap lands proportionally inside the gap's band."""
        drawn = self.drawn
        return float(np.interp(position - 1, self.residues[drawn], self.x[drawn]))

    def layout(self, fig: go.Figure, **axis: object) -> None:
        """x range and, with gaps, residue-number ticks and one grey, labelled band per gap."""
        fig.update_xaxes(range=[0.5, len(self.residues) + 0.5], **axis)
        if not self.gaps:
            return
        kept = int(self.drawn.sum())
        step = _nice_step(kept / 8)
        ticks = [k + 1 for k, r in enumerate(self.residues.tolist()) if r >= 0 and (r + 1) % step == 0 or r == 0]
        fig.update_xaxes(tickvals=ticks, ticktext=[f"{self.residues[t - 1] + 1:,}" for t in ticks])
        for first, last, a, b in self.gaps:
            fig.add_vrect(x0=a + 0.5, x1=b + 1.5, fillcolor=UNSEEN_GREY, opacity=0.6, line_width=0, layer="below")
            fig.add_annotation(
                x=(a + b) / 2 + 1, y=0.5, yref="paper", text=f"{last - first + 1:,} aa not seen", textangle=-90,
                hovertext=gap_text(first, last), showarrow=False, font=dict(size=11, color="#444"), name="gap",
            )  # fmt: skip


def _nice_step(rough: float) -> int:
    """1, 2 or 5 times a power of ten, at least ``rough``."""
    power = 10 ** max(0, math.floor(math.log10(max(rough, 1))))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def attention_heatmap(pred: Prediction, residues_per_row: int = 60) -> go.Figure:
    """Attention per residue as a wrapped sequence grid, residue letters drawn in the cells.

    Whole rows inside a long unseen stretch (the middle of a protein longer than the model's window)
    become one labelled gap row: a 20,000-residue protein draws the ~18 rows the model saw, not 334.
    """
    if residues_per_row < 1:
        raise ValueError(f"residues_per_row must be at least 1, got {residues_per_row}")
    attention, shown = _check_prediction(pred)
    length, width = pred.length, residues_per_row
    drawn = heatmap_rows(length, shown, width)
    n_rows = len(drawn)
    slot = np.full(math.ceil(length / width), -1)
    slot[[r for r in drawn if r >= 0]] = [k for k, r in enumerate(drawn) if r >= 0]
    index = np.flatnonzero(slot[np.arange(length) // width] >= 0)  # residues drawn
    rows, cols = slot[index // width], index % width

    z_att = np.full((n_rows, width), np.nan)
    z_att[rows, cols] = np.where(shown[index], attention[index], np.nan)
    z_unseen = np.full((n_rows, width), np.nan)
    z_unseen[rows, cols] = np.where(shown[index], np.nan, 1.0)
    hover = np.full((n_rows, width), "", dtype=object)
    hover[rows, cols] = np.array(_attention_hover(pred, attention, shown), dtype=object)[index]
    zmax = float(np.nanmax(z_att)) if shown.any() and np.nanmax(z_att) > 0 else 1.0
    uniform = 1.0 / max(int(shown.sum()), 1)

    x = np.arange(1, width + 1)
    y = np.arange(n_rows)
    common = dict(x=x, y=y, text=hover, hovertemplate="%{text}<extra></extra>", hoverongaps=False, xgap=1, ygap=1)
    unseen_trace = go.Heatmap(
        z=z_unseen, colorscale=[[0, UNSEEN_GREY], [1, UNSEEN_GREY]], showscale=False, name=NOT_SEEN, **common
    )
    attention_trace = go.Heatmap(
        z=z_att,
        colorscale=ATTENTION_SCALE,
        zmin=0.0,
        zmax=zmax,
        colorbar=dict(
            # the scale runs to this protein's peak: the uniform share says whether that peak is one
            title=dict(text=f"share of attention<br>(uniform {uniform:.2g})", side="right"),
            thickness=14,
            lenmode="pixels",
            len=int(np.clip(22 * n_rows, 80, 320)),
            y=1.0,
            yanchor="top",
        ),
        name="attention",
        **common,
    )
    # Dark cells get white letters; the scale runs light (low) to dark (high).
    level = np.where(shown[index], attention[index] / zmax, 0.0)
    letter_colour = np.where(~shown[index], "#666666", np.where(level > 0.55, "#FFFFFF", "#222222"))
    letters = go.Scatter(
        x=cols + 1,
        y=rows,
        mode="text",
        text=[pred.sequence[i] for i in index.tolist()],
        textfont=dict(family=MONO, size=11, color=letter_colour.tolist()),
        hoverinfo="skip",
        showlegend=False,
        name="residues",
    )
    fig = go.Figure([unseen_trace, attention_trace, letters])
    runs = unseen_gaps(shown)
    for k, r in enumerate(drawn):
        if r < 0:  # labelled with the whole unseen run, not only its whole rows (the partial rows are grey)
            row_start = (drawn[k - 1] + 1) * width if k else 0
            first, last = next((a, b) for a, b in runs if a <= row_start <= b)
            fig.add_shape(type="rect", x0=0.5, x1=width + 0.5, y0=k - 0.45, y1=k + 0.45, line_width=0,
                          fillcolor=UNSEEN_GREY, opacity=0.5, layer="below")  # fmt: skip
            fig.add_annotation(x=(width + 1) / 2, y=k, text=f"··· {gap_text(first, last)} ···", showarrow=False,
                               font=dict(size=12, color="#444"), name="gap")  # fmt: skip
    unseen = int((~shown).sum())
    extra = "rows start at the residue number on the left"
    extra += f" · grey: {unseen} residues {NOT_SEEN}" if unseen else " · all residues seen by the model"
    _style(
        fig,
        "Attention along the sequence",
        _subtitle(pred, extra),
        height=150 + 22 * max(n_rows, 4),
        width=150 + 15 * width,
    )
    fig.update_xaxes(
        side="top",
        tickvals=[1, *range(10, width + 1, 10)],
        range=[0.5, width + 0.5],
        showgrid=False,
        ticks="",
        showline=False,
        title=None,
    )
    fig.update_yaxes(
        tickvals=y,
        ticktext=[str(r * width + 1) if r >= 0 else "⋮" for r in drawn],
        range=[n_rows - 0.5, -0.5],
        showline=False,
        ticks="",
        title=None,
        tickfont=dict(family=MONO, size=11),
    )
    fig.update_layout(margin=dict(t=fig.layout.margin.t + 20), plot_bgcolor="white", hovermode="closest")
    return fig


def attention_profile(pred: Prediction, regions: Sequence[Region] | None = None) -> go.Figure:
    """Attention as an area over positions: an overview for long proteins, ``regions`` shaded (the Predict page's:
    :func:`locviz.regions.attended_regions`, each holding more than its length's share; any other given region
    that does not is counted in the subtitle).

    A long unseen middle is one narrow labelled gap (:class:`ResidueAxis`), so the residues the model saw
    fill the width.
    """
    attention, shown = _check_prediction(pred)
    axis = ResidueAxis.of(shown)
    index = np.maximum(axis.residues, 0)
    y = np.where(axis.drawn & shown[index], attention[index], np.nan)
    n_seen = int(shown.sum())
    residues = np.where(axis.drawn, np.array(list(pred.sequence), dtype=object)[index], "")
    trace = go.Scatter(
        x=axis.x,
        y=y,
        mode="lines",
        fill="tozeroy",
        line=dict(color="#3B0F70", width=1.2),
        fillcolor="rgba(59, 15, 112, 0.25)",
        connectgaps=False,
        customdata=np.stack([residues, y * max(n_seen, 1), axis.residues + 1], axis=1),
        hovertemplate="position %{customdata[2]} · %{customdata[0]}<br>attention %{y:.4g}<br>"
        "%{customdata[1]:.2f}× uniform<extra></extra>",
        name="attention",
        showlegend=False,
    )
    fig = go.Figure(trace)
    collapsed = {(first, last) for first, last, _, _ in axis.gaps}
    for start, end in _runs(~shown):
        if (start, end) in collapsed:
            continue
        fig.add_vrect(
            x0=axis.at(start + 1) - 0.5,
            x1=axis.at(end + 1) + 0.5,
            fillcolor=UNSEEN_GREY,
            opacity=0.6,
            line_width=0,
            layer="below",
            annotation_text=NOT_SEEN,
            annotation_position="top left",
            annotation_font=dict(size=11, color="#555"),
        )
    regions = list(regions or [])
    centres = [(axis.at(r.start) + axis.at(r.end)) / 2 for r in regions]
    lanes = label_lanes(centres, LABEL_GAP * len(axis.residues))
    for k, region in enumerate(regions):
        fig.add_vrect(
            x0=axis.at(region.start) - 0.5, x1=axis.at(region.end) + 0.5, fillcolor=HIGHLIGHT, opacity=0.22,
            line_width=0, layer="below",
        )  # fmt: skip
        fig.add_annotation(
            x=centres[k], y=1.0 - LANE_HEIGHT * lanes[k], xref="x", yref="paper", yanchor="top", showarrow=False,
            text=str(k + 1), hovertext=f"region {k + 1}: {region.start}–{region.end} ({region.score:.1%} of the "
            f"attention, {times_uniform(region, pred):.1f}× uniform)",
            font=dict(size=11, color=HIGHLIGHT), name="region rank",
        )  # fmt: skip
    if n_seen:
        fig.add_hline(
            y=1.0 / n_seen,
            line=dict(color="#777", dash="dot", width=1),
            annotation_text="uniform",
            annotation_position="top right",
            annotation_font=dict(size=11, color="#777"),
        )
    below = sum(not above_uniform(r, pred) for r in regions)
    extra = f"shaded: {len(regions)} most-attended region{'s' if len(regions) != 1 else ''}" if regions else ""
    if below:  # given by a caller (regions.top_regions): say which ones the model did not single out
        extra += f", {below} of them holding no more than their length's share"
    _style(fig, "Attention profile", _subtitle(pred, extra), height=340)
    top = float(np.nanmax(y)) if n_seen else 1.0
    axis.layout(fig, title="residue position", showgrid=False)
    headroom = 1.18 + 0.12 * max(lanes, default=0)  # room above the curve for every lane of labels
    fig.update_yaxes(range=[0, top * headroom if top > 0 else 1], title="attention", showgrid=True, gridcolor="#eee")
    return fig


LABEL_GAP = 0.02
"""Region labels closer than this fraction of the protein's length go to different lanes (about 16 px at the
app's width): ranks of neighbouring regions in a 5,000-residue protein stay apart."""
LANE_HEIGHT = 0.08
"""Height of one lane of region labels, as a fraction of the plot's height."""


def label_lanes(centres: Sequence[float], min_gap: float) -> list[int]:
    """A lane (0 = top) per label, so that labels in one lane are at least ``min_gap`` apart along x.

    Greedy from left to right: each label takes the highest lane whose last label is far enough away.
    """
    lanes = [0] * len(centres)
    last: list[float] = []  # x of the last label in each lane
    for i in sorted(range(len(centres)), key=lambda i: centres[i]):
        lane = next((k for k, x in enumerate(last) if centres[i] - x >= min_gap), len(last))
        if lane == len(last):
            last.append(centres[i])
        else:
            last[lane] = centres[i]
        lanes[i] = lane
    return lanes


FILTER_TRACK_TOP = 8  # filters drawn by default: the most active in the protein (the Predict page's start too)
FILTER_TRACK_MAX = 30  # more rows than this stop being readable


def filters_by_peak(pred: Prediction) -> list[int]:
    """Filter indices, most active in this protein first (ties by index): the order the track picks from."""
    acts = np.asarray(pred.filter_activations, dtype=float)
    peak = np.nanmax(np.where(np.isfinite(acts), acts, -np.inf), axis=1)
    return [int(i) for i in np.argsort(-peak, kind="stable")]


def filter_track(
    pred: Prediction,
    filter_indices: list[int] | None = None,
    widths: list[int] | None = None,
    top_n: int = FILTER_TRACK_TOP,
    scale_each: bool = True,
    motif_set: MotifSet | None = None,
) -> go.Figure:
    """First-layer filter activations along the sequence (filters × positions).

    ``scale_each`` colours each filter by a share of its own maximum, so a weak filter's hits stand out as
    clearly as a strong one's (filters' raw scales differ tenfold). That maximum is the filter's strongest
    activation in the reference set when ``motif_set`` (of the member the activations come from) has one for every
    row, so a filter that barely fires here stays pale; otherwise it is this protein's own peak, written in the
    row's label, since every row then reaches the top of the scale. ``widths`` (each filter's, for the row labels)
    default to the motif set's.
    """
    if pred.filter_activations is None:
        raise ValueError(f"protein {pred.id!r} has no filter activations; predict with filter activations switched on")
    _, shown = _check_prediction(pred)
    acts = np.asarray(pred.filter_activations, dtype=float)
    if acts.ndim != 2 or acts.shape[1] != pred.length:
        raise ValueError(f"filter activations have shape {acts.shape}; expected (n_filters, {pred.length})")
    n_filters = acts.shape[0]
    if widths is None and motif_set is not None and len(motif_set.motifs) == n_filters:
        widths = [m.width for m in motif_set.motifs]  # the labels name each filter's width, as the app's do
    if widths is not None and len(widths) != n_filters:
        raise ValueError(f"widths lists {len(widths)} filters but the activations have {n_filters}")
    if filter_indices is None:
        chosen = filters_by_peak(pred)[: max(top_n, 1)]
        how = f"top {len(chosen)} of {n_filters} filters by peak activation in this protein"
    else:
        bad = [i for i in filter_indices if not 0 <= int(i) < n_filters]
        if bad:
            raise ValueError(f"filter indices {bad} out of range: this model has filters 0–{n_filters - 1}")
        chosen = list(dict.fromkeys(int(i) for i in filter_indices))
        how = f"{len(chosen)} selected filters"
        if not chosen:
            raise ValueError("no filters selected; pass at least one filter index")

    labels = [_filter_label(i, widths) for i in chosen]
    z = acts[chosen]
    reference = reference_peaks(motif_set, pred.filter_member, chosen) if scale_each else None
    if scale_each:
        row_peak = np.nanmax(np.where(np.isfinite(z), z, -np.inf), axis=1, keepdims=True)
        if reference is None:
            labels = [f"{label} · peak {peak:.2g}" for label, peak in zip(labels, row_peak[:, 0], strict=True)]
        else:
            row_peak = reference[:, None]
        z = np.clip(z / np.where(row_peak > 0, row_peak, 1.0), 0.0, None)
    axis = ResidueAxis.of(shown)  # a long unseen middle: one narrow labelled gap, not thousands of grey columns
    index, drawn = np.maximum(axis.residues, 0), axis.drawn
    seen = drawn & shown[index]
    z = np.where(seen[None, :], z[:, index], np.nan)
    value_name = "activation"
    if scale_each and reference is not None:
        value_name = "share of the filter's<br>strongest activation<br>in the reference set"
        how += (", each scaled to its strongest activation in the reference set's unmasked windows (above it: "
                "drawn as 1, the hover has the value)")
    elif scale_each:
        value_name = "share of peak"
        how += ", each scaled to its own peak in this protein (in its label)"
    # gap slots are NaN in both traces (no hover, no "position 0"): the axis's labelled band stands for them
    z_unseen = np.where(drawn & ~seen, 1.0, np.nan) * np.ones((len(chosen), 1))
    letters = np.where(drawn, np.array(list(pred.sequence), dtype=object)[index], "")
    residues = np.broadcast_to(letters, z.shape)
    positions = np.broadcast_to(np.where(drawn, (axis.residues + 1).astype(object), ""), z.shape)
    common = dict(x=axis.x, y=labels, text=residues, customdata=positions, hoverongaps=False, ygap=1)
    traces = [
        go.Heatmap(
            z=z_unseen,
            colorscale=[[0, UNSEEN_GREY], [1, UNSEEN_GREY]],
            showscale=False,
            name=NOT_SEEN,
            hovertemplate="%{y}<br>position %{customdata} · %{text}<br>" + NOT_SEEN + "<extra></extra>",
            **common,
        ),
        go.Heatmap(
            z=z,
            colorbar=dict(title=dict(text=value_name, side="right"), thickness=14),
            name="activation",
            hovertemplate="%{y}<br>position %{customdata} · %{text}<br>" + value_name.replace("<br>", " ")
            + " %{z:.3f}<extra></extra>",
            **(dict(colorscale="YlGnBu", zmin=0.0, zmax=1.0) if scale_each else _activation_scale(z)),  # light = low
            **common,
        ),
    ]
    fig = go.Figure(traces)
    member = "?" if pred.filter_member is None else pred.filter_member
    if (~shown).any() and shown.any():  # predict.straddles_cut: windows across the cut are left blank
        how += "; blank beside the cut: windows there would read both ends"
    _style(
        fig,
        f"Filter activations (ensemble member {member})",
        _subtitle(pred, how),
        height=150 + 24 * len(chosen),
    )
    axis.layout(fig, title="residue position", showgrid=False)
    fig.update_yaxes(autorange="reversed", title=None, tickfont=dict(family=MONO, size=11), ticks="")
    return fig


def reference_peaks(motif_set: MotifSet | None, member: int | None, chosen: Sequence[int]) -> np.ndarray | None:
    """Each chosen filter's strongest activation in the reference set (``FilterMotif.top_activations``), or None
    when the set is missing, of another ensemble member (its filters are other filters) or lacks one of them."""
    if motif_set is None or member is None or motif_set.member != member:
        return None
    best = {m.index: m.top_activations[0] for m in motif_set.motifs if m.top_activations and m.top_activations[0] > 0}
    if not all(i in best for i in chosen):
        return None
    return np.array([best[i] for i in chosen], dtype=float)


# ---------------------------------------------------------------- motifs


LOGO_COLUMN_INCHES = 0.3
"""Every logo gets the same width per window column, so a 21-wide logo is 21 times as wide as a 1-wide one."""
LOGO_AXES_INCHES = 1.3
LOGO_MAX_BITS = math.log2(len(STANDARD_RESIDUES))
"""One y scale for every logo: 0 to log2(20) = 4.32 bits."""
LOGO_MIN_GLYPH_BITS = 0.01
"""Letters shorter than this are not drawn (under a pixel at any export size); they still take their place in the
stack, so every column is exactly as tall as its information content."""
_LOGO_COLOURS = {  # WebLogo's protein scheme (as logomaker's "weblogo_protein")
    **dict.fromkeys("RHK", (0.02, 0.09, 0.74)),
    **dict.fromkeys("DE", (0.83, 0.04, 0.08)),
    **dict.fromkeys("QN", (0.83, 0.11, 0.75)),
    **dict.fromkeys("GCSTY", (0.13, 0.83, 0.15)),
    **dict.fromkeys("ILMAFVPW", (0.0, 0.0, 0.0)),
}
_GLYPHS: dict[str, MplPath] = {}


def _glyph(letter: str) -> MplPath:
    """The letter's outline scaled to the unit square (cached: building text paths is the slow part of a logo)."""
    if letter not in _GLYPHS:
        path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
        box = path.get_extents()
        scale = Affine2D().translate(-box.x0, -box.y0).scale(1 / box.width, 1 / box.height)
        _GLYPHS[letter] = scale.transform_path(path)
    return _GLYPHS[letter]


def _information(freqs: np.ndarray) -> np.ndarray:
    """(W, 20) letter heights in bits: frequency × the column's information content (log2 20 − entropy).

    logomaker's own transform (1.5 ms per logo); only the drawing is done here, from cached letter outlines,
    because logomaker's renderer builds a text path per letter (0.7 s per 21-wide logo, 30 s per gallery).
    """
    freqs = pd.DataFrame(np.clip(np.asarray(freqs, dtype=float), 0.0, None), columns=list(STANDARD_RESIDUES))
    return logomaker.transform_matrix(freqs, from_type="probability", to_type="information").to_numpy()


def _draw_stacks(ax: Axes, heights: np.ndarray, width: float = 0.9) -> None:
    """Letters stacked per column, smallest at the bottom, each filling its share of the column's height.

    The letters of one colour in one column are one compound patch (a few patches per column
    instead of up to 20: drawing a page of logos is dominated by the number of artists).
    """
    for x, column in enumerate(heights):
        floor = 0.0
        by_colour: dict[tuple[float, float, float], list[MplPath]] = {}
        for k in np.argsort(column, kind="stable"):
            h = float(column[k])
            if h >= LOGO_MIN_GLYPH_BITS:
                letter = STANDARD_RESIDUES[k]
                place = Affine2D().scale(width, h).translate(x - width / 2, floor)
                by_colour.setdefault(_LOGO_COLOURS[letter], []).append(place.transform_path(_glyph(letter)))
            floor += h
        for colour, paths in by_colour.items():
            patch = PathPatch(MplPath.make_compound_path(*paths), facecolor=colour, edgecolor="none", linewidth=0)
            ax.add_artist(patch)  # not add_patch: its data-limit update is slow, and the limits are fixed


def _logo_caption(motif: FilterMotif, chance: ChanceLevel | None = None) -> str:
    """Second title line: how many windows the logo stands on (20 windows cannot fill a column the way 1,000 do),
    the chance line, the composition flag and the best known-motif match."""
    n = len(motif.top_windows)
    notes = [f"{n} window{'' if n == 1 else 's'}"]
    if chance is not None and n:
        notes.append(f"dashed: chance ({CHANCE_QUANTILE:.0%})")
    if motif.composition_only:
        notes.append("composition-only")
    best = motif.best_match
    if best is not None:
        first, last = best.window_positions(motif.width)
        notes.append(f"like {best.name} at {first}-{last} (r = {best.score:.2f})")
    return " · ".join(notes)


def _logo_on_axes(
    ax: Axes, motif: FilterMotif, ylabel: bool = True, xlabel: bool = True, chance: ChanceLevel | None = None
) -> None:
    """Draw one filter's logo on ``ax``: bits on one scale (0–4.32); a width-1 filter in its context; ``chance``
    draws the bits random windows reach (:class:`locviz.motifs.ChanceLevel`) as a dashed line."""
    freqs = np.asarray(motif.frequencies, dtype=float)
    if freqs.ndim != 2 or freqs.shape[1] != len(STANDARD_RESIDUES) or freqs.shape[0] == 0:
        raise ValueError(
            f"filter {motif.index}: frequencies have shape {freqs.shape}; expected (width, {len(STANDARD_RESIDUES)})"
        )
    context = motif.context_frequencies() if motif.width == 1 else None
    shown = freqs if context is None else context
    n = len(shown)
    centre = n // 2 if context is not None else None
    if centre is not None:  # the filter's own column: its real frequencies, shaded; neighbours for context
        shown = shown.copy()
        shown[centre] = freqs[0]
        ax.axvspan(centre - 0.5, centre + 0.5, color="#fff3c4", zorder=0, linewidth=0)
    best = motif.best_match
    if best is not None and context is None:
        first, last = best.window_positions(n)  # 1-based
        ax.axvspan(first - 1.5, last - 0.5, ymin=0, ymax=0.035, color="#4c78a8", linewidth=0)
    _draw_stacks(ax, _information(shown))
    if chance is not None and motif.top_windows:
        ax.axhline(chance.upper_bits, color="#555555", linestyle=(0, (3, 2)), linewidth=0.8, zorder=3)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, LOGO_MAX_BITS)
    ax.set_yticks([0, 2, 4])
    ax.tick_params(labelsize=7, length=2, pad=1)
    if ylabel:
        ax.set_ylabel("bits", fontsize=8, labelpad=1)
    if centre is not None:
        ax.set_xticks(range(n), [f"{i - centre:+d}" if i != centre else "0" for i in range(n)])
        if xlabel:
            ax.set_xlabel(f"neighbours of the filter's residue (±{centre})", fontsize=7, labelpad=1)
    else:  # every position up to 9 columns, else 1, 5, 10, ... (text is what a page of logos costs to draw)
        ticks = range(n) if n <= 9 else [0, *range(4, n, 5)]
        ax.set_xticks(list(ticks), [str(i + 1) for i in ticks])
        if xlabel:
            ax.set_xlabel("position in window", fontsize=7, labelpad=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"filter {motif.index} · width {motif.width} · IC {motif.information_content:.1f} bits\n"
                 f"{_logo_caption(motif, chance)}", fontsize=8)  # fmt: skip


def _logo_columns(motif: FilterMotif) -> int:
    """Columns a logo takes: its width, or the context window for a width-1 filter that has one."""
    return len(motif.context_windows[0]) if motif.width == 1 and motif.context_windows else motif.width


def motif_source(motif_set: MotifSet) -> str:
    """Whose filters a logo shows: filters differ between ensemble members, so an exported logo must name both."""
    return f"model {motif_set.model_name} · ensemble member {motif_set.member}"


def sequence_logo(
    motif: FilterMotif, ax: Axes | None = None, source: str = "", motif_set: MotifSet | None = None
) -> Figure:
    """Information-content logo of one filter (matplotlib, no pyplot state: thread-safe).

    Every logo has the same y scale (0 to log2 20 bits) and the same width per column. A width-1
    filter that kept its top windows' neighbours is drawn in that context (±4 residues, the filter's
    own column shaded), not as one giant letter; a known-motif match is marked under the aligned columns.
    ``source`` (:func:`motif_source`) heads a new figure. ``motif_set`` (the filter's) adds its chance line.
    """
    if ax is None:
        return logo_grid([motif], n_columns=1, xlabels=True, source=source, motif_set=motif_set)
    _logo_on_axes(ax, motif, chance=motif_set.chance(motif) if motif_set is not None else None)
    return ax.figure


def logo_grid(
    motifs: Sequence[FilterMotif],
    n_columns: int = 2,
    xlabels: bool = False,
    source: str = "",
    motif_set: MotifSet | None = None,
) -> Figure:
    """Several logos in one figure, on one scale: the same bits axis (0–4.32) and the same width per column.

    Cells are as wide as the widest logo; each logo is left-aligned in its cell, so a 21-wide
    filter is drawn 21 columns wide and a 5-wide one 5 columns wide at the same letter size.
    ``xlabels`` names the x axis under every logo (off: the x axis is the window position, or the
    offset from a width-1 filter's residue, as the tick labels show). ``source`` (:func:`motif_source`) is a
    header line above the logos. ``motif_set`` (the filters') draws each logo's chance level as a dashed line:
    the bits a column of as many random windows of the reference proteins reaches in 95 % of draws.
    """
    if not motifs:
        raise ValueError("logo_grid needs at least one motif")
    if n_columns < 1:
        raise ValueError(f"n_columns must be >= 1, got {n_columns}")
    n_columns = min(n_columns, len(motifs))
    n_rows = -(-len(motifs) // n_columns)
    widest = max(_logo_columns(m) for m in motifs)
    left, gap, top, bottom = 0.45, 0.35, 0.5, 0.4  # inches; fixed, so no layout engine has to measure text
    cell_w = max(widest, 6) * LOGO_COLUMN_INCHES  # room for the title over a narrow logo
    cell_h = LOGO_AXES_INCHES + top + bottom
    header = 0.25 if source else 0.0
    fig_w = left + n_columns * (cell_w + gap)
    fig_h = n_rows * cell_h + header
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    FigureCanvasAgg(fig)
    if source:
        fig.text(0.05 / fig_w, 1 - 0.06 / fig_h, source, fontsize=8, va="top", ha="left")
    for k, motif in enumerate(motifs):
        row, col = divmod(k, n_columns)
        x0 = left + col * (cell_w + gap)
        y0 = fig_h - header - (row + 1) * cell_h + bottom
        ax = fig.add_axes((x0 / fig_w, y0 / fig_h, _logo_columns(motif) * LOGO_COLUMN_INCHES / fig_w,
                           LOGO_AXES_INCHES / fig_h))  # fmt: skip
        chance = motif_set.chance(motif) if motif_set is not None else None
        _logo_on_axes(ax, motif, ylabel=col == 0, xlabel=xlabels, chance=chance)
    return fig


def class_association_heatmap(motif_set: MotifSet, filter_indices: list[int] | None = None) -> go.Figure:
    """How strongly each filter's firing goes with each class (filters × classes)."""
    by_index = {m.index: m for m in motif_set.motifs}
    if filter_indices is None:
        chosen = sorted(by_index)
    else:
        missing = [i for i in filter_indices if i not in by_index]
        if missing:
            raise ValueError(f"filters {missing} are not in the motif set of model {motif_set.model_name!r}")
        chosen = list(dict.fromkeys(filter_indices))
    if not chosen:
        raise ValueError(f"the motif set of model {motif_set.model_name!r} has no filters to show")
    motifs = [by_index[i] for i in chosen]
    classes = list(motif_set.classes)
    z = np.array([[m.class_association.get(c, np.nan) for c in classes] for m in motifs], dtype=float)
    labels = [f"f{m.index} (w={m.width})" for m in motifs]
    limit = step_limit(float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.0, ASSOCIATION_STEPS)
    trace = go.Heatmap(
        z=z,
        x=[display_name(c) for c in classes],
        y=labels,
        colorbar=dict(title=dict(text="association", side="right"), thickness=14),
        hovertemplate="%{y}<br>class %{x}<br>association %{z:.3f}<extra></extra>",
        hoverongaps=False,
        xgap=1,
        ygap=1,
        colorscale="RdBu_r",
        zmid=0.0,
        zmin=-limit,
        zmax=limit,
    )
    fig = go.Figure(trace)
    method = f" · {_esc(motif_set.association_method)}" if motif_set.association_method else ""
    _style(
        fig,
        "Filter–class association",
        f"model {_esc(motif_set.model_name)} · ensemble member {motif_set.member}{method} · colour scale ± {limit:g}",
        height=190 + 18 * len(chosen),
        width=260 + 55 * len(classes),
    )
    fig.update_xaxes(side="top", tickangle=-40, showline=False, ticks="")
    fig.update_yaxes(autorange="reversed", tickfont=dict(family=MONO, size=11), showline=False, ticks="")
    fig.update_layout(margin=dict(t=fig.layout.margin.t + 70))
    return fig


# ---------------------------------------------------------------- model quality


def evaluated_on(report: dict) -> list[str]:
    """What a card's evaluation ran: one member on its held-out fold is not the ensemble's test result, so a
    figure of it must say which (``member 0``, ``deeploc data``, ``fold 0``); empty for a bare report."""
    parts = []
    if "member" in report:
        parts.append("ensemble" if report["member"] is None else f"member {report['member']}")
    if report.get("dataset"):
        parts.append(f"{_esc(report['dataset'])} data")
    folds = list(report.get("folds") or [])
    if folds:
        parts.append(("fold " if len(folds) == 1 else "folds ") + ", ".join(str(f) for f in folds))
    return parts


def confusion_heatmap(report: dict, model_name: str | None = None) -> go.Figure:
    """Confusion matrix from :func:`locviz.metrics.classification_report`: colour by row share, counts as text."""
    classes = list(report["classes"])
    counts = np.asarray(report["confusion_matrix"], dtype=float)
    if counts.shape != (len(classes), len(classes)):
        raise ValueError(f"confusion matrix has shape {counts.shape}; expected {len(classes)}×{len(classes)}")
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    names = [display_name(c) for c in classes]
    trace = go.Heatmap(
        z=share,
        x=names,
        y=names,
        zmin=0.0,
        zmax=1.0,
        colorscale="Blues",
        text=counts.astype(int).astype(str),
        texttemplate="%{text}",
        textfont=dict(size=11),
        colorbar=dict(title=dict(text="share of true class", side="right"), tickformat=".0%", thickness=14),
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text} proteins (%{z:.1%} of true class)<extra></extra>",
        xgap=1,
        ygap=1,
    )
    fig = go.Figure(trace)
    parts = [f"model {_esc(model_name)}"] if model_name else []
    parts += evaluated_on(report)
    if "n" in report:
        parts.append(f"{report['n']} proteins")
    if "accuracy" in report:
        parts.append(f"accuracy {report['accuracy']:.3f}")
    if "gorodkin_mcc" in report:
        parts.append(f"Gorodkin MCC {report['gorodkin_mcc']:.3f}")
    size = 48 * len(classes)
    _style(fig, "Confusion matrix", " · ".join(parts), height=size + 230, width=size + 300)
    fig.update_xaxes(title="predicted", tickangle=-40, showline=False, ticks="")
    fig.update_yaxes(title="true", autorange="reversed", showline=False, ticks="")
    return fig


def training_curves(card: ModelCard, model_name: str | None = None) -> go.Figure:
    """Validation accuracy and losses per epoch for every ensemble member, best epoch starred."""
    members = card.training
    name = model_name or card.name or "?"
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("validation accuracy", "loss (solid: validation, dashed: training)"),
    )
    drawn = 0
    for k, member in enumerate(members):
        history = list(member.history)
        if not history:
            continue
        drawn += 1
        colour = PALETTE[k % len(PALETTE)]
        fold = member.validation_fold
        label = f"member {k}" + (f" (val fold {fold})" if fold is not None else "")
        epochs = [h["epoch"] for h in history]

        def column(key: str, rows: list[dict] = history) -> list[float | None]:
            return [h.get(key) for h in rows]

        group = dict(legendgroup=label, line=dict(color=colour, width=1.8))
        fig.add_scatter(
            x=epochs, y=column("val_accuracy"), name=label, mode="lines+markers", marker_size=4, row=1, col=1,
            hovertemplate=f"{label}<br>epoch %{{x}}<br>val accuracy %{{y:.3f}}<extra></extra>", **group,
        )  # fmt: skip
        fig.add_scatter(
            x=epochs, y=column("val_loss"), name=f"{label} validation loss", mode="lines+markers", marker_size=4,
            showlegend=False,
            row=2, col=1, hovertemplate=f"{label}<br>epoch %{{x}}<br>val loss %{{y:.3f}}<extra></extra>", **group,
        )  # fmt: skip
        fig.add_scatter(
            x=epochs, y=column("train_loss"), name=f"{label} training loss", mode="lines+markers", marker_size=4,
            showlegend=False,
            row=2, col=1, legendgroup=label, line=dict(color=colour, width=1.4, dash="dash"),
            hovertemplate=f"{label}<br>epoch %{{x}}<br>train loss %{{y:.3f}}<extra></extra>",
        )  # fmt: skip
        best = member.best_epoch
        at_best = [h for h in history if h.get("epoch") == best]
        if at_best and at_best[0].get("val_accuracy") is not None:
            fig.add_scatter(
                x=[best], y=[at_best[0]["val_accuracy"]], mode="markers", name=f"{label} best epoch",
                showlegend=False, legendgroup=label, row=1, col=1,
                marker=dict(symbol="star", size=14, color=colour, line=dict(color="#222", width=1)),
                hovertemplate=f"{label}<br>best epoch %{{x}}<br>val accuracy %{{y:.3f}}<extra></extra>",
            )  # fmt: skip
    subtitle = f"model {_esc(name)} · {drawn} ensemble member{'s' if drawn != 1 else ''} · ★ best epoch"
    _style(fig, "Training curves", subtitle, height=580)
    if not drawn:
        fig.add_annotation(
            text="this model card has no training history", x=0.5, y=0.5, xref="paper", yref="paper",
            showarrow=False, font=dict(size=15, color="#777"),
        )  # fmt: skip
    fig.update_xaxes(title="epoch", row=2, col=1, showgrid=True, gridcolor="#eee")
    fig.update_xaxes(showgrid=True, gridcolor="#eee", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1], showgrid=True, gridcolor="#eee", row=1, col=1)  # from 0: gaps
    # between members at their true size (zoom in the app to compare epochs)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", row=2, col=1)
    fig.update_layout(
        legend=dict(orientation="h", yanchor="top", y=-0.14, x=0), margin=dict(t=fig.layout.margin.t + 25, b=90)
    )
    return fig


# ---------------------------------------------------------------- calibration


def reliability_diagram(card: ModelCard) -> go.Figure:
    """Reliability diagram from the card's calibration section: share right vs top-class probability, per bin.

    One line before and one after calibration (marker area ~ proteins in the bin); the diagonal is
    perfect calibration. The numbers come from ``card.calibration.metrics`` (see
    :class:`locviz.card.CalibrationCard`), so the page draws what the ``calibrate`` command measured.

    Raises:
        ValueError: the card has no calibration section or no reliability table in it.
    """
    calibration = card.calibration
    if calibration is None:
        raise ValueError(f"model {card.name!r} has no calibration section in its card")
    stages = [(s, calibration.reliability(s)) for s in ("before", "after")]
    stages = [(s, t) for s, t in stages if t]
    ensemble = calibration.metrics.get("ensemble") or {}
    if ensemble.get("fitted") and ensemble.get("reliability_after"):  # the out-of-sample ensemble, calibrated
        stages.append(("ensemble", ensemble["reliability_after"]))
    names = {"before": "before calibration", "after": "after calibration",
             "ensemble": f"ensemble on fold {ensemble.get('fold')}, calibrated"}  # fmt: skip
    if card.calibrated_as_one_network:  # a fast student: its own figures
        names.update(before="out-of-fold, raw", after="at its temperature")
    elif calibration.member_temperatures:  # member-level figures: say so
        names.update(before="members out-of-fold, raw", after="members at their temperatures")
    if not stages:
        raise ValueError(f"the calibration section of model {card.name!r} holds no reliability table")
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", hoverinfo="skip",
                    line=dict(color="#999", dash="dot", width=1.2))  # fmt: skip
    colours = {"before": MUTED, "after": HIGHLIGHT, "ensemble": "#2a9d8f"}
    for stage, table in stages:
        rows = [
            (c, a, n) for c, a, n in zip(table["confidence"], table["accuracy"], table["count"], strict=True)
            if c is not None and a is not None and n
        ]  # fmt: skip
        if not rows:
            continue
        conf, acc, count = (list(v) for v in zip(*rows, strict=True))
        ece = ensemble.get("ece_after") if stage == "ensemble" else calibration.metrics.get(f"ece_{stage}")
        label = names[stage] + (f" (ECE {ece:.3f})" if ece is not None else "")
        biggest = max(count)
        fig.add_scatter(
            x=conf, y=acc, mode="lines+markers", name=label, customdata=count,
            line=dict(color=colours[stage], width=2),
            marker=dict(size=[6 + 14 * math.sqrt(n / biggest) for n in count], color=colours[stage]),
            hovertemplate=f"{stage}<br>mean probability %{{x:.1%}}<br>right %{{y:.1%}}<br>"
                          "%{customdata} proteins<extra></extra>",
        )  # fmt: skip
    parts = [f"model {_esc(card.name)}", _esc(calibration.method)]
    if calibration.method == "temperature":
        parts.append(f"T = {calibration.temperature:.3g}")
    elif calibration.member_temperatures:
        parts.append("member T = " + ", ".join(f"{t:.2f}" for t in calibration.member_temperatures))
    if calibration.metrics.get("n"):
        parts.append(f"{calibration.metrics['n']} proteins")
    _style(fig, "Reliability of the top-class probability", " · ".join(parts), height=520, width=620)
    axis = dict(range=[0, 1.02], tickformat=".0%", showgrid=True, gridcolor="#eee", constrain="domain")
    fig.update_xaxes(title="top-class probability (mean in bin)", **axis)
    fig.update_yaxes(title="share of calls that are right", scaleanchor="x", scaleratio=1, **axis)
    fig.update_layout(
        legend=dict(orientation="h", yanchor="top", y=-0.16, x=0), margin=dict(t=fig.layout.margin.t + 20, b=110)
    )
    return fig


# ---------------------------------------------------------------- one filter (motifs page)
def filter_association_bar(motif: FilterMotif, model_name: str | None = None, member: int | None = None
                           ) -> go.Figure:  # fmt: skip
    """One filter's class association (z-scores), strongest on top; positive bars in the highlight colour.

    ``member``: the ensemble member the filter belongs to (filter 12 of member 0 is not filter 12 of member 1).
    """
    if not motif.class_association:
        raise ValueError(f"filter {motif.index} has no class association (motifs computed without labels)")
    items = sorted(motif.class_association.items(), key=lambda kv: kv[1])  # plotly draws the first bar at the bottom
    values = [v for _, v in items]
    bar = go.Bar(
        x=values,
        y=[display_name(c) for c, _ in items],
        orientation="h",
        marker_color=[HIGHLIGHT if v > 0 else MUTED for v in values],
        hovertemplate="%{y}: z %{x:+.2f}<extra></extra>",
    )
    fig = go.Figure(bar)
    model = f"model {_esc(model_name)} · " if model_name else ""
    model += f"ensemble member {member} · " if member is not None else ""
    _style(fig, f"Filter {motif.index}: class association", f"{model}z-score of the class mean of per-protein maxima",
           height=120 + 24 * len(items), width=460)  # fmt: skip
    fig.update_xaxes(title="z-score", zeroline=True, zerolinecolor="#888")
    return fig
