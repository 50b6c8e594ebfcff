"""How long the what-if tools take on one long protein, and why.

Target (issue 7): a 60-residue saturation scan of a 1,000-residue protein in < 5 s on 2 CPU cores with
the shipped 4-member model. The protein is the first 1,000 residues of PARP1 (P09874, from
``locviz.examples``), so the whole of it is seen by the model; the window is the 60 residues with the
most attention. Printed: mutants, wall time, mutants per second, the time of one wild-type pass, and
the same scan with one ensemble member (what a distilled single model would cost), then an occlusion
scan and gradient attributions of the same protein.

    python benchmarks/whatif_speed.py                      # torch's default threads (2 on the project machine)
    OMP_NUM_THREADS=1 python benchmarks/whatif_speed.py    # one thread: CPU seconds = the work, whatever else runs
    python benchmarks/whatif_speed.py --device cuda        # on a GPU
    python benchmarks/whatif_speed.py --model deeploc-fast --rescore-with deeploc   # the What-if page's fast path
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import whatif  # noqa: E402
from locviz.examples import by_accession  # noqa: E402
from locviz.model import Ensemble  # noqa: E402
from locviz.predict import Predictor, load_model  # noqa: E402
from locviz.regions import top_regions  # noqa: E402
from locviz.sequences import ProteinRecord  # noqa: E402

CPU_SECONDS: list[float] = []


def timed(fn, *args, **kwargs):
    """(result, wall seconds); the CPU seconds of this process go to CPU_SECONDS (robust to other jobs)."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    CPU_SECONDS.append(time.process_time() - cpu)
    return out, time.perf_counter() - start


def cpu() -> str:
    return f"{CPU_SECONDS[-1]:.1f} CPU s"


def one_member(predictor: Predictor) -> Predictor:
    bundle = predictor.bundle
    single = replace(bundle, model=Ensemble([bundle.model.members[0]]))
    return Predictor(single, batch_size=predictor.batch_size, max_batch_residues=predictor.max_batch_residues,
                     calibrated=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="deeploc")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rescore-with", metavar="MODEL",
                        help="also time the What-if page's fast path: the scan by --model (a student, e.g. "
                        "deeploc-fast), its strongest cells re-scored by MODEL (e.g. deeploc)")  # fmt: skip
    args = parser.parse_args()
    predictor = load_model(args.model, device=args.device, batch_size=args.batch_size)
    record = ProteinRecord("P09874", by_accession("P09874").sequence[: args.length])
    wild, _ = timed(predictor.predict, [record])  # warm-up
    wild, t_wild = timed(predictor.predict, [record])
    wild = wild[0]
    region = top_regions(wild, n=1, window=args.window)[0]
    device = torch.cuda.get_device_name() if predictor.device.type == "cuda" else platform.processor() or "CPU"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before: {load} (other work on the machine slows this)")
    print(f"{args.model} ({len(predictor.bundle.model.members)} members) on {predictor.device} ({device}), "
          f"{torch.get_num_threads()} torch threads; {record.id} residues 1-{len(record)}, "
          f"window {region.start}-{region.end}")
    print("| measure | wall time | CPU time |\n| --- | --- | --- |")
    print(f"| one wild-type pass ({len(record)} aa) | {t_wild * 1000:.0f} ms | {CPU_SECONDS[-1] * 1000:.0f} ms |")
    scan, t_scan = timed(whatif.saturation_scan, predictor, record, region.start, region.end, wild=wild)
    n = int(scan.seen.sum()) * 19
    rate = n / t_scan
    print(f"| saturation scan, {args.window} positions ({n} mutants) | **{t_scan:.1f} s** ({rate:.0f} mutants/s) "
          f"| {cpu()} |")
    if args.rescore_with:
        full = load_model(args.rescore_with, device=args.device, batch_size=args.batch_size)
        full_wild = full.predict([record])[0]  # warm-up, and the page already holds the ensemble's wild type
        rescored, t_rescore = timed(whatif.rescore, scan, full, record, full_wild=full_wild)
        print(f"| + re-score the {len(rescored.rescored)} strongest cells with {args.rescore_with} | "
              f"{t_rescore:.1f} s (scan + re-score **{t_scan + t_rescore:.1f} s**) | {cpu()} |")
        print(f"\n{whatif.rescore_summary(rescored)}\n")
    single = one_member(predictor)
    wild1 = single.predict([record])[0]
    _, t_single = timed(whatif.saturation_scan, single, record, region.start, region.end, wild=wild1)
    print(f"| same scan, one member | {t_single:.1f} s | {cpu()} |")
    occ, t_occ = timed(whatif.occlusion_scan, predictor, record, wild=wild)
    windows = len(whatif.occlusion_windows(len(record), wild.seen, whatif.OCCLUSION_WINDOW, whatif.OCCLUSION_STRIDE))
    print(f"| occlusion scan, window {whatif.OCCLUSION_WINDOW} stride {whatif.OCCLUSION_STRIDE} ({windows} passes) "
          f"| {t_occ:.1f} s | {cpu()} |")
    _, t_gxi = timed(whatif.gradient_attribution, predictor, record, "gradxinput", wild=wild)
    print(f"| gradient × input | {t_gxi:.2f} s | {cpu()} |")
    _, t_ig = timed(whatif.gradient_attribution, predictor, record, "integrated_gradients", wild=wild)
    print(f"| integrated gradients, {whatif.IG_STEPS} steps | {t_ig:.1f} s | {cpu()} |")
    curve, t_curve = timed(whatif.deletion_curve, predictor, record, occ)
    print(f"| deletion curve, k = {', '.join(map(str, curve.ks))}, 5 random draws each | {t_curve:.1f} s | {cpu()} |")


if __name__ == "__main__":
    main()
