"""End to end in a real browser: start the app, paste a protein, predict, see the heatmap, download a figure.

Needs Debian's Chromium (``apt-get install -y chromium`` → /usr/bin/chromium) and
Playwright for Python; no browser is downloaded. Without Chromium this test
fails with the install command, on purpose: CI must run it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from locviz.examples import by_accession
from locviz_app.server import chromium_page, chromium_path, open_app, predict_text, running_app

REPO = Path(__file__).resolve().parent.parent

SHIPPED = REPO / "weights"

CLIPPED_TEXT_JS = """() => {
  const cut = [];
  for (const b of document.querySelectorAll('[data-testid="stDownloadButton"] button')) {
    for (const el of [b, ...b.querySelectorAll('*')]) {
      if (el.scrollWidth > el.clientWidth + 1) { cut.push('button: ' + b.textContent); break; }
    }
  }
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const svg = c.querySelector('svg.main-svg');
    for (const t of c.querySelectorAll('.gtitle, .gtitle-subtitle')) {
      if (t.getBoundingClientRect().right > svg.getBoundingClientRect().right + 1) cut.push('chart: ' + t.textContent);
    }
  }
  return cut;
}"""
"""Texts the page cuts off: download labels shortened with an ellipsis, chart titles running past the chart."""


@pytest.fixture(scope="module")
def weights(tiny_weights_dir: Path) -> Path:
    """The shipped bundles once they are in weights/, else the tiny test bundles."""
    return SHIPPED if (SHIPPED / "multiloc.json").is_file() else tiny_weights_dir


def test_paste_predict_download_in_chromium(weights: Path) -> None:
    chromium_path()  # a clear failure (with the install command) when Chromium is missing
    protein = by_accession("P07339")  # cathepsin D, lysosomal, 412 aa
    with running_app(weights=weights) as url, chromium_page(width=1400, height=1000) as page:
        open_app(page, url, timeout_ms=90_000)
        assert page.get_by_text("locviz — where does this protein go").count() == 1
        predict_text(page, protein.fasta(), timeout_ms=120_000)
        assert page.evaluate(CLIPPED_TEXT_JS) == []  # no download label cut short, no chart title past its edge

        heatmap = page.locator("[data-testid='stPlotlyChart']", has=page.locator(".gtitle", has_text="Attention along"))
        assert heatmap.count() == 1
        residue_letters = heatmap.locator("g.textpoint text")  # the residue letters drawn in the cells
        assert residue_letters.count() == len(protein.sequence)
        assert page.get_by_text("Known location").count() >= 1
        assert page.get_by_text("Traceback").count() == 0

        with page.expect_download(timeout=120_000) as download_info:
            page.locator(".st-key-dl-heatmap-png").get_by_role("button", name="PNG").first.click()
        download = download_info.value
        assert download.suggested_filename == "P07339_" + download.suggested_filename.split("_", 1)[1]
        assert download.suggested_filename.endswith("_attention-heatmap.png")
        data = Path(download.path()).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
        width = int.from_bytes(data[16:20], "big")
        assert width >= 1000  # the wrapped heatmap at export scale, not a thumbnail
