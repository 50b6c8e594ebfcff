"""Training throughput on this machine: residues/s and the estimated time per epoch.

Runs ``--batches`` real training steps (forward, backward, Adam) of the shipped
model's architecture on each data set's training folds, bucketed exactly as
``locviz train`` does, and extrapolates to a full epoch.

    python benchmarks/train_speed.py --data-root ../shared/data --batches 30
    python benchmarks/train_speed.py --batches 20 --repeats 3 --compare-torch-dropout --datasets deeploc
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


def timed_steps(model: ConvLSTM, batches: list, tokens: list, labels: torch.Tensor, device: torch.device) -> float:
    """Residues per second over ``batches`` (forward, backward, Adam), the first step not counted."""
    optimiser = torch.optim.Adam(model.parameters(), lr=TrainConfig().learning_rate)
    seconds, residues = 0.0, 0
    for i, idx in enumerate(batches):
        t0 = time.perf_counter()
        x, lens = to_tensors([tokens[j] for j in idx], device)
        loss = F.cross_entropy(model(x, lens).logits, labels[idx].to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if i > 0:  # the first step pays one-off allocation costs
            seconds += time.perf_counter() - t0
            residues += int(lens.sum())
    return residues / seconds


def measure(dataset: str, data_root: Path, n_batches: int, device: torch.device, modes: tuple[bool, ...],
            repeats: int) -> list[dict]:  # fmt: skip
    """One row per mode (``True``: ``nn.Dropout``): the median rate over ``repeats`` passes, modes interleaved."""
    bundle = load_bundle(dataset, device="cpu")
    data = load_dataset(dataset, data_root / dataset)
    folds = [f for f in sorted(set(data.folds.tolist())) if f != TEST_FOLD.get(dataset)]
    train_idx = data.subset(folds[1:])  # as one ensemble member: every non-test fold but one
    tokens = encode_records([data.records[i] for i in train_idx], LengthPolicy(bundle.length_policy.max_length))
    lengths = np.array([len(t) for t in tokens])
    config = TrainConfig()
    batches = make_batches(lengths, config.batch_size, config.max_batch_residues, np.random.default_rng(0))
    labels = torch.as_tensor(data.labels[train_idx])
    rates: dict[bool, list[float]] = {mode: [] for mode in modes}
    for _ in range(repeats):
        for torch_dropout in modes:  # interleaved, so a change in the machine's load hits both alike
            torch.manual_seed(0)
            model = ConvLSTM(bundle.config).to(device).train()
            if torch_dropout:
                use_torch_dropout(model)
            rates[torch_dropout].append(timed_steps(model, batches[: n_batches + 1], tokens, labels, device))
    return [{
        "dataset": dataset + (" (nn.Dropout)" if mode else ""), "train proteins": len(train_idx),
        "train residues": int(lengths.sum()), "residues/s": float(np.median(r)), "spread": (min(r), max(r)),
        "est. s/epoch": lengths.sum() / float(np.median(r)),
    } for mode, r in rates.items()]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1, help="passes over the batches; the median is printed")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--datasets", nargs="+", default=["multiloc", "deeploc"], choices=["multiloc", "deeploc"])
    parser.add_argument("--compare-torch-dropout", action="store_true", help="also measure with torch.nn.Dropout")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; shipped architecture; "
          f"median of {args.repeats} pass(es) of {args.batches} batches")  # fmt: skip
    print(f"{'data set':<24}{'proteins':>10}{'residues':>12}{'residues/s':>12}{'min-max':>16}{'s/epoch':>10}")
    modes = (False, True) if args.compare_torch_dropout else (False,)
    for dataset in args.datasets:
        for row in measure(dataset, args.data_root, args.batches, device, modes, args.repeats):
            low, high = row["spread"]
            print(
                f"{row['dataset']:<24}{row['train proteins']:>10}{row['train residues']:>12}"
                f"{row['residues/s']:>12.0f}{f'{low:.0f}-{high:.0f}':>16}{row['est. s/epoch']:>10.0f}"
            )


if __name__ == "__main__":
    main()
