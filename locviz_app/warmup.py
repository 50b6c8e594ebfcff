"""Load and warm the default model in a background thread once the first page is drawn.

So the first page never waits for it and the first Predict is as fast as the later ones. The warm-up
starts after a page run (``dashboard.py`` calls it when the page is drawn) rather than at the same
moment: loading and the first figures hold the GIL for much of a second, which the first page's run
would otherwise share (measured: input box 2.4-2.7 s after opening with both at once, 1.8-2.0 s alone).
A server nobody has opened yet starts it anyway after :data:`FIRST_PAGE_WAIT_S` (:mod:`locviz_app.__main__`).
"""

from __future__ import annotations

import logging
import threading
import time

from locviz.errors import LocvizError
from locviz.sequences import ProteinRecord
from locviz.weights import weights_dir
from locviz_app.evidence import search_hits
from locviz_app.models import WARM_UP_SEQUENCE, available_models, device_options, get_predictor, get_reference

LOG = logging.getLogger("locviz.app")


_WARM_STARTED: set[tuple[str, str, str]] = set()
_WARM_LOCK = threading.Lock()
STARTED = threading.Event()
"""Set when a warm-up thread has started (by a page run, or by the server after :data:`FIRST_PAGE_WAIT_S`)."""
FIRST_PAGE_WAIT_S = 5.0


def default_choice() -> tuple[str, str] | None:
    """The model and device a new session starts with (what the sidebar shows first)."""
    models = available_models()
    return (models[0], device_options()[0]) if models else None


def warm_up_in_background(model_name: str | None = None, device: str | None = None) -> threading.Thread | None:
    """Load and warm a model (default: the sidebar's first choice) in a daemon thread, once per process.

    Called at the end of every page run (``dashboard.py``) and by the server (``python -m locviz_app``,
    which ``locviz app`` runs) when no page has been opened :data:`FIRST_PAGE_WAIT_S` after it started;
    later calls return None. The page never blocks on it: only a Predict (or the motifs page) waits
    for the model.
    """
    if model_name is None or device is None:
        choice = default_choice()
        if choice is None:
            return None
        model_name, device = model_name or choice[0], device or choice[1]
    key = (str(weights_dir()), model_name, device)
    with _WARM_LOCK:
        if key in _WARM_STARTED:
            return None
        _WARM_STARTED.add(key)
    thread = threading.Thread(target=_warm_up, args=(model_name, device), name="locviz-warm-up", daemon=True)
    thread.start()
    STARTED.set()
    return thread


def _warm_up(model_name: str, device: str) -> None:
    """Load the model and draw each Predict figure once: plotly's first figure of a kind costs about a second."""
    start = time.perf_counter()
    try:
        predictor = get_predictor(model_name, device)
        import pandas  # whole, before plotly looks it up (a page importing it meanwhile is waited for)

        from locviz import figures  # the page's imports, so its first run finds them loaded
        from locviz.regions import attended_regions

        pred = predictor.predict([ProteinRecord("warm-up", WARM_UP_SEQUENCE)], with_filters=True)[0]
        for fig in (
            figures.probability_bar(pred),
            figures.attention_heatmap(pred),
            figures.attention_profile(pred, attended_regions(pred, n=3)),
            figures.filter_track(pred, None, None, 5),
        ):
            fig.to_json()
        from streamlit.dataframe_util import convert_pandas_df_to_arrow_bytes  # tables go to the browser as Arrow

        convert_pandas_df_to_arrow_bytes(pandas.DataFrame({"n": [1.0], "text": ["a"]}))
        reference = get_reference(model_name)  # known locations, looked up with every result
        if reference is not None:  # DIAMOND's database is built on the first search (~0.4 s): not the user's
            try:
                search_hits(model_name, [ProteinRecord("warm-up", WARM_UP_SEQUENCE)])
            except LocvizError as exc:  # no aligner: the page says so beside each call
                LOG.warning("homology search unavailable: %s", exc)
        print(f"locviz: model {model_name} loaded and warmed up on {device} in {time.perf_counter() - start:.1f} s",
              flush=True)  # fmt: skip
    except Exception:  # a broken bundle is reported on the page, where the user can act on it
        LOG.warning("warming up model %s on %s failed; the page loads it on first use", model_name, device,
                    exc_info=True)  # fmt: skip
