"""Start the Streamlit app in a subprocess and drive it with headless Chromium (tests, screenshots, benchmark).

Uses the system's Chromium (Debian: ``apt-get install chromium`` → ``/usr/bin/chromium``)
through Playwright for Python; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # the checkout: dashboard.py, pages/, .streamlit/
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "install Debian's chromium (`apt-get update && apt-get install -y chromium`) or set LOCVIZ_CHROMIUM"


def chromium_path() -> str:
    """The Chromium executable to drive; ``RuntimeError`` with the install command when there is none."""
    configured = os.environ.get("LOCVIZ_CHROMIUM")
    candidates = [configured] if configured else [*CHROMIUM_CANDIDATES, shutil.which("chromium") or ""]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise RuntimeError(f"no Chromium found (looked at {', '.join(c for c in candidates if c)}): {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 90.0) -> None:
    """Return once the Streamlit server at ``url`` answers its health check; raise if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; log: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not answer on {url} within {timeout:.0f}s; log: {log_path}")
        time.sleep(0.3)


@contextmanager
def running_app(
    weights: str | Path | None = None, port: int | None = None, timeout: float = 90.0, script: str = "dashboard.py"
) -> Iterator[str]:
    """Run the app's server headless on a free local port; yields its URL, stops it after.

    The server is started as ``locviz app`` starts it (``python -m locviz_app dashboard.py``, model
    warmed from the start), so tests, screenshots and benchmarks see what a user sees.
    ``weights`` sets LOCVIZ_WEIGHTS for the server (default: inherit the environment).
    """
    port = port or free_port()
    env = dict(os.environ)
    if weights is not None:
        env["LOCVIZ_WEIGHTS"] = str(weights)
    cmd = [
        sys.executable, "-m", "locviz_app", str(REPO / script),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"locviz-streamlit-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, proc, log_path, timeout)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000, scale: float = 1.0) -> Iterator[object]:
    """A Playwright page in headless system Chromium; downloads are accepted."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=scale, accept_downloads=True
            )
            page = context.new_page()
            yield page
        finally:
            browser.close()


def wait_for_app_idle(page, timeout_ms: float = 60_000, settle_ms: int = 300) -> None:
    """Wait until no element of a previous script run is still shown as stale (greyed out)."""
    page.wait_for_timeout(settle_ms)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=timeout_ms, polling=50)


CHART_FOR_JS = """([title, id]) => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].some(c => {
  const t = c.querySelector('.gtitle'), s = c.querySelector('.gtitle-subtitle');
  return t && s && t.textContent.startsWith(title) && s.textContent.startsWith(id + ' ·');
})"""
"""True when a chart titled ``title`` whose subtitle names protein ``id`` is drawn (cheap to poll)."""

RESULTS_SHOWN_JS = """(id) => {
  const chart = (""" + CHART_FOR_JS + """)(['Attention along the sequence', id]);
  const last = [...document.querySelectorAll('[data-testid="stDownloadButton"] button')]
    .some(b => b.textContent.includes('Filter activations, ' + id));
  return chart && last && !document.querySelector('[data-stale="true"]');
}"""


def open_app(page, url: str, timeout_ms: float = 90_000) -> float:
    """Open the app's first page; seconds until it is interactive (the Predict button drawn, the run finished)."""
    start = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Predict", exact=True).wait_for(timeout=timeout_ms)
    wait_for_app_idle(page, timeout_ms, settle_ms=0)
    return time.perf_counter() - start


def first_record_id(text: str) -> str:
    """The id the app gives the first record of ``text`` (raw sequences are 'sequence_1')."""
    stripped = text.lstrip()
    return stripped[1:].split(maxsplit=1)[0] if stripped.startswith(">") else "sequence_1"


def wait_for_results(page, record_id: str, timeout_ms: float = 60_000) -> None:
    """Wait until the results of ``record_id`` are drawn: its heatmap, the last download row, nothing stale."""
    page.wait_for_function(RESULTS_SHOWN_JS, arg=record_id, timeout=timeout_ms, polling=25)


def predict_text(page, text: str, timeout_ms: float = 60_000) -> float:
    """Paste ``text`` into the app's sequence box, press Predict, wait for all results; returns seconds.

    Give each call a record name not shown just before, or the wait cannot tell old results from new.
    """
    box = page.get_by_label("Protein sequence(s)", exact=False)
    box.fill(text)
    box.press("Tab")  # commit the text area (one rerun) before the click
    wait_for_app_idle(page, timeout_ms)
    start = time.perf_counter()
    page.get_by_role("button", name="Predict", exact=True).click()
    wait_for_results(page, first_record_id(text), timeout_ms)
    return time.perf_counter() - start
