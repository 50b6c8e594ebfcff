"""Training loop and evaluation for the ConvLSTM.

CPU-friendly by design: sequences are bucketed by length so a batch holds
proteins of similar size (little padding), and the model never packs
sequences (see :mod:`locviz.model`). Every epoch writes a checkpoint, so a run
stopped at any point resumes with ``resume=True`` and ends as if uninterrupted.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from locviz import batching
from locviz.batching import make_batches, to_tensors
from locviz.encoding import LengthPolicy, tokenize
from locviz.metrics import classification_report
from locviz.model import ConvLSTM, ModelConfig
from locviz.sequences import ProteinRecord


@dataclass
class TrainConfig:
    """Optimiser and schedule settings; stored in the model card."""

    epochs: int = 60
    batch_size: int = 64
    max_batch_residues: int = 40_000
    learning_rate: float = 5e-4
    weight_decay: float = 0.0
    clip_norm: float = 2.0
    patience: int = 15  # epochs without a better validation accuracy before stopping
    seed: int = 0
    max_length: int | None = 1000
    max_seconds: float | None = None  # stop before an epoch that would overrun this budget


@dataclass
class FitResult:
    model: ConvLSTM  # the weights of the best validation epoch
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_validation: dict = field(default_factory=dict)
    seconds: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode_records(records: Sequence[ProteinRecord], policy: LengthPolicy) -> list[np.ndarray]:
    """Tokens for every record after the long-sequence policy."""
    return [tokenize(policy.crop(r.sequence)[0]) for r in records]


def _checkpoint_path(out_dir: Path) -> Path:
    return out_dir / "checkpoint.pt"


def fit(
    model_config: ModelConfig,
    train_config: TrainConfig,
    token_arrays: Sequence[np.ndarray],
    labels: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    classes: Sequence[str],
    out_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> FitResult:
    """Train one ConvLSTM with early stopping on validation accuracy.

    Writes ``out_dir/train.log`` (one line per epoch), ``history.json`` and
    ``checkpoint.pt`` (model, optimiser, best weights; loaded with
    ``weights_only=True``, so nothing is unpickled).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(train_config.seed)
    model = ConvLSTM(model_config).to(device)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=train_config.learning_rate, weight_decay=train_config.weight_decay
    )
    history: list[dict] = []
    best_acc, best_epoch, best_state, best_report = -1.0, 0, None, {}
    start_epoch, seconds = 1, 0.0
    ckpt = _checkpoint_path(out_dir)
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        best_state = state["best_model"]
        history = json.loads(state["history"])
        best_acc, best_epoch = float(state["best_acc"]), int(state["best_epoch"])
        best_report = json.loads(state["best_report"])
        start_epoch, seconds = int(state["epoch"]) + 1, float(state["seconds"])
        torch.set_rng_state(state["torch_rng"].cpu())
        log(f"resumed from {ckpt} after epoch {start_epoch - 1}")
    lengths = np.array([len(t) for t in token_arrays])
    labels_t = torch.as_tensor(labels)
    log_file = open(out_dir / "train.log", "a")
    try:
        for epoch in range(start_epoch, train_config.epochs + 1):
            if epoch - best_epoch > train_config.patience and best_epoch > 0:
                log(f"early stop: no better validation accuracy since epoch {best_epoch}")
                break
            if train_config.max_seconds and history:
                mean_epoch = seconds / len(history)
                if seconds + mean_epoch > train_config.max_seconds:
                    budget = train_config.max_seconds
                    log(f"time budget: stopping after epoch {epoch - 1} ({seconds:.0f}s of {budget:.0f}s)")
                    break
            t0 = time.perf_counter()
            model.train()
            rng = np.random.default_rng(train_config.seed * 1000 + epoch)
            batches = make_batches(
                lengths[train_idx], train_config.batch_size, train_config.max_batch_residues, rng
            )
            loss_sum, n_seen, residues = 0.0, 0, 0
            bar = tqdm(batches, desc=f"epoch {epoch}/{train_config.epochs}", disable=not progress, leave=False)
            for local in bar:
                idx = train_idx[local]
                tokens, lens = to_tensors([token_arrays[i] for i in idx], device)
                target = labels_t[idx].to(device)
                out = model(tokens, lens)
                loss = F.cross_entropy(out.logits, target)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.clip_norm)
                optimiser.step()
                loss_sum += loss.item() * len(idx)
                n_seen += len(idx)
                residues += int(lens.sum())
                bar.set_postfix(loss=f"{loss_sum / n_seen:.3f}")
            train_seconds = time.perf_counter() - t0
            probs = batching.probabilities(model, [token_arrays[i] for i in val_idx], device)
            val_loss = float(
                F.nll_loss(torch.log(torch.from_numpy(probs).clamp_min(1e-8)), labels_t[val_idx]).item()
            )
            report = classification_report(labels[val_idx], probs.argmax(1), tuple(classes))
            epoch_seconds = time.perf_counter() - t0
            seconds += epoch_seconds
            row = {
                "epoch": epoch,
                "train_loss": loss_sum / max(n_seen, 1),
                "val_loss": val_loss,
                "val_accuracy": report["accuracy"],
                "val_mcc": report["gorodkin_mcc"],
                "seconds": epoch_seconds,
                "train_residues_per_s": residues / train_seconds,
            }
            history.append(row)
            improved = report["accuracy"] > best_acc
            if improved:
                best_acc, best_epoch, best_report = report["accuracy"], epoch, report
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            line = (
                f"epoch {epoch:3d} train_loss {row['train_loss']:.4f} val_loss {val_loss:.4f} "
                f"val_acc {row['val_accuracy']:.4f} val_mcc {row['val_mcc']:.4f} "
                f"{epoch_seconds:.1f}s {row['train_residues_per_s']:.0f} res/s" + (" *" if improved else "")
            )
            log(line)
            log_file.write(line + "\n")
            log_file.flush()
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "best_model": best_state,
                    "history": json.dumps(history),
                    "best_acc": best_acc,
                    "best_epoch": best_epoch,
                    "best_report": json.dumps(best_report),
                    "epoch": epoch,
                    "seconds": seconds,
                    "torch_rng": torch.get_rng_state(),
                },
                ckpt,
            )
            (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    finally:
        log_file.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, history, best_epoch, best_report, seconds)


def train_config_dict(config: TrainConfig) -> dict:
    data = asdict(config)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}
