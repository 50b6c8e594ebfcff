"""``python -m locviz_app DASHBOARD [streamlit options]``: the app's server, warming the model from the start.

``locviz app`` replaces itself with this (``os.execv``), so the process a user starts
*is* the Streamlit server: stopping it (Ctrl-C, ``kill PID``) stops the server, and
nothing is left listening. Before handing over to Streamlit it imports what the pages
import (PyTorch, pandas, plotly, the app glue: 2-3 s on 2 busy cores), so the server
answers its health check, and opens the browser, only when a page can be drawn at once:
imported in a thread instead, the first page run waited on those imports (measured
3.6-5.4 s to the input box). Once the server is up a thread loads and warms the default
model (:func:`locviz_app.warmup.warm_up_in_background`) while the page is already usable,
so the first Predict does not wait for the model either (the warm-up starts when the first page is drawn,
or :data:`locviz_app.warmup.FIRST_PAGE_WAIT_S` after the server when nobody opens it).
"""

from __future__ import annotations

import sys
import threading
import time

SERVER_WAIT_S = 120.0


def import_app_modules() -> None:
    """Import what ``dashboard.py`` and the pages import, so no page run waits on an import (or on the GIL
    of a thread importing them)."""
    import importlib

    for name in PAGE_IMPORTS:
        importlib.import_module(name)


PAGE_IMPORTS = (
    "pandas", "plotly.graph_objects", "locviz", "locviz.figures", "locviz.whatif_figures", "locviz.export",
    "locviz.table", "locviz_app.layout", "locviz_app.warmup", "locviz_app.charts", "locviz_app.downloads",
    "locviz_app.evidence", "locviz_app.inputs", "locviz_app.runs", "locviz_app.signals_view",
)  # fmt: skip


def _warm_when_serving() -> None:
    """Load the model once Streamlit's runtime (and its config) exists."""
    from streamlit import runtime

    from locviz_app import warmup

    deadline = time.monotonic() + SERVER_WAIT_S
    while not runtime.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if runtime.exists():
        warmup.STARTED.wait(warmup.FIRST_PAGE_WAIT_S)  # a first page run starts it once drawn; else start it now
        warmup.warm_up_in_background()


def main(argv: list[str] | None = None) -> None:
    """Run ``streamlit run DASHBOARD [options]`` in this process (Streamlit's own command line)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit("usage: python -m locviz_app DASHBOARD [streamlit options]  (or simply: locviz app)")
    import_app_modules()
    threading.Thread(target=_warm_when_serving, name="locviz-warm-start", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
