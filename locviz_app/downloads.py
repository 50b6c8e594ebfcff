"""Download buttons: figures as PNG/SVG/PDF and the prediction table, each made only when clicked."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from matplotlib.figure import Figure as MatplotlibFigure

from locviz import pipeline, table
from locviz.errors import LocvizError
from locviz.export import INSTALL_HINT, export_filename, figure_bytes, find_browser
from locviz.predict import Predictor
from locviz_app.evidence import call_for, search_hits
from locviz_app.models import get_reference
from locviz_app.runs import Run

LOG = logging.getLogger("locviz.app")


MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "csv": "text/csv",
        "json": "application/json"}  # fmt: skip


def export_bytes(fig: object, fmt: str) -> bytes:
    """Figure (or a zero-argument function that builds it) to file bytes: what the download buttons deliver."""
    if callable(fig):
        fig = fig()
    return figure_bytes(fig, fmt)


def figure_downloads(fig: object, protein_id: str, model_name: str, figure: str, key: str) -> None:
    """PNG, SVG and PDF buttons for one figure; the file is made only when a button is clicked.

    ``fig`` is a plotly/matplotlib figure or a function that builds one (for figures slow to draw).
    """
    # a plotly figure needs a browser to become an image; Streamlit would only say "Failed to generate file"
    missing = None if isinstance(fig, MatplotlibFigure) or find_browser() else INSTALL_HINT
    row = st.container(horizontal=True, gap="small")
    for fmt in ("png", "svg", "pdf"):
        with row:
            st.download_button(
                fmt.upper(),
                data=lambda fmt=fmt: export_bytes(fig, fmt),
                file_name=export_filename(protein_id, model_name, figure, fmt),
                mime=MIME[fmt],
                key=f"dl-{key}-{fmt}",
                on_click="ignore",
                icon=":material/download:",
                help=missing or f"Download this figure as {fmt.upper()}",
                disabled=missing is not None,
            )
    if missing:
        st.caption(f"Image downloads are off: {missing}")


def table_download(label: str, make: Callable[[], str | bytes], file_name: str, key: str) -> None:
    """A CSV/JSON download whose content is made only on click."""
    ext = Path(file_name).suffix.lstrip(".")
    st.download_button(
        label, data=make, file_name=file_name, mime=MIME.get(ext, "application/octet-stream"),
        key=f"dl-{key}", on_click="ignore", icon=":material/download:",
    )  # fmt: skip


def table_columns(model_name: str, searched: bool) -> tuple[str, ...]:
    """The extra columns of the downloads: those of ``locviz predict --neighbours`` (without the homology
    columns when the proteins were not searched, as plain ``locviz predict``); one list, :mod:`locviz.pipeline`'s."""
    return pipeline.extra_columns(neighbours=searched and get_reference(model_name) is not None)


def table_download_bytes(
    run: Run, predictor: Predictor, organism: str, fmt: str, with_attention: bool = False
) -> bytes:
    """The run's prediction table as ``locviz predict --organism O --neighbours --search-mode default`` writes it
    (the app's DIAMOND mode, :data:`locviz_app.models.APP_SENSITIVITY`; made on click):
    every protein not searched yet is searched now, in one DIAMOND call (~3 s for 500)."""
    try:
        searched = search_hits(run.model_name, run.records) is not None
    except LocvizError:  # no aligner: the table without the homology columns, as plain `locviz predict`
        LOG.warning("homology search failed; downloading the table without its columns", exc_info=True)
        searched = False
    preds = [call_for(run, predictor, i, organism).prediction for i in range(len(run.predictions))]
    pipeline.annotate(preds)  # signals, conflicts and notes, as the command line writes them
    return table.table_bytes(preds, fmt, extra_columns=table_columns(run.model_name, searched),
                             with_attention=with_attention)  # fmt: skip
