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
  for (const e of document.querySelectorAll('[data-testid="stMain"] .stMarkdownEllipsis')) {  // labels, metrics
    const inner = e.querySelector('p') || e;
    if (e.scrollWidth > e.clientWidth + 1 || inner.scrollWidth > inner.clientWidth + 1
        || inner.getBoundingClientRect().right > e.getBoundingClientRect().right + 1) cut.push('text: ' + e.innerText);
  }
  for (const t of document.querySelectorAll('[data-testid="stMultiSelectTagsContainer"]')) {  // filter chips
    if (t.scrollWidth > t.clientWidth + 1) cut.push('chips: ' + t.innerText);
  }
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    const svg = c.querySelector('svg.main-svg');
    for (const t of c.querySelectorAll('.gtitle, .gtitle-subtitle')) {
      if (t.getBoundingClientRect().right > svg.getBoundingClientRect().right + 1) cut.push('chart: ' + t.textContent);
    }
  }
  return cut;
}"""
"""Texts the page cuts off: download labels shortened with an ellipsis, metric values ("plasma me…"), widget and
button labels cut to one line, chart titles running past the chart."""


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
        page.set_viewport_size({"width": 1000, "height": 1000})  # narrower: labels and headline wrap, never cut
        page.wait_for_timeout(500)
        assert page.evaluate(CLIPPED_TEXT_JS) == []
        page.get_by_role("tab", name="First-layer filters").click()  # eight filter chips, none out of sight
        page.get_by_text("Filters shown (most active", exact=False).wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        assert page.evaluate(CLIPPED_TEXT_JS) == []
        page.get_by_role("tab", name="Attention along the sequence").click()
        page.set_viewport_size({"width": 1400, "height": 1000})

        heatmap = page.locator("[data-testid='stPlotlyChart']", has=page.locator(".gtitle", has_text="Attention along"))
        heatmap.first.wait_for(timeout=60_000)  # the tab's charts are drawn after the click and the resize
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


def test_whatif_scan_and_variant_render_and_export_in_chromium(weights: Path) -> None:
    """The What-if page in a real browser: a 5-residue scan and a variant draw with no traceback and download."""
    from locviz_app.server import wait_for_app_idle  # (kept local: this test was appended by the what-if page)

    chromium_path()
    protein = by_accession("P00441")  # superoxide dismutase, cytoplasmic, 153 aa; residue 4 is A
    with running_app(weights=weights) as url, chromium_page(width=1400, height=1000) as page:
        open_app(page, url, timeout_ms=90_000)
        predict_text(page, protein.fasta(), timeout_ms=120_000)
        page.get_by_role("link", name="What if").click()
        for label, value in (("Start (1-based)", "10"), ("End (inclusive)", "14")):
            box = page.get_by_role("spinbutton", name=label)
            box.fill(value)
            box.press("Enter")
            wait_for_app_idle(page)
        page.get_by_role("button", name="Run the scan").click()
        page.locator(".gtitle", has_text="Saturation mutagenesis").first.wait_for(timeout=120_000)
        wait_for_app_idle(page)
        assert page.locator(".xtick text").all_text_contents()[:5] == ["G10", "D11", "G12", "P13", "V14"]
        assert page.evaluate(CLIPPED_TEXT_JS) == []
        assert page.get_by_text("Traceback").count() == 0

        def download(key: str) -> tuple[str, bytes]:
            with page.expect_download(timeout=120_000) as info:
                page.locator(f".st-key-dl-{key}").get_by_role("button").first.click()
            return info.value.suggested_filename, Path(info.value.path()).read_bytes()

        for fmt, head in (("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF-")):
            name, data = download(f"scan-{fmt}")
            assert name.startswith("P00441_") and name.endswith(f".{fmt}") and data.startswith(head)
        name, data = download("scan-svg")
        assert name.endswith(".svg") and b"<svg" in data[:500]
        name, data = download("scan-csv")
        assert name.endswith(".csv") and len(data.decode().splitlines()) == 1 + 5 * 19

        page.get_by_role("tab", name="Variants side by side").click()
        box = page.get_by_role("textbox", name="Variants, in the wild type", exact=False)
        box.fill("A4T")
        box.press("Enter")
        wait_for_app_idle(page)
        page.get_by_role("button", name="Compare").click()
        page.locator(".gtitle", has_text="Where the attention moved").first.wait_for(timeout=120_000)
        wait_for_app_idle(page)
        assert page.evaluate(CLIPPED_TEXT_JS) == []
        assert page.get_by_text("Traceback").count() == 0
        name, data = download("cmp-csv")
        assert data.decode().splitlines()[1].startswith("P00441,A4T,")
