"""Screenshots of the app's main views for the README: predict, filter motifs, model card.

Starts ``streamlit run dashboard.py`` on a free local port, drives it with
Debian's headless Chromium through Playwright, and writes ``docs/predict.png``,
``docs/motifs.png``, ``docs/model_card.png`` and ``docs/whatif.png``. Uses the shipped weights in
``weights/`` unless ``--weights`` (or LOCVIZ_WEIGHTS) points elsewhere.

    python docs/make_screenshots.py [--weights DIR] [--example P02768] [--width 1000 --out /tmp/shots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from locviz.examples import by_accession
from locviz_app.server import chromium_page, open_app, predict_text, running_app, wait_for_app_idle

REPO = Path(__file__).resolve().parent.parent

DOCS = REPO / "docs"


CONTENT_HEIGHT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.scrollingElement;
  return main.scrollHeight;
}"""


def shoot(page, path: Path, width: int = 1400, max_height: int = 6000) -> None:
    """Screenshot of the whole page: Streamlit scrolls an inner element, so grow the viewport to its height."""
    wait_for_app_idle(page)
    page.wait_for_timeout(800)  # let plotly finish its transitions
    height = min(int(page.evaluate(CONTENT_HEIGHT_JS)) + 40, max_height)
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(800)  # plotly resizes charts to the new viewport
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 1100})
    print(f"wrote {path} ({width}x{height})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="folder with multiloc.json etc. (default: LOCVIZ_WEIGHTS or weights/)")
    parser.add_argument("--example", default="P07237", help="accession of the example protein to show")
    parser.add_argument("--out", default=str(DOCS), help="folder for the PNGs")
    parser.add_argument("--width", type=int, default=1400, help="browser width in pixels (the README's: 1400)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    example = by_accession(args.example)
    width = args.width
    with running_app(weights=args.weights) as url, chromium_page(width=width, height=1100) as page:
        print(f"first page interactive {open_app(page, url):.2f}s after the server answered")
        warm_up = ">warm-up\n" + by_accession("P00441").sequence  # loads the model (not part of the timing)
        predict_text(page, warm_up, timeout_ms=300_000)
        seconds = predict_text(page, example.fasta())
        print(f"{example.accession}: results shown {seconds:.2f}s after pressing Predict (browser, incl. drawing)")
        shoot(page, out / "predict.png", width)
        page.get_by_role("tab", name="First-layer filters").click()
        page.get_by_role("button", name="Open its logo").click()
        page.get_by_role("heading", name="Filter motifs").wait_for(timeout=60_000)
        # the detail logo plus the gallery (one image), or the message that the motifs file is missing
        page.locator("[data-testid='stImage']").nth(1).or_(page.get_by_text("has no motifs file")).first.wait_for(
            timeout=180_000
        )
        if page.get_by_text("has no motifs file").count():
            print("warning: the model has no motifs file yet (run `locviz motifs ...`); motifs.png shows that message")
        shoot(page, out / "motifs.png", width)
        page.get_by_role("link", name="Model card").click()  # the sidebar, as a user gets there
        page.get_by_role("heading", name="Model card", exact=False).first.wait_for(timeout=60_000)
        page.locator(".gtitle", has_text="Training curves").first.wait_for(timeout=60_000)
        shoot(page, out / "model_card.png", width)
        page.get_by_role("link", name="What if").click()  # works on the protein predicted above
        page.get_by_role("button", name="Run the scan").click(timeout=60_000)  # its most-attended 20 residues
        page.locator(".gtitle", has_text="Saturation mutagenesis").first.wait_for(timeout=300_000)
        shoot(page, out / "whatif.png", width)
    return 0


if __name__ == "__main__":
    sys.exit(main())
