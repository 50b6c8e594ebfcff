"""Charts on a page: figures cached per session, drawn with the same toolbar and download buttons."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable

import streamlit as st

from locviz.prediction import Prediction
from locviz_app.downloads import figure_downloads

_PLACEHOLDER_COLOUR = re.compile(r"^#0000(?:[0-3][0-9]|40)$", re.IGNORECASE)


def _unplaceholder(colour: object) -> object:
    """``#000001``–``#000040`` → ``#010101``-ish: Streamlit's browser code swaps those exact colours for theme
    colours in every plotly figure (even with ``theme=None``), e.g. the black end of Magma became violet."""
    if isinstance(colour, str) and _PLACEHOLDER_COLOUR.match(colour):
        return "#01" + colour[3:]
    return colour


def streamlit_safe(fig: object) -> object:
    """Nudge colour-scale entries Streamlit would recolour (visually identical); returns the same figure."""
    for trace in getattr(fig, "data", ()):
        for owner in (trace, getattr(trace, "marker", None)):
            scale = getattr(owner, "colorscale", None) if owner is not None else None
            if scale and any(_PLACEHOLDER_COLOUR.match(str(c)) for _, c in scale):
                owner.colorscale = [(pos, _unplaceholder(c)) for pos, c in scale]
    return fig


def cached_figure(kind: str, key: tuple, build: Callable[[], object]) -> object:
    """Build a figure once per session and key; reruns reuse it."""
    store = st.session_state.setdefault("_figures", OrderedDict())
    full = (kind, *key)
    if full not in store:
        store[full] = streamlit_safe(build())
        while len(store) > 40:
            store.popitem(last=False)
    return store[full]


PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
"""The toolbar of every protein chart: no logo, no selection tools (no page reads a selection)."""


def chart(fig: object, pred: Prediction, name: str, key: str, width: str = "stretch") -> None:
    """A plotly figure of one protein and its PNG/SVG/PDF buttons (file names from protein, model and ``name``)."""
    st.plotly_chart(fig, width=width, config=PLOTLY_CONFIG, key=f"chart-{key}", theme=None)
    figure_downloads(fig, pred.id, pred.model_name, name, key)
