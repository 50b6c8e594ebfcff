"""Exporters: figures to PNG/SVG/PDF bytes, predictions to CSV/JSON bytes, safe file names.

Static plotly images come from kaleido 1.x, which drives a headless Chromium
(found via ``BROWSER_PATH``, ``PATH`` or the usual install paths, e.g. Debian's
``apt-get install chromium`` → ``/usr/bin/chromium``). Starting Chromium costs
about 1.5 s, so one browser is kept open for the whole process and shared by
all threads (renders run one at a time on its own event loop); one-shot kaleido
calls would pay ~1.5–2.5 s on every image instead of ~0.15 s.
"""

from __future__ import annotations

import asyncio
import atexit
import csv
import io
import os
import re
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from matplotlib.figure import Figure

from locviz.errors import ExportError
from locviz.motifs import FilterMotif, MotifSet, filter_table
from locviz.prediction import Prediction
from locviz.sequences import STANDARD_RESIDUES
from locviz.table import number

FORMATS = ("png", "svg", "pdf")
DEFAULT_WIDTH = 900  # px, for plotly figures whose layout sets no width
DEFAULT_HEIGHT = 500
RENDER_TIMEOUT_S = 90.0
START_TIMEOUT_S = 60.0
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
BROWSER_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/snap/bin/chromium")
INSTALL_HINT = (
    "Static image export needs a Chrome or Chromium browser. Install one (Debian/Ubuntu: "
    "`apt-get install chromium`) or point the BROWSER_PATH environment variable at its executable."
)


# ---------------------------------------------------------------- static images


def find_browser() -> str | None:
    """The Chromium kaleido should drive: ``BROWSER_PATH`` first, then ``PATH``, then usual paths."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in BROWSER_PATHS if os.access(p, os.X_OK)), None)


async def _cancel_other_tasks() -> None:
    current = asyncio.current_task()
    for task in asyncio.all_tasks():
        if task is not current:
            task.cancel()


class _KaleidoSession:
    """One headless browser for the whole process, on its own event-loop thread.

    ``asyncio.run_coroutine_threadsafe`` gives every caller its own future, so
    concurrent threads (Streamlit sessions) cannot receive each other's images;
    kaleido's tab queue serialises the renders themselves.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None

    def _start(self) -> None:
        import kaleido  # imported lazily: CSV export must not need a browser stack

        path = find_browser()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="locviz-kaleido", daemon=True)
        thread.start()

        async def open_browser():
            # mathjax=False: no LaTeX in these figures, and no CDN request from offline machines.
            k = kaleido.Kaleido(n=1, mathjax=False, timeout=RENDER_TIMEOUT_S, **({"path": path} if path else {}))
            await k.open()
            return k

        try:
            self._kaleido = asyncio.run_coroutine_threadsafe(open_browser(), loop).result(START_TIMEOUT_S)
        except Exception as error:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            where = f" (tried {path})" if path else " (none found)"
            message = f"could not start the browser for image export{where}: {error}. {INSTALL_HINT}"
            raise ExportError(message) from error
        self._loop, self._thread = loop, thread

    def render(self, fig_dict: dict, opts: dict) -> bytes:
        """Render one figure, starting (or restarting once, if the browser died) as needed."""
        for attempt in (1, 2):
            with self._lock:
                if self._kaleido is None:
                    self._start()
                loop, k = self._loop, self._kaleido
            future = asyncio.run_coroutine_threadsafe(k.calc_fig(fig_dict, opts=opts), loop)
            try:
                return future.result(RENDER_TIMEOUT_S + 10)
            except Exception as error:  # timeout, browser gone, render error
                future.cancel()
                if attempt == 2:
                    raise ExportError(f"image export failed: {type(error).__name__}: {error}") from error
                with self._lock:
                    if self._kaleido is k:
                        self._close_locked()
        raise AssertionError("unreachable")

    def _close_locked(self) -> None:
        loop, k, thread = self._loop, self._kaleido, self._thread
        self._loop = self._kaleido = self._thread = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(k.close(), loop).result(10)
        except Exception:  # noqa: BLE001 - best effort: the browser may already be gone
            pass
        try:  # renders still waiting on this browser fail now (and retry) instead of hanging
            asyncio.run_coroutine_threadsafe(_cancel_other_tasks(), loop).result(5)
        except Exception:  # noqa: BLE001
            pass
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)

    def close(self) -> None:
        """Shut the browser down (at exit, or to free memory)."""
        with self._lock:
            self._close_locked()

    @property
    def running(self) -> bool:
        return self._kaleido is not None


_SESSION = _KaleidoSession()
atexit.register(_SESSION.close)


def start_browser() -> None:
    """Start the shared export browser now (e.g. in a background thread at app start) so the
    first download is fast; raises :class:`ExportError` with install advice if it cannot start."""
    with _SESSION._lock:
        if not _SESSION.running:
            _SESSION._start()


def close_browser() -> None:
    """Stop the shared export browser; the next image export starts a new one."""
    _SESSION.close()


def _check_format(fmt: str) -> str:
    fmt = str(fmt).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    return fmt


def figure_bytes(fig: go.Figure | Figure, fmt: str, scale: float = 2.0) -> bytes:
    """A plotly or matplotlib figure as PNG, SVG or PDF bytes (``scale`` multiplies raster resolution)."""
    fmt = _check_format(fmt)
    if not scale or scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if isinstance(fig, Figure):
        buffer = io.BytesIO()
        metadata = {"Software": "locviz"} if fmt == "png" else {"Creator": "locviz"}
        if fmt == "svg":
            metadata["Date"] = None
        fig.savefig(buffer, format=fmt, dpi=fig.dpi * scale, metadata=metadata)
        return buffer.getvalue()
    if isinstance(fig, go.Figure):
        fig_dict = fig.to_plotly_json()
        layout = fig.layout
        opts = dict(
            format=fmt,
            width=layout.width or DEFAULT_WIDTH,
            height=layout.height or DEFAULT_HEIGHT,
            scale=scale,
        )
        return _SESSION.render(fig_dict, opts)
    raise TypeError(f"cannot export {type(fig).__name__}; expected a plotly or matplotlib figure")


# ---------------------------------------------------------------- tables


def _csv(header: Sequence[str], rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def filters_csv(pred: Prediction, filter_indices: Sequence[int] | None = None) -> bytes:
    """One row per residue, one column per first-layer filter (``f12``); empty where not seen and, in a protein cut
    for length, within half a filter's width of the cut (:func:`locviz.predict.straddles_cut`)."""
    if pred.filter_activations is None:
        raise ValueError(f"protein {pred.id!r} has no filter activations to export")
    acts = np.asarray(pred.filter_activations, dtype=float)
    indices = list(range(acts.shape[0])) if filter_indices is None else [int(i) for i in filter_indices]
    bad = [i for i in indices if not 0 <= i < acts.shape[0]]
    if bad:
        raise ValueError(f"filter indices {bad} out of range: this model has filters 0–{acts.shape[0] - 1}")
    chosen = acts[indices]
    rows = ([pos + 1, residue, *(number(v, 5) for v in chosen[:, pos])] for pos, residue in enumerate(pred.sequence))
    return _csv(["position", "residue", *(f"f{i}" for i in indices)], rows)


def logo_csv(motif: FilterMotif, motif_set: MotifSet | None = None) -> bytes:
    """The filter's position frequency matrix (rows: window positions) plus bits per position; with its
    ``motif_set`` (a background composition known) also the logo's dashed line, ``chance_bits``
    (:meth:`~locviz.motifs.MotifSet.chance`), and whether each position rises above it."""
    freqs = np.asarray(motif.frequencies, dtype=float)
    ic = motif.ic_per_position()
    above = motif_set.above_chance(motif) if motif_set is not None else None
    if motif_set is None or above is None:
        rows = ([k + 1, *(number(v, 5) for v in row), number(ic[k], 4)] for k, row in enumerate(freqs))
        return _csv(["position", *STANDARD_RESIDUES, "ic_bits"], rows)
    chance_bits = number(motif_set.chance(motif).upper_bits, 4)
    rows = ([k + 1, *(number(v, 5) for v in row), number(ic[k], 4), chance_bits, bool(above[k])]
            for k, row in enumerate(freqs))  # fmt: skip
    return _csv(["position", *STANDARD_RESIDUES, "ic_bits", "chance_bits", "above_chance"], rows)


def filter_table_csv(motif_set: MotifSet, order: Sequence[int] | None = None) -> bytes:
    """The Motifs page's filter table (:func:`locviz.motifs.filter_table`, rows in ``order``) as CSV."""
    rows = filter_table(motif_set, order)
    header = list(rows[0]) if rows else ["filter"]
    return _csv(header, ([number(v, 4) if isinstance(v, float) else v for v in row.values()] for row in rows))


# ---------------------------------------------------------------- file names

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def _safe_part(text: str, fallback: str, limit: int = 60) -> str:
    cleaned = _UNSAFE.sub("-", str(text).replace("_", "-"))
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip(".-")[:limit].strip(".-")
    return cleaned or fallback


def export_filename(protein_id: str, model_name: str, figure: str, ext: str) -> str:
    """A portable file name, e.g. ``P12345_multiloc_attention-heatmap.svg`` (``[A-Za-z0-9.-]``, ``_`` between parts)."""
    extension = re.sub(r"[^a-z0-9]", "", str(ext).lower().lstrip("."))
    if not extension:
        raise ValueError(f"file extension {ext!r} has no usable characters")
    parts = [_safe_part(protein_id, "protein"), _safe_part(model_name, "model"), _safe_part(figure.lower(), "figure")]
    return "_".join(parts) + "." + extension


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write exported bytes to ``path`` (creating folders); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
