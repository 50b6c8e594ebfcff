"""How long the Filter motifs page takes to draw (Streamlit AppTest, shipped weights).

The model is loaded first (the Predict page's first run; not counted). Then, per repeat,
with the logo image cache emptied (``st.cache_data.clear()``: what a fresh server process
sees) and a new session:

* cold: switching to the motifs page until its script run ends (table, the chosen filter's
  logo, one gallery page drawn as one image, known-motif matches);
* rerun: the same page again (every logo served from the cache);
* sort: choosing another sort (table re-ordered, the top filter opens, its logo drawn);
* next page: the gallery's second page (one more grid image).

Medians over the repeats, plus the first cold run of the process (which also reads the
motifs file), as wall time and as this process's CPU time (the page draws on one thread, so
on a machine busy with other work the CPU time is what an idle machine would take; AppTest's
own polling adds a little). Target: the page draws in < 2 s.

    python benchmarks/motifs_page.py [--model multiloc] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402
import torch  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

MOTIFS_PAGE = "pages/motifs.py"


def timed(action) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a busy machine the CPU time is what an idle one would take."""
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu


def check(at: AppTest) -> None:
    problems = [e.value for e in [*at.exception, *at.error]]
    if problems:
        raise RuntimeError(f"the motifs page failed: {problems}")
    if not at.image:
        raise RuntimeError("the motifs page drew no logo")


def one_repeat(model: str) -> dict[str, tuple[float, float]]:
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=300).run()
    if model != "multiloc":
        at.selectbox(key="model_name_pick").select(model).run()
    at.switch_page(MOTIFS_PAGE)
    out = {"cold": timed(at.run)}
    check(at)
    out["rerun"] = timed(at.run)
    sort = at.selectbox(key="motif_sort")
    sort.select(sort.options[1])
    out["sort"] = timed(at.run)
    check(at)
    at.pagination(key="logo_page").select(2)
    out["next page"] = timed(at.run)
    check(at)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="multiloc", choices=("multiloc", "deeploc"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    start = time.perf_counter()
    AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=300).run()  # loads and warms the model
    load = time.perf_counter() - start
    runs = [one_repeat(args.model) for _ in range(args.repeats)]
    print(
        f"motifs page, model {args.model}, AppTest, {args.repeats} repeats, torch threads {args.threads}, "
        f"load average {os.getloadavg()[0]:.1f} (model load + first Predict page run, not counted: {load:.1f} s)"
    )
    print("| measure | first (wall) | median (wall) | max (wall) | median CPU time |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for key in runs[0]:
        wall = [r[key][0] for r in runs]
        cpu = [r[key][1] for r in runs]
        print(f"| {key} | {wall[0]:.2f} s | {statistics.median(wall):.2f} s | {max(wall):.2f} s | "
              f"{statistics.median(cpu):.2f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
