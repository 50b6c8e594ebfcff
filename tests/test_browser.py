"""End to end in a real browser: start the app, paste a protein, predict, see the heatmap, download a figure.

Needs Debian's Chromium (``apt-get install -y chromium`` → /usr/bin/chromium) and
Playwright for Python; no browser is downloaded. Without Chromium this test
fails with the install command, on purpose: CI must run it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from locviz.examples import by_accession
from locviz_app.server import chromium_page, chromium_path, predict_text, running_app

REPO = Path(__file__).resolve().parent.parent

SHIPPED = REPO / "weights"


@pytest.fixture(scope="module")
def weights(tiny_weights_dir: Path) -> Path:
    """The shipped bundles once they are in weights/, else the tiny test bundles."""
    return SHIPPED if (SHIPPED / "multiloc.json").is_file() else tiny_weights_dir


def test_paste_predict_download_in_chromium(weights: Path) -> None:
    chromium_path()  # a clear failure (with the install command) when Chromium is missing
    protein = by_accession("P07339")  # cathepsin D, lysosomal, 412 aa
    with running_app(weights=weights) as url, chromium_page(width=1400, height=1000) as page:
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text("locviz — where does this protein go").wait_for(timeout=90_000)
        predict_text(page, protein.fasta(), timeout_ms=120_000)

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
