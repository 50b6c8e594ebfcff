"""Training throughput on this machine: residues/s and the estimated time per epoch.

Runs ``--batches`` real training steps (forward, backward, Adam) of the shipped
model's architecture on each data set's training folds, bucketed exactly as
``locviz train`` does, and extrapolates to a full epoch.

    python benchmarks/train_speed.py --data-root ../shared/data --batches 30
    python benchmarks/train_speed.py --batches 20 --compare-torch-dropout   # locviz.model.Dropout vs nn.Dropout
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz.batching import make_batches, to_tensors  # noqa: E402
from locviz.datasets import TEST_FOLD, load_dataset  # noqa: E402
from locviz.encoding import LengthPolicy  # noqa: E402
from locviz.model import ConvLSTM  # noqa: E402
from locviz.train import TrainConfig, encode_records  # noqa: E402
from locviz.weights import load_bundle  # noqa: E402


def use_torch_dropout(model: ConvLSTM) -> None:
    """Swap locviz's ``Dropout`` for ``torch.nn.Dropout`` (same p), to measure what it saves."""
    model.input_dropout = torch.nn.Dropout(model.input_dropout.p)
    model.hidden_dropout = torch.nn.Dropout(model.hidden_dropout.p)


def measure(dataset: str, data_root: Path, n_batches: int, device: torch.device, torch_dropout: bool = False) -> dict:
    bundle = load_bundle(dataset, device="cpu")
    data = load_dataset(dataset, data_root / dataset)
    folds = [f for f in sorted(set(data.folds.tolist())) if f != TEST_FOLD.get(dataset)]
    train_idx = data.subset(folds[1:])  # as one ensemble member: every non-test fold but one
    tokens = encode_records([data.records[i] for i in train_idx], LengthPolicy(bundle.length_policy.max_length))
    lengths = np.array([len(t) for t in tokens])
    config = TrainConfig()
    batches = make_batches(lengths, config.batch_size, config.max_batch_residues, np.random.default_rng(0))
    torch.manual_seed(0)
    model = ConvLSTM(bundle.config).to(device).train()
    if torch_dropout:
        use_torch_dropout(model)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    labels = torch.as_tensor(data.labels[train_idx])
    seconds, residues = 0.0, 0
    for i, idx in enumerate(batches[: n_batches + 1]):
        t0 = time.perf_counter()
        x, lens = to_tensors([tokens[j] for j in idx], device)
        loss = F.cross_entropy(model(x, lens).logits, labels[idx].to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if i > 0:  # the first step pays one-off allocation costs
            seconds += time.perf_counter() - t0
            residues += int(lens.sum())
    rate = residues / seconds
    return {
        "dataset": dataset + (" (nn.Dropout)" if torch_dropout else ""),
        "train proteins": len(train_idx),
        "train residues": int(lengths.sum()),
        "residues/s": rate,
        "est. s/epoch": lengths.sum() / rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--datasets", nargs="+", default=["multiloc", "deeploc"], choices=["multiloc", "deeploc"])
    parser.add_argument("--compare-torch-dropout", action="store_true", help="also measure with torch.nn.Dropout")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; shipped architecture")
    print(f"{'data set':<24}{'proteins':>10}{'residues':>12}{'residues/s':>12}{'s/epoch':>10}")
    modes = (False, True) if args.compare_torch_dropout else (False,)
    for dataset in args.datasets:
        for torch_dropout in modes:
            row = measure(dataset, args.data_root, args.batches, device, torch_dropout)
            print(
                f"{row['dataset']:<24}{row['train proteins']:>10}{row['train residues']:>12}"
                f"{row['residues/s']:>12.0f}{row['est. s/epoch']:>10.0f}"
            )


if __name__ == "__main__":
    main()
