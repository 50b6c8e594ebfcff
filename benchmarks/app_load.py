"""Load: N app sessions (browser tabs, default 20) press Predict at once; all must finish without an error.

One server, started as ``locviz app`` starts it (model warmed in the background), and
one headless Chromium with N separate browser contexts, i.e. N independent users, each
with its own Streamlit session. Every session opens the Predict page, pastes a different
real protein (the 8 app examples in turn, each renamed so no session shares another's
cached run), and all press Predict together. For each session: seconds from its click to
its full results drawn (the attention heatmap of *its* protein, every download button, no
stale element). A session fails when it shows an exception, an error box or a traceback,
or when its results do not arrive within ``--timeout`` seconds.

    python benchmarks/app_load.py [--sessions 20] [--timeout 300] [--threads 2]

Prints p50 / p95 / max of the time to results and the number of failed sessions
(exit status 1 when any failed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from locviz.examples import EXAMPLES  # noqa: E402
from locviz_app.server import (  # noqa: E402
    CHROMIUM_ARGS,
    RESULTS_SHOWN_JS,
    chromium_path,
    running_app,
)

PROBLEMS_JS = """() => [...document.querySelectorAll(
  '[data-testid="stException"], [data-testid="stAlertContentError"]')].map(e => e.textContent.slice(0, 200))
  .concat(document.body.innerText.includes('Traceback') ? ['Traceback on the page'] : [])"""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between order statistics."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def one_session(
    browser, url: str, k: int, ready: list[int], start_line: asyncio.Event, timeout_s: float
) -> tuple[float, str]:
    """Open the app, paste protein k, wait for everyone, press Predict; (seconds to results, problem or '')."""
    example = EXAMPLES[k % len(EXAMPLES)]
    record_id = f"s{k:02d}_{example.accession}"
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        await page.goto(url, wait_until="domcontentloaded")
        button = page.get_by_role("button", name="Predict", exact=True)
        await button.wait_for(timeout=timeout_s * 1000)
        box = page.get_by_label("Protein sequence(s)", exact=False)
        await box.fill(example.fasta().replace(f">{example.accession}", f">{record_id}", 1))
        await box.press("Tab")
        await page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')",
                                     timeout=timeout_s * 1000)  # fmt: skip
        ready.append(k)
        await start_line.wait()
        start = time.perf_counter()
        await button.click()
        try:
            await page.wait_for_function(RESULTS_SHOWN_JS, arg=record_id, timeout=timeout_s * 1000, polling=50)
        except Exception as exc:  # a timeout: say what the page shows instead
            problems = await page.evaluate(PROBLEMS_JS)
            return time.perf_counter() - start, f"no results ({type(exc).__name__}); page shows {problems[:3]}"
        seconds = time.perf_counter() - start
        problems = await page.evaluate(PROBLEMS_JS)
        return seconds, "; ".join(problems)
    finally:
        await context.close()


async def load_test(url: str, sessions: int, timeout_s: float) -> list[tuple[float, str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            start_line, ready = asyncio.Event(), []
            tasks = [
                asyncio.create_task(one_session(browser, url, k, ready, start_line, timeout_s)) for k in range(sessions)
            ]
            deadline = time.monotonic() + timeout_s
            # every session waits at the start line with its page idle and its text in the box
            while len(ready) + sum(t.done() for t in tasks) < sessions and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            start_line.set()
            return await asyncio.gather(*tasks)
        finally:
            await browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions predicting at once (default 20)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each session may wait (default 300)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads of the server (default 2)")
    parser.add_argument("--weights", help="model folder (default: LOCVIZ_WEIGHTS or the shipped weights)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    print(f"# app load: {args.sessions} sessions press Predict at once; one server, headless Chromium")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, server threads {args.threads}; "
          f"proteins: the {len(EXAMPLES)} app examples in turn (153-1,013 aa), each session its own id")  # fmt: skip
    with running_app(weights=args.weights) as url:
        results = asyncio.run(load_test(url, args.sessions, args.timeout))
    seconds = [s for s, problem in results if not problem]
    failed = [(k, problem) for k, (_, problem) in enumerate(results) if problem]
    print("\n| sessions | completed | failed | p50 to results | p95 to results | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    if seconds:
        print(f"| {args.sessions} | {len(seconds)} | {len(failed)} | {percentile(seconds, 50):.2f} s | "
              f"{percentile(seconds, 95):.2f} s | {max(seconds):.2f} s |")  # fmt: skip
        print(f"\nmean {statistics.mean(seconds):.2f} s; per session: " + ", ".join(f"{s:.1f}" for s in seconds))
    else:
        print(f"| {args.sessions} | 0 | {len(failed)} | - | - | - |")
    for k, problem in failed:
        print(f"session {k}: {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
