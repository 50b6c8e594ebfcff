"""How long static export takes: shared browser (locviz.export) vs one-shot kaleido (plotly's to_image).

Run: ``python benchmarks/export_speed.py [--repeats 5]``. Needs Chromium (``apt-get install chromium``).
Figures are built from synthetic predictions so no model is needed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from locviz import export, figures
from locviz.datasets import MULTILOC_CLASSES
from locviz.motifs import FilterMotif
from locviz.prediction import Prediction
from locviz.sequences import STANDARD_RESIDUES


def synthetic_prediction(length: int, seen_upto: int, seed: int = 0) -> Prediction:
    rng = np.random.default_rng(seed)
    seen = np.arange(length) < seen_upto
    attention = np.where(seen, rng.gamma(0.5, size=length), np.nan)
    attention /= np.nansum(attention)
    acts = np.where(seen, rng.random((60, length)), np.nan)
    members = rng.dirichlet(np.ones(len(MULTILOC_CLASSES)), size=4)
    sequence = "".join(rng.choice(list(STANDARD_RESIDUES), length))
    classes = list(MULTILOC_CLASSES)
    return Prediction("P12345", sequence, classes, members.mean(0), attention, seen, "multiloc", members, acts, 0)


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    short, long_ = synthetic_prediction(400, 400), synthetic_prediction(3000, 1000, seed=1)
    rng = np.random.default_rng(2)
    motif = FilterMotif(3, 9, rng.dirichlet(np.ones(20) * 0.3, size=9), 10.0, [], [], {})
    cases = {
        "probability bar": figures.probability_bar(short),
        "attention heatmap 400 aa": figures.attention_heatmap(short),
        "attention heatmap 3000 aa": figures.attention_heatmap(long_),
        "attention profile 3000 aa": figures.attention_profile(long_),
        "filter track 30 x 400": figures.filter_track(short),
        "sequence logo (matplotlib)": figures.sequence_logo(motif),
    }

    export.close_browser()
    start = time.perf_counter()
    export.start_browser()
    print(f"browser start (once per process): {time.perf_counter() - start:.2f} s")
    print(f"{'figure':<30}" + "".join(f"{fmt:>9}" for fmt in export.FORMATS) + "   (median s, shared browser)")
    for name, fig in cases.items():
        cells = [timed(lambda f=fig, x=fmt: export.figure_bytes(f, x), args.repeats) for fmt in export.FORMATS]
        print(f"{name:<30}" + "".join(f"{t:>9.3f}" for t in cells))

    one_shot = cases["probability bar"]
    t = timed(lambda: one_shot.to_image(format="png", scale=2), max(2, args.repeats // 2))
    print(f"one-shot kaleido (plotly to_image, new browser per call), probability bar png: {t:.2f} s")


if __name__ == "__main__":
    main()
