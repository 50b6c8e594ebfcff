"""How far the shipped filter logos stand above chance.

Every logo is built from at most 100 windows, so even random columns carry bits: the reference proteins'
composition is not uniform and 100 residues spread unevenly. ``MotifSet.chance`` is what a column of as many
random windows of the reference proteins reaches (mean, and the 95th percentile the logos draw as a dashed
line). This prints, per shipped model, that level and how many logo columns rise above it, in all filters and
in the wide ones (width >= 9, where a weak motif would show as a few strong columns among noise).

    python benchmarks/logo_chance.py [--models multiloc deeploc multiloc-fast deeploc-fast]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import motifs  # noqa: E402
from locviz.predict import load_model  # noqa: E402

WIDE = 9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["multiloc", "deeploc", "multiloc-fast", "deeploc-fast"])
    args = parser.parse_args(argv)
    print("| model | windows | chance: mean / 95th percentile (bits per column) | columns above | "
          f"filters of width >= {WIDE} with fewer than half their columns above |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.models:
        motif_set = motifs.load_bundle_motifs(load_model(name, device="cpu").bundle)
        fired = [m for m in motif_set.motifs if m.top_windows]
        if motif_set.background is None or not fired:
            print(f"| {name} | - | no background composition or no filter fired | - | - |")
            continue
        above = sum(motif_set.columns_above_chance(m) for m in fired)
        columns = sum(m.width for m in fired)
        wide = [m for m in fired if m.width >= WIDE]
        weak = sum(motif_set.columns_above_chance(m) < m.width / 2 for m in wide)
        windows = sorted({len(m.top_windows) for m in fired})
        chance = motif_set.chance(max(fired, key=lambda m: len(m.top_windows)))
        print(f"| {name} | {windows[0]}–{windows[-1]} | {chance.mean_bits:.2f} / {chance.upper_bits:.2f} "
              f"({chance.n_windows} windows) | {above:,} of {columns:,} ({above / columns:.0%}) | "
              f"{weak} of {len(wide)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
