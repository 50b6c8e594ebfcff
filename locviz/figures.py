"""Figure builders: a Prediction (or FilterMotif, MotifSet, report, card) in, a figure out.

Plotly for everything interactive; matplotlib + logomaker for sequence logos.
No Streamlit here: the same figures feed the app, the command line and the
static exporters in :mod:`locviz.export`. Every figure carries a title naming
the protein and the model so an exported file still says what it shows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import logomaker
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from plotly.colors import sequential
from plotly.subplots import make_subplots

from locviz.motifs import FilterMotif, MotifSet
from locviz.predict import Prediction
from locviz.regions import Region
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


def _nice(name: str) -> str:
    return name.replace("_", " ")


def _subtitle(pred: Prediction, extra: str = "") -> str:
    text = f"{_esc(pred.id)} · model {_esc(pred.model_name)} · {pred.length} aa"
    return f"{text} · {extra}" if extra else text


def _style(fig: go.Figure, title: str, subtitle: str, height: int, width: int | None = None) -> go.Figure:
    """One look for every figure: white, light axes, title with a subtitle line."""
    fig.update_layout(
        template="simple_white",
        title=dict(text=f"<b>{title}</b>", subtitle=dict(text=subtitle), x=0.01, xanchor="left"),
        font=dict(family=FONT, size=13, color="#222"),
        height=height,
        width=width,
        margin=dict(l=80, r=30, t=90, b=60),
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


def _activation_scale(values: np.ndarray) -> dict:
    """Sequential scale for non-negative activations, diverging around 0 otherwise."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() < 0:
        return dict(colorscale="RdBu_r", zmid=0.0)
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return dict(colorscale="Viridis", zmin=0.0, zmax=top)


# ---------------------------------------------------------------- prediction figures


def probability_bar(pred: Prediction) -> go.Figure:
    """Every class's probability, most likely on top; whiskers span the ensemble members."""
    probs = np.asarray(pred.probabilities, dtype=float)
    if probs.shape != (len(pred.classes),):
        raise ValueError(f"protein {pred.id!r}: {probs.shape[0]} probabilities for {len(pred.classes)} classes")
    order = np.argsort(-probs, kind="stable")[::-1]  # plotly draws the first bar at the bottom
    best = int(np.argmax(probs))
    names = [_nice(pred.classes[i]) for i in order]
    values = probs[order]
    colours = [HIGHLIGHT if i == best else MUTED for i in order]
    bar = go.Bar(
        x=values,
        y=names,
        orientation="h",
        marker=dict(color=colours, line=dict(width=0)),
        text=[f"{v:.1%}" for v in values],
        textposition="none",  # values go in their own column so ensemble whiskers never cross them
        name="probability",
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    )
    members = pred.member_probabilities
    if members is not None and np.asarray(members).ndim == 2 and len(members) > 1:
        members = np.asarray(members, dtype=float)[:, order]
        bar.error_x = dict(
            type="data",
            symmetric=False,
            array=members.max(0) - values,
            arrayminus=values - members.min(0),
            color="#555",
            thickness=1,
            width=3,
        )
        bar.customdata = np.stack([members.min(0), members.max(0)], axis=1)
        bar.hovertemplate = "%{y}: %{x:.1%}<br>members: %{customdata[0]:.1%} – %{customdata[1]:.1%}<extra></extra>"
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
    fig = go.Figure([bar, values_column])
    spread = " · whiskers: range over ensemble members" if bar.error_x.array is not None else ""
    _style(
        fig,
        f"Predicted localisation: {_esc(_nice(pred.label))} ({pred.confidence:.0%})",
        _subtitle(pred) + spread,
        height=110 + 30 * len(pred.classes),
    )
    fig.update_xaxes(
        range=[0, 1.12], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0], tickformat=".0%", title="probability",
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


def attention_heatmap(pred: Prediction, residues_per_row: int = 60) -> go.Figure:
    """Attention per residue as a wrapped sequence grid, residue letters drawn in the cells."""
    if residues_per_row < 1:
        raise ValueError(f"residues_per_row must be at least 1, got {residues_per_row}")
    attention, shown = _check_prediction(pred)
    length, width = pred.length, residues_per_row
    n_rows = math.ceil(length / width)
    index = np.arange(length)
    rows, cols = index // width, index % width

    z_att = np.full((n_rows, width), np.nan)
    z_att[rows, cols] = np.where(shown, attention, np.nan)
    z_unseen = np.full((n_rows, width), np.nan)
    z_unseen[rows, cols] = np.where(shown, np.nan, 1.0)
    hover = np.full((n_rows, width), "", dtype=object)
    hover[rows, cols] = _attention_hover(pred, attention, shown)
    zmax = float(np.nanmax(z_att)) if shown.any() and np.nanmax(z_att) > 0 else 1.0

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
            title=dict(text="attention", side="right"),
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
    level = np.where(shown, attention / zmax, 0.0)
    letter_colour = np.where(~shown, "#666666", np.where(level > 0.55, "#FFFFFF", "#222222"))
    letters = go.Scatter(
        x=cols + 1,
        y=rows,
        mode="text",
        text=list(pred.sequence),
        textfont=dict(family=MONO, size=11, color=letter_colour.tolist()),
        hoverinfo="skip",
        showlegend=False,
        name="residues",
    )
    fig = go.Figure([unseen_trace, attention_trace, letters])
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
        ticktext=[str(r * width + 1) for r in y],
        range=[n_rows - 0.5, -0.5],
        showline=False,
        ticks="",
        title=None,
        tickfont=dict(family=MONO, size=11),
    )
    fig.update_layout(margin=dict(t=110), plot_bgcolor="white", hovermode="closest")
    return fig


def attention_profile(pred: Prediction, regions: Sequence[Region] | None = None) -> go.Figure:
    """Attention as an area over positions: an overview for long proteins, top regions shaded."""
    attention, shown = _check_prediction(pred)
    positions = np.arange(1, pred.length + 1)
    y = np.where(shown, attention, np.nan)
    n_seen = int(shown.sum())
    trace = go.Scatter(
        x=positions,
        y=y,
        mode="lines",
        fill="tozeroy",
        line=dict(color="#3B0F70", width=1.2),
        fillcolor="rgba(59, 15, 112, 0.25)",
        connectgaps=False,
        customdata=np.stack([np.array(list(pred.sequence), dtype=object), y * max(n_seen, 1)], axis=1),
        hovertemplate="position %{x} · %{customdata[0]}<br>attention %{y:.4g}<br>"
        "%{customdata[1]:.2f}× uniform<extra></extra>",
        name="attention",
        showlegend=False,
    )
    fig = go.Figure(trace)
    for start, end in _runs(~shown):
        fig.add_vrect(
            x0=start + 0.5,
            x1=end + 1.5,
            fillcolor=UNSEEN_GREY,
            opacity=0.6,
            line_width=0,
            layer="below",
            annotation_text=NOT_SEEN,
            annotation_position="top left",
            annotation_font=dict(size=11, color="#555"),
        )
    for k, region in enumerate(regions or []):
        fig.add_vrect(
            x0=region.start - 0.5,
            x1=region.end + 0.5,
            fillcolor=HIGHLIGHT,
            opacity=0.22,
            line_width=0,
            layer="below",
            annotation_text=str(k + 1),  # the rank only: neighbouring regions' labels would overlap
            annotation_hovertext=f"region {k + 1}: {region.start}–{region.end} ({region.score:.0%})",
            annotation_position="top left",
            annotation_font=dict(size=11, color=HIGHLIGHT),
        )
    if n_seen:
        fig.add_hline(
            y=1.0 / n_seen,
            line=dict(color="#777", dash="dot", width=1),
            annotation_text="uniform",
            annotation_position="top right",
            annotation_font=dict(size=11, color="#777"),
        )
    extra = f"shaded: top {len(regions)} regions" if regions else ""
    _style(fig, "Attention profile", _subtitle(pred, extra), height=340)
    top = float(np.nanmax(y)) if n_seen else 1.0
    fig.update_xaxes(range=[0.5, pred.length + 0.5], title="residue position", showgrid=False)
    fig.update_yaxes(range=[0, top * 1.18 if top > 0 else 1], title="attention", showgrid=True, gridcolor="#eee")
    return fig


def filter_track(
    pred: Prediction,
    filter_indices: list[int] | None = None,
    widths: list[int] | None = None,
    top_n: int = 30,
) -> go.Figure:
    """First-layer filter activations along the sequence (filters × positions)."""
    if pred.filter_activations is None:
        raise ValueError(f"protein {pred.id!r} has no filter activations; predict with filter activations switched on")
    _, shown = _check_prediction(pred)
    acts = np.asarray(pred.filter_activations, dtype=float)
    if acts.ndim != 2 or acts.shape[1] != pred.length:
        raise ValueError(f"filter activations have shape {acts.shape}; expected (n_filters, {pred.length})")
    n_filters = acts.shape[0]
    if widths is not None and len(widths) != n_filters:
        raise ValueError(f"widths lists {len(widths)} filters but the activations have {n_filters}")
    if filter_indices is None:
        peak = np.nanmax(np.where(np.isfinite(acts), acts, -np.inf), axis=1)
        chosen = [int(i) for i in np.argsort(-peak, kind="stable")[: max(top_n, 1)]]
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
    z = np.where(shown[None, :], z, np.nan)
    z_unseen = np.where(shown[None, :], np.nan, 1.0) * np.ones((len(chosen), 1))
    residues = np.broadcast_to(np.array(list(pred.sequence), dtype=object), z.shape)
    x = np.arange(1, pred.length + 1)
    common = dict(x=x, y=labels, text=residues, hoverongaps=False, ygap=1)
    traces = [
        go.Heatmap(
            z=z_unseen,
            colorscale=[[0, UNSEEN_GREY], [1, UNSEEN_GREY]],
            showscale=False,
            name=NOT_SEEN,
            hovertemplate="%{y}<br>position %{x} · %{text}<br>" + NOT_SEEN + "<extra></extra>",
            **common,
        ),
        go.Heatmap(
            z=z,
            colorbar=dict(title=dict(text="activation", side="right"), thickness=14),
            name="activation",
            hovertemplate="%{y}<br>position %{x} · %{text}<br>activation %{z:.3f}<extra></extra>",
            **_activation_scale(z),
            **common,
        ),
    ]
    fig = go.Figure(traces)
    member = "?" if pred.filter_member is None else pred.filter_member
    _style(
        fig,
        f"Filter activations (ensemble member {member})",
        _subtitle(pred, how),
        height=150 + 20 * len(chosen),
    )
    fig.update_xaxes(range=[0.5, pred.length + 0.5], title="residue position", showgrid=False)
    fig.update_yaxes(autorange="reversed", title=None, tickfont=dict(family=MONO, size=11), ticks="")
    return fig


# ---------------------------------------------------------------- motifs


def sequence_logo(motif: FilterMotif, ax: Axes | None = None) -> Figure:
    """Information-content logo of one filter (matplotlib, no pyplot state: thread-safe)."""
    freqs = np.asarray(motif.frequencies, dtype=float)
    if freqs.ndim != 2 or freqs.shape[1] != len(STANDARD_RESIDUES) or freqs.shape[0] == 0:
        raise ValueError(
            f"filter {motif.index}: frequencies have shape {freqs.shape}; expected (width, {len(STANDARD_RESIDUES)})"
        )
    freqs = np.clip(freqs, 0.0, None)
    totals = freqs.sum(axis=1, keepdims=True)
    freqs = np.divide(freqs, totals, out=np.full_like(freqs, 1 / len(STANDARD_RESIDUES)), where=totals > 0)
    probability = pd.DataFrame(freqs, columns=list(STANDARD_RESIDUES))
    information = logomaker.transform_matrix(probability, from_type="probability", to_type="information")

    if ax is None:
        fig = Figure(figsize=(max(3.2, 0.5 * len(freqs) + 1.4), 2.4), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    logomaker.Logo(information, ax=ax, color_scheme="weblogo_protein", font_name="DejaVu Sans")
    ax.set_ylim(0, np.log2(len(STANDARD_RESIDUES)))
    ax.set_ylabel("bits")
    ax.set_xticks(range(len(freqs)), [str(i + 1) for i in range(len(freqs))])
    ax.set_xlabel("position in window")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"filter {motif.index} · width {motif.width} · IC {motif.information_content:.1f} bits", fontsize=10)
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
    trace = go.Heatmap(
        z=z,
        x=[_nice(c) for c in classes],
        y=labels,
        colorbar=dict(title=dict(text="association", side="right"), thickness=14),
        hovertemplate="%{y}<br>class %{x}<br>association %{z:.3f}<extra></extra>",
        hoverongaps=False,
        xgap=1,
        ygap=1,
        **_activation_scale(z),
    )
    fig = go.Figure(trace)
    method = f" · {_esc(motif_set.association_method)}" if motif_set.association_method else ""
    _style(
        fig,
        "Filter–class association",
        f"model {_esc(motif_set.model_name)} · ensemble member {motif_set.member}{method}",
        height=190 + 18 * len(chosen),
        width=260 + 55 * len(classes),
    )
    fig.update_xaxes(side="top", tickangle=-40, showline=False, ticks="")
    fig.update_yaxes(autorange="reversed", tickfont=dict(family=MONO, size=11), showline=False, ticks="")
    fig.update_layout(margin=dict(t=160))
    return fig


# ---------------------------------------------------------------- model quality


def confusion_heatmap(report: dict, model_name: str | None = None) -> go.Figure:
    """Confusion matrix from :func:`locviz.metrics.classification_report`: colour by row share, counts as text."""
    classes = list(report["classes"])
    counts = np.asarray(report["confusion_matrix"], dtype=float)
    if counts.shape != (len(classes), len(classes)):
        raise ValueError(f"confusion matrix has shape {counts.shape}; expected {len(classes)}×{len(classes)}")
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    names = [_nice(c) for c in classes]
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


def training_curves(card: dict, model_name: str | None = None) -> go.Figure:
    """Validation accuracy and losses per epoch for every ensemble member, best epoch starred."""
    members = list(card.get("training") or [])
    name = model_name or card.get("name") or "?"
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=("validation accuracy", "loss (solid: validation, dashed: training)"),
    )
    drawn = 0
    for k, member in enumerate(members):
        history = list(member.get("history") or [])
        if not history:
            continue
        drawn += 1
        colour = PALETTE[k % len(PALETTE)]
        fold = member.get("validation_fold")
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
        best = member.get("best_epoch")
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
    fig.update_yaxes(tickformat=".0%", showgrid=True, gridcolor="#eee", row=1, col=1)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.14, x=0), margin=dict(t=115, b=90))
    return fig
