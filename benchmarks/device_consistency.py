"""CUDA against CPU: do the shipped models give the same answers on both devices?

Needs a machine with a CUDA GPU. Predicts the first ``--n`` proteins of MultiLoc's
fold 1 (a training/validation fold) with each shipped model on ``cuda`` and on
``cpu`` and prints the largest probability and attention differences, the label
agreement and the GPU throughput. The figures quoted in weights/README.md
(same labels, max probability difference 1.4e-4 over 200 proteins) come from it,
run on an NVIDIA H100.

    python benchmarks/device_consistency.py --data ../shared/data/multiloc --n 200
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locviz.datasets import load_multiloc  # noqa: E402
from locviz.predict import load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/multiloc")
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("device_consistency: PyTorch sees no CUDA GPU; run this on a GPU machine")
    data = load_multiloc(args.data)
    records = [data.records[i] for i in data.subset([1])[: args.n]]
    print(f"{torch.cuda.get_device_name()}; {len(records)} MultiLoc fold-1 proteins")
    for name in ("multiloc", "deeploc"):
        gpu, cpu = load_model(name, device="cuda"), load_model(name, device="cpu")
        t0 = time.perf_counter()
        on_gpu = gpu.predict(records, with_filters=True)
        seconds = time.perf_counter() - t0
        on_cpu = cpu.predict(records, with_filters=True)
        dp = max(float(np.abs(a.probabilities - b.probabilities).max()) for a, b in zip(on_gpu, on_cpu, strict=True))
        da = max(float(np.nanmax(np.abs(a.attention - b.attention))) for a, b in zip(on_gpu, on_cpu, strict=True))
        agree = np.mean([a.label == b.label for a, b in zip(on_gpu, on_cpu, strict=True)])
        print(
            f"{name}: max |p_cuda - p_cpu| {dp:.2e}, max |attention diff| {da:.2e}, "
            f"label agreement {agree:.3f}, cuda {len(records) / seconds:.0f} proteins/s"
        )


if __name__ == "__main__":
    main()
