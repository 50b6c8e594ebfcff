"""The frame every page shares: the page list, the error boundary and the sidebar's sticky pickers."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import streamlit as st

from locviz.errors import LocvizError
from locviz.weights import ENSEMBLES, BundleError, weights_dir
from locviz_app.models import available_models, device_options

LOG = logging.getLogger("locviz.app")
_MARKDOWN = re.compile(r"([\\`*_~\[\]<>$])")
"""Inline Markdown: emphasis, code, strike-through, links, HTML, math. Line-start marks (``#``, ``-``) never begin
a message here, so text keeps its hyphens and full stops as they are."""


def escape_markdown(text: object) -> str:
    """``text`` as written, for ``st.error``/``st.info``/``st.markdown``, which read Markdown: without it a ``*``
    in a message (a stop '*') or two ``_`` in a file name vanish or turn text italic."""
    return _MARKDOWN.sub(r"\\\1", str(text))


PREDICT_PAGE = "pages/predict.py"
MOTIFS_PAGE = "pages/motifs.py"
CARD_PAGE = "pages/model_card.py"
WHATIF_PAGE = "pages/whatif.py"
PAGES = (
    (PREDICT_PAGE, "Predict", ":material/biotech:"),
    (WHATIF_PAGE, "What if", ":material/science:"),
    (MOTIFS_PAGE, "Filter motifs", ":material/text_fields:"),
    (CARD_PAGE, "Model card", ":material/description:"),
)
"""(script relative to dashboard.py, title in the sidebar, icon); dashboard.py declares them with st.navigation.
Material icons ship with Streamlit, so they show on machines without an emoji font."""


PAGE_STYLE = """<style>
/* Nothing is cut off with an ellipsis: Streamlit truncates metric values ("plasma me…" at 1,400 px), widget labels
   and button labels to one line; here they wrap instead, and a metric value scales with the window. */
.stMarkdownEllipsis, .stMarkdownEllipsis p, [data-testid="stMetricValue"] > div, [data-testid="stMetricLabel"] > div {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  overflow-wrap: anywhere;
}
[data-testid="stMetricValue"] { font-size: clamp(1.25rem, 2.3vw, 2.25rem); line-height: 1.2; }
/* A multiselect's chips (the filters shown on the Predict page) wrap onto more lines instead of scrolling out of
   sight behind a fade: every chosen filter stays visible. */
[data-testid="stMultiSelectTagsContainer"] { flex-wrap: wrap !important; overflow: visible !important;
  mask-image: none !important; -webkit-mask-image: none !important; }
[data-testid="stMultiSelect"] div:has([data-testid="stMultiSelectTagsContainer"]),
[data-testid="stMultiSelectTagsContainer"] { height: auto !important; max-height: none !important; min-height: 38px; }
/* Below 1,200 px a row of columns holding a chart or a table stacks, so a chart keeps at least ~480 px for its
   titles and a table its columns. */
@media (max-width: 1200px) {
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] :is([data-testid="stPlotlyChart"],
    [data-testid="stDataFrame"])) { flex-wrap: wrap; }
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] :is([data-testid="stPlotlyChart"],
    [data-testid="stDataFrame"])) > [data-testid="stColumn"] { min-width: 100%; }
}
</style>"""


def page_style() -> None:
    """The app's few style rules (see :data:`PAGE_STYLE`), once per page run; they take no space on the page."""
    st.html(PAGE_STYLE)


def guarded(body: Callable[[], None]) -> None:
    """Run a page body; any error becomes an inline message, never a traceback.

    ``st.stop``/``st.switch_page`` raise ``BaseException`` subclasses and pass through.
    """
    try:
        body()
    except BundleError as exc:  # MotifError too
        st.error(f"The model files could not be used: {escape_markdown(exc)}")
    except LocvizError as exc:  # something the user can fix: its message says what and how
        st.error(escape_markdown(exc))
    except Exception as exc:  # the page boundary: log the traceback, show a clear line
        LOG.exception("page failed")
        st.error(
            f"Something went wrong while drawing this page ({type(exc).__name__}: {escape_markdown(exc)}). "
            "The input and settings are kept; change them or reload the page. If it persists, "
            "please report it with the input that caused it."
        )


def _remember(widget_key: str, store_key: str) -> None:
    st.session_state[store_key] = st.session_state[widget_key]


def sticky_choice(label: str, options: list[str], store_key: str, **kwargs) -> str:
    """A selectbox/radio whose value survives page switches (widget state alone is dropped on a switch)."""
    if st.session_state.get(store_key) not in options:
        st.session_state[store_key] = options[0]
    widget_key = f"{store_key}_pick"
    st.session_state[widget_key] = st.session_state[store_key]
    widget = st.radio if kwargs.pop("radio", False) else st.selectbox
    return widget(label, options, key=widget_key, on_change=_remember, args=(widget_key, store_key), **kwargs)


def sidebar_settings() -> tuple[str, str] | None:
    """Model and device pickers (kept across pages); None when no model is installed."""
    models = available_models()
    with st.sidebar:
        st.markdown("### Model")
        if not models:
            st.error(
                f"No model bundle found in `{weights_dir()}` (looked for "
                f"{', '.join(m + '.json' for m in ENSEMBLES)}). Put the shipped bundles there "
                "or point the environment variable LOCVIZ_WEIGHTS at a folder that holds them."
            )
            return None
        model = sticky_choice(
            "Model", models, "model_name",
            help="multiloc: 11 compartments (MultiLoc, Höglund 2006); deeploc: 10 compartments (DeepLoc 1.0). "
            "A name ending in -fast is one small network distilled from that ensemble: faster, less accurate "
            "(its figures are on the Model card page).",
        )  # fmt: skip
        devices = device_options()
        if len(devices) > 1:
            device = sticky_choice(
                "Device", devices, "device", radio=True, horizontal=True,
                format_func=lambda d: "GPU (CUDA)" if d == "cuda" else "CPU",
            )  # fmt: skip
        else:
            device = "cpu"
            st.caption("Device: CPU (PyTorch sees no GPU)")
    return model, device
