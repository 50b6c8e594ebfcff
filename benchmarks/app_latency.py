"""Time from pressing Predict to the full results in the app (model load excluded).

Two measurements, both with the model already loaded (one warm-up protein first):

* AppTest: Streamlit's test driver runs the real page script in-process; time from
  clicking Predict (text already entered) to the end of the script run that draws every
  result (probabilities, heatmap, regions, profile, filter track, downloads).
* Browser (``--browser``): ``streamlit run dashboard.py`` plus headless Chromium; time
  from the click to the attention heatmap being drawn and the app being idle again,
  i.e. what a person sees, including the websocket and plotly's drawing.
* First page (``--first-page N``, also part of ``--browser``): N fresh servers started as ``locviz app``
  starts them; for each, seconds from the health check answering to the sequence box being usable in a
  fresh headless Chromium (the model still warming in the background), and from the start to the health
  check (the imports the server does before it answers). Target: the box within 3 s.

Uses the shipped bundles in weights/ when they exist; otherwise (``--stand-in`` forces
it) an untrained bundle with the shipped architecture (4 members, BiLSTM 128, 2nd conv 128,
120 filters, 1,000-residue input), since speed depends on the shapes, not the weight values.

    python benchmarks/app_latency.py [--repeats 5] [--threads 2] [--browser] [--first-page 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from locviz.card import ModelCard  # noqa: E402
from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES  # noqa: E402
from locviz.encoding import LengthPolicy  # noqa: E402
from locviz.examples import EXAMPLES, by_accession  # noqa: E402
from locviz.model import ConvLSTM, Ensemble, ModelConfig  # noqa: E402
from locviz.weights import save_bundle  # noqa: E402

PROTEINS = [("P00441", "SOD1, 153 aa"), ("P02768", "albumin, 609 aa"), ("P09874", "PARP1, 1,013 aa")]


def stand_in_weights(folder: Path) -> Path:
    """Untrained bundles shaped like the shipped ones (see benchmarks/train_ensembles.sh)."""
    for name, classes in (("multiloc", MULTILOC_CLASSES), ("deeploc", DEEPLOC_CLASSES)):
        torch.manual_seed(0)
        config = ModelConfig(n_classes=len(classes), lstm_hidden=128, attention_hidden=128, dense_hidden=128,
                             conv2_channels=128)  # fmt: skip
        model = Ensemble([ConvLSTM(config) for _ in range(4)])
        card = ModelCard(tuple(classes), config, LengthPolicy(1000),
                         note="untrained stand-in with the shipped architecture, for timing only")  # fmt: skip
        save_bundle(folder / name, model, card)
    return folder


def apptest_times(text: str, repeats: int) -> tuple[list[float], float, float]:
    """Seconds from Predict to the finished run (per repeat), of a rerun without predicting, of opening
    the filter tab (last repeat)."""
    from streamlit.testing.v1 import AppTest

    times = []
    rerun = tab = 0.0
    for _ in range(repeats):
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=300).run()
        at.text_area(key="seq_text").input(text)
        start = time.perf_counter()
        at.button(key="predict").click().run()
        times.append(time.perf_counter() - start)
        if at.exception or at.error:
            raise RuntimeError(f"the app failed: {[e.value for e in [*at.exception, *at.error]]}")
        if not any("Attention along" in c.proto.spec for c in at.get("plotly_chart")):
            raise RuntimeError("no attention heatmap after Predict")
        start = time.perf_counter()
        at.select_slider(key="per_row").set_value(80).run()
        rerun = time.perf_counter() - start
        at.session_state["result_tab"] = "First-layer filters"
        start = time.perf_counter()
        at.run()
        tab = time.perf_counter() - start
        if not any("Filter activations" in c.proto.spec for c in at.get("plotly_chart")):
            raise RuntimeError("no filter track in the filter tab")
    return times, rerun, tab


def browser_times(weights: Path, texts: list[tuple[str, str]], repeats: int) -> list[tuple[str, float, float, float]]:
    """Per text, medians over repeats: seconds from the click to the heatmap drawn, to the last figure
    of the opened tab drawn (attention profile), and from clicking the filter tab to its track drawn.

    Each repeat renames the protein (``r0_P09874`` …) so nothing comes from the cache, and waits
    for the charts whose subtitle names the new protein.
    """
    from locviz_app.server import CHART_FOR_JS, chromium_page, predict_text, running_app, wait_for_app_idle

    out = []
    with running_app(weights=weights) as url, chromium_page() as page:
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text("locviz — where does this protein go").wait_for(timeout=120_000)
        predict_text(page, ">warm-up\n" + by_accession("P07339").sequence, timeout_ms=300_000)  # loads the model
        for label, text in texts:
            heatmap, full, tab = [], [], []
            for k in range(repeats):
                new_id = f"r{k}_{text[1:].split()[0]}"
                box = page.get_by_label("Protein sequence(s)", exact=False)
                box.fill(">" + new_id + text[text.index(" "):])
                box.press("Tab")
                wait_for_app_idle(page)
                start = time.perf_counter()
                page.get_by_role("button", name="Predict", exact=True).click()
                page.wait_for_function(CHART_FOR_JS, arg=["Attention along the sequence", new_id],
                                       timeout=120_000, polling=10)  # fmt: skip
                heatmap.append(time.perf_counter() - start)
                page.wait_for_function(CHART_FOR_JS, arg=["Attention profile", new_id],
                                       timeout=120_000, polling=10)  # fmt: skip
                full.append(time.perf_counter() - start)
                wait_for_app_idle(page)
                start = time.perf_counter()
                page.get_by_role("tab", name="First-layer filters").click()
                page.wait_for_function(CHART_FOR_JS, arg=["Filter activations", new_id],
                                       timeout=120_000, polling=10)  # fmt: skip
                tab.append(time.perf_counter() - start)
                wait_for_app_idle(page)
                page.get_by_role("tab", name="Attention along the sequence").click()
                wait_for_app_idle(page)
            out.append((label, statistics.median(heatmap), statistics.median(full), statistics.median(tab)))
    return out


def warm_up_seconds(url: str) -> float | None:
    """The server's own warm-up time, from its log line ("… warmed up on cpu in 4.2 s")."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"locviz-streamlit-{url.rsplit(':', 1)[1]}.log"
    found = re.search(r"warmed up on \S+ in ([0-9.]+) s", log.read_text())
    return float(found.group(1)) if found else None


def first_page_times(weights: Path, repeats: int) -> list[tuple[float, float]]:
    """Per fresh server: (seconds from starting it to its health check answering, seconds from then to the
    sequence box shown and editable in a fresh Chromium page). The browser is launched before the server."""
    from locviz_app.server import chromium_page, running_app

    out = []
    for _ in range(repeats):
        with chromium_page() as page:
            start = time.perf_counter()
            with running_app(weights=weights) as url:
                healthy = time.perf_counter()
                page.goto(url, wait_until="domcontentloaded")
                box = page.get_by_label("Protein sequence(s)", exact=False)
                box.wait_for(state="visible", timeout=120_000)
                if not box.is_editable():
                    raise RuntimeError("the sequence box is shown but not editable")
                out.append((healthy - start, time.perf_counter() - healthy))
    return out


def print_first_page(weights: Path, repeats: int) -> None:
    times = first_page_times(weights, repeats)
    to_box = [b for _, b in times]
    print(f"\n| first page (fresh server and Chromium, {repeats} times) | median | max |\n| --- | --- | --- |")
    print(f"| locviz app started → health check answers | {statistics.median(a for a, _ in times):.2f} s | "
          f"{max(a for a, _ in times):.2f} s |")  # fmt: skip
    print(f"| health check → sequence box usable (model warming in the background) | {statistics.median(to_box):.2f} s "
          f"| {max(to_box):.2f} s |")  # fmt: skip


def long_protein_text(length: int = 20_000) -> str:
    """A FASTA record of ``length`` residues: the example proteins end to end, repeated (real composition)."""
    joined = "".join(e.sequence for e in EXAMPLES)
    return f">long_{length}\n" + (joined * (length // len(joined) + 1))[:length] + "\n"


HEATMAP_ROWS_JS = """() => { const c = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .find(c => (c.querySelector('.gtitle') || {}).textContent?.startsWith('Attention along'));
  return c ? c.querySelectorAll('.yaxislayer-above .ytick').length : -1; }"""
PAGE_HEIGHT_JS = """() => (document.querySelector('[data-testid="stMain"]')
  || document.scrollingElement).scrollHeight"""


def long_protein_times(weights: Path, repeats: int, length: int = 20_000) -> tuple[float, int, int]:
    """Median seconds from Predict to every result of a ``length``-residue protein drawn (the model sees its first
    and last 500), the page's height in pixels and the heatmap's number of rows."""
    from locviz_app.server import chromium_page, open_app, predict_text, running_app

    text = long_protein_text(length)
    times = []
    with running_app(weights=weights) as url, chromium_page() as page:
        open_app(page, url)
        predict_text(page, ">warm-up\n" + by_accession("P07339").sequence, timeout_ms=300_000)
        for k in range(repeats):
            times.append(predict_text(page, text.replace(">long_", f">r{k}_long_", 1), timeout_ms=300_000))
        height = int(page.evaluate(PAGE_HEIGHT_JS))
        rows = int(page.evaluate(HEATMAP_ROWS_JS))
    return statistics.median(times), height, rows


def cold_start_times(weights: Path, text: str, repeats: int) -> tuple[float, float, float, float | None]:
    """A fresh server, as ``locviz app`` starts it. Seconds from its health check answering to the first page
    being interactive; from pressing Predict the moment the page is interactive to the results drawn (the first
    prediction); the median of ``repeats`` later predictions (the protein renamed each time, so nothing comes
    from a cache); and the server's own warm-up time."""
    from locviz_app.server import chromium_page, open_app, predict_text, running_app

    name, rest = text[1:].split(maxsplit=1)
    with chromium_page() as page, running_app(weights=weights) as url:
        first_page = open_app(page, url)
        first = predict_text(page, f">cold_{name} {rest}", timeout_ms=300_000)
        later = [predict_text(page, f">again{k}_{name} {rest}") for k in range(repeats)]
        warm = warm_up_seconds(url)
    return first_page, first, statistics.median(later), warm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads (the target is 2 cores)")
    parser.add_argument("--stand-in", action="store_true", help="time the untrained stand-in even if weights exist")
    parser.add_argument("--browser", action="store_true", help="also measure in headless Chromium")
    parser.add_argument(
        "--long-protein", action="store_true",
        help="only a 20,000-residue protein in Chromium: Predict → drawn, page height, heatmap rows",
    )  # fmt: skip
    parser.add_argument(
        "--first-page", type=int, default=0, metavar="N",
        help="only the first page: N fresh servers, health check → sequence box (no AppTest runs)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the browser run's server process
    tmp = tempfile.TemporaryDirectory()
    shipped = REPO / "weights"
    if (shipped / "multiloc.json").is_file() and not args.stand_in:
        weights, what = shipped, "shipped weights/"
    else:
        weights, what = stand_in_weights(Path(tmp.name)), "untrained stand-in with the shipped architecture"
    os.environ["LOCVIZ_WEIGHTS"] = str(weights)
    if args.long_protein:
        seconds, height, rows = long_protein_times(weights, args.repeats)
        print(f"# long protein: 20,000 residues (the model sees the first and last 500), median of {args.repeats}")
        print(f"| Predict → every result drawn | page height | heatmap rows |\n| --- | --- | --- |\n"
              f"| {seconds:.2f} s | {height:,} px | {rows} |")  # fmt: skip
        tmp.cleanup()
        return 0
    if args.first_page:
        print(f"# first page: {os.cpu_count()} CPUs, {args.threads} threads; weights: {what}")
        print_first_page(weights, args.first_page)
        tmp.cleanup()
        return 0

    print("# app latency: Predict pressed → full results (model load excluded), model multiloc on CPU")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads; weights: {what}")  # fmt: skip
    start = time.perf_counter()
    apptest_times(EXAMPLES[4].fasta(), 1)  # loads and warms the model
    print(f"# model load + warm-up + first run: {time.perf_counter() - start:.2f} s (not counted below)\n")
    print(f"| input | AppTest: Predict → results drawn (median / max of {args.repeats}) | rerun without "
          "predicting | open the filter tab |")  # fmt: skip
    print("| --- | --- | --- | --- |")
    inputs = [(label, by_accession(acc).fasta()) for acc, label in PROTEINS]
    inputs.append(("all 8 examples (one FASTA)", "".join(e.fasta() for e in EXAMPLES)))
    for label, text in inputs:
        times, rerun, tab = apptest_times(text, args.repeats)
        print(f"| {label} | {statistics.median(times):.3f} s / {max(times):.3f} s | {rerun:.3f} s | {tab:.3f} s |")

    if args.browser:
        print_first_page(weights, args.repeats)
        first_page, first, later, warm = cold_start_times(weights, by_accession("P02768").fasta(), args.repeats)
        print("\n| cold start (Chromium, fresh server, albumin 609 aa) | seconds |\n| --- | --- |")
        print(f"| health check → first page interactive | {first_page:.2f} |")
        warm_text = f"{warm:.1f}" if warm is not None else "not logged"
        print(f"| server warm-up in the background (model, first forward, figures, reference) | {warm_text} |")
        print(f"| first Predict (pressed as soon as the page is interactive) → results drawn | {first:.2f} |")
        print(f"| later Predicts → results drawn (median of {args.repeats}) | {later:.2f} |")
        texts = [(label, by_accession(acc).fasta()) for acc, label in PROTEINS]
        print(f"\n| input (Chromium, median of {args.repeats}) | Predict → heatmap drawn | Predict → whole "
              "attention view drawn | filter tab click → track drawn |")  # fmt: skip
        print("| --- | --- | --- | --- |")
        for label, drawn, full, tab in browser_times(weights, texts, args.repeats):
            print(f"| {label} | {drawn:.3f} s | {full:.3f} s | {tab:.3f} s |")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
