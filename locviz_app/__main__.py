"""``python -m locviz_app DASHBOARD [streamlit options]``: the app's server, warming the model from the start.

``locviz app`` replaces itself with this (``os.execv``), so the process a user starts
*is* the Streamlit server: stopping it (Ctrl-C, ``kill PID``) stops the server, and
nothing is left listening. Before handing over to Streamlit it starts a thread that
imports the science stack and, once the server is up, loads and warms the default
model (:func:`locviz_app.warmup.warm_up_in_background`), so the first page does not
wait for PyTorch and the first Predict does not wait for the model.
"""

from __future__ import annotations

import sys
import threading
import time

SERVER_WAIT_S = 120.0


def _warm_when_serving() -> None:
    """Import the app's modules now; load the model once Streamlit's runtime (and its config) exists."""
    from streamlit import runtime

    import locviz.figures  # noqa: F401  (what the Predict page imports: pandas, plotly, matplotlib, torch)
    from locviz_app import warmup

    deadline = time.monotonic() + SERVER_WAIT_S
    while not runtime.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if runtime.exists():
        warmup.warm_up_in_background()


def main(argv: list[str] | None = None) -> None:
    """Run ``streamlit run DASHBOARD [options]`` in this process (Streamlit's own command line)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit("usage: python -m locviz_app DASHBOARD [streamlit options]  (or simply: locviz app)")
    threading.Thread(target=_warm_when_serving, name="locviz-warm-start", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
