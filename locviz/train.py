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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from locviz import batching, cpu
from locviz.batching import make_batches, to_tensors
from locviz.distill import distillation_loss
from locviz.encoding import LengthPolicy, tokenize
from locviz.metrics import classification_report
from locviz.model import ConvLSTM, Ensemble, ModelConfig
from locviz.sequences import ProteinRecord
from locviz.supervision import (
    AttentionTarget,
    Deletion,
    Insertion,
    attention_loss,
    deletion_loss,
    residue_auroc,
)


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
    schedule: str = "constant"  # or "cosine": learning rate decays to min_lr over ``epochs`` (fine-tunes)
    min_learning_rate: float = 0.0
    label_smoothing: float = 0.0
    logit_adjustment: float = 0.0  # tau of Menon et al. 2021: loss on logits + tau * log(class prior)
    attention_weights: dict[str, float] = field(default_factory=dict)  # signal type -> supervision weight
    deletion_weights: dict[str, float] = field(default_factory=dict)  # signal type -> weight of its deleted copies
    insertion_weights: dict[str, float] = field(default_factory=dict)  # signal type -> weight of signal-added copies
    insertion_donors: int = 300  # donor proteins per inserted signal type (a seeded sample)
    average_last: int = 0  # >0: the result is the mean of the last N epochs' weights (SWA), not the best epoch
    distill_weight: float = 1.0  # with soft_targets: share of the loss that follows the teacher (rest: labels)


class Paused(Exception):
    """Training stopped at an epoch boundary for a :class:`Deadline`; the checkpoint holds ``epoch``."""

    def __init__(self, epoch: int):
        super().__init__(f"paused after epoch {epoch}")
        self.epoch = epoch


@dataclass(frozen=True)
class Deadline:
    """When training must have stopped (``time.time()`` seconds), and what the estimate of an epoch rests on."""

    at: float
    epoch_estimate: float  # seconds, until this process has timed an epoch of its own
    after_last_epoch: float = 0.0  # seconds the last epoch needs beyond itself (shipping the finished run)

    def passed_before(self, epoch: int, history: Sequence[dict], epochs: int) -> bool:
        """Whether ``epoch`` (and, for the last one, what follows it) would end after the deadline."""
        recent = [row["seconds"] for row in history[-3:]]
        needed = float(np.median(recent)) if recent else self.epoch_estimate
        needed += self.after_last_epoch if epoch == epochs else 0.0
        return time.time() + needed > self.at


@dataclass
class FitResult:
    model: ConvLSTM  # the best validation epoch's weights, or the average of the last epochs (average_last)
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0  # with average_last: the last epoch (the average ends there)
    best_validation: dict = field(default_factory=dict)  # classification report of the returned weights
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


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (1-based): constant, or a cosine from ``learning_rate`` to ``min_learning_rate``."""
    if config.schedule == "constant":
        return config.learning_rate
    if config.schedule == "cosine":
        progress = (epoch - 1) / max(config.epochs - 1, 1)
        low = config.min_learning_rate
        return low + 0.5 * (config.learning_rate - low) * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown learning-rate schedule {config.schedule!r}; use 'constant' or 'cosine'")


def class_log_prior(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """log of each class's share of ``labels`` (one pseudo-count each, so an absent class stays finite)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64) + 1.0
    return torch.from_numpy(np.log(counts / counts.sum())).float()


def validation_attention(
    model: ConvLSTM,
    token_arrays: Sequence[np.ndarray],
    targets: Mapping[int, AttentionTarget],
    device: torch.device,
) -> dict[str, float]:
    """Median per-protein attention AUROC on the annotated signal, per signal type (``auroc_<kind>``)."""
    if not targets:
        return {}
    keys = sorted(targets)
    scores: dict[str, list[float]] = {}
    for idx, result in batching.run(model, [token_arrays[k] for k in keys], device):
        for row, j in enumerate(idx):
            target = targets[keys[int(j)]]
            attention = result.attention[row, : len(target.mask)]
            value = residue_auroc(attention, target.mask)
            for kind in target.kinds:
                scores.setdefault(kind, []).append(value)
    return {f"auroc_{kind}": float(np.nanmedian(v)) for kind, v in sorted(scores.items())}


DELETION_DROP = 0.05
"""A C-terminal signal's deletion "moves the call" when P(class) falls by more than this (issue 12, item 3)."""


def validation_deletion(
    model: ConvLSTM,
    token_arrays: Sequence[np.ndarray],
    labels: np.ndarray,
    deletions: Mapping[int, Sequence[Deletion]],
    device: torch.device,
) -> dict[str, float]:
    """Per signal type, the share of deletions that move the call (``deletion_<kind>``).

    A signal peptide's deletion moves it when a protein called its own class before is not called it after
    (proteins called wrong to begin with are left out: their call cannot leave the class); a PTS1's or an
    ER retention signal's when P(class) falls by more than :data:`DELETION_DROP`. The population is every
    validation protein of a class the signal routes to (``build_deletions(..., training=False)``), so it is
    wider than ``benchmarks/attention_signals.py``'s (signal peptides of Extracellular proteins only).
    """
    if not deletions:
        return {}
    keys = sorted(deletions)
    before = batching.probabilities(model, [token_arrays[k] for k in keys], device)
    pairs = [(row, d) for row, k in enumerate(keys) for d in deletions[k]]
    after = batching.probabilities(model, [d.tokens for _, d in pairs], device)
    moved: dict[str, list[bool]] = {}
    for (row, d), p in zip(pairs, after, strict=True):
        y = int(labels[keys[row]])
        if d.kind == "signal_peptide":
            if int(before[row].argmax()) != y:
                continue
            hit = int(p.argmax()) != y
        else:
            hit = before[row, y] - p[y] > DELETION_DROP
        moved.setdefault(d.kind, []).append(bool(hit))
    return {f"deletion_{kind}": float(np.mean(v)) for kind, v in sorted(moved.items())}


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
    init_state: Mapping[str, torch.Tensor] | None = None,
    attention_targets: Mapping[int, AttentionTarget] | None = None,
    validation_targets: Mapping[int, AttentionTarget] | None = None,
    soft_targets: np.ndarray | None = None,
    deletions: Mapping[int, Sequence[Deletion]] | None = None,
    validation_deletions: Mapping[int, Sequence[Deletion]] | None = None,
    insertions: Mapping[int, Sequence[Insertion]] | None = None,
    stop_at: Deadline | None = None,
) -> FitResult:
    """Train one ConvLSTM: early stopping on validation accuracy, or weight averaging (``average_last``).

    ``init_state`` warm-starts from a trained member's weights (with a fresh optimiser);
    ``attention_targets`` (data index → target, training proteins only) adds the signal-supervision term
    of :mod:`locviz.supervision`; ``validation_targets`` only measures attention on validation proteins;
    ``soft_targets`` (N, C) trains a student on a teacher's probabilities (:mod:`locviz.distill`);
    ``deletions`` (training proteins only) adds the unlikelihood of each signal-deleted copy's class,
    times its signal type's ``deletion_weights``, counted in the batch mean like the attention term;
    ``validation_deletions`` only measures whether deleting a signal moves the call; ``insertions``
    (training proteins only) adds the cross-entropy of each signal-added copy toward its new class,
    times ``insertion_weights``, counted the same way.
    Writes ``out_dir/train.log`` (one line per epoch), ``history.json`` and ``checkpoint.pt`` (model,
    optimiser, best or averaged weights; loaded with ``weights_only=True``, so nothing is unpickled).
    ``stop_at``: raise :class:`Paused` at the first epoch boundary where the next epoch would end after the
    deadline (the checkpoint then holds every finished epoch, and ``resume`` goes on from it).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(train_config.seed)
    model = ConvLSTM(model_config).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=train_config.learning_rate, weight_decay=train_config.weight_decay
    )
    targets = dict(attention_targets or {})
    log_prior = class_log_prior(labels[train_idx], len(classes)).to(device)
    history: list[dict] = []
    best_acc, best_epoch, best_state, best_report = -1.0, 0, None, {}
    averaged, n_averaged = None, 0
    start_epoch, seconds = 1, 0.0
    ckpt = _checkpoint_path(out_dir)
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        best_state = state["best_model"]
        averaged, n_averaged = state.get("averaged"), int(state.get("n_averaged", 0))
        history = json.loads(state["history"])
        best_acc, best_epoch = float(state["best_acc"]), int(state["best_epoch"])
        best_report = json.loads(state["best_report"])
        start_epoch, seconds = int(state["epoch"]) + 1, float(state["seconds"])
        torch.set_rng_state(state["torch_rng"].cpu())
        log(f"resumed from {ckpt} after epoch {start_epoch - 1}")

    def _step(model: ConvLSTM, tokens: torch.Tensor, lens: torch.Tensor, target: torch.Tensor,
              idx: np.ndarray) -> tuple[float, float | None]:  # fmt: skip
        """One optimiser step; (loss, attention-supervision term) as numbers."""
        out = model(tokens, lens)
        logits = out.logits + train_config.logit_adjustment * log_prior
        if soft_targets is not None:
            teacher = torch.from_numpy(soft_targets[idx]).to(device)
            loss = distillation_loss(logits, teacher, target, train_config.distill_weight,
                                     train_config.label_smoothing)  # fmt: skip
        else:
            loss = F.cross_entropy(logits, target, label_smoothing=train_config.label_smoothing)
        supervision = attention_loss(out.attention, [targets.get(int(i)) for i in idx]) if targets else None
        if supervision is not None:
            loss = loss + supervision
        d_weights, i_weights = train_config.deletion_weights, train_config.insertion_weights
        copies = [(d.tokens, int(labels[i]), d_weights[d.kind] * d.share, True)
                  for i in idx for d in (deletions or {}).get(int(i), ()) if d_weights.get(d.kind)]  # fmt: skip
        copies += [(c.tokens, c.label, i_weights[c.kind], False)
                   for i in idx for c in (insertions or {}).get(int(i), ()) if i_weights.get(c.kind)]  # fmt: skip
        if copies:
            c_tokens, c_lens = to_tensors([c[0] for c in copies], device)
            c_logits = model(c_tokens, c_lens).logits + train_config.logit_adjustment * log_prior
            c_labels = torch.tensor([c[1] for c in copies], device=device)
            c_weights = torch.tensor([c[2] for c in copies], device=device)
            away = torch.tensor([c[3] for c in copies], device=device)
            per_copy = torch.where(away, deletion_loss(c_logits, c_labels),
                                   F.cross_entropy(c_logits, c_labels, reduction="none"))  # fmt: skip
            loss = loss + (c_weights * per_copy).sum() / len(idx)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.clip_norm)
        optimiser.step()
        return loss.item(), (None if supervision is None else supervision.item())

    lengths = np.array([len(t) for t in token_arrays])
    labels_t = torch.as_tensor(labels)
    log_file = open(out_dir / "train.log", "a")
    try:
        for epoch in range(start_epoch, train_config.epochs + 1):
            if epoch - best_epoch > train_config.patience and best_epoch > 0:
                log(f"early stop: no better validation accuracy since epoch {best_epoch}")
                break
            if stop_at is not None and stop_at.passed_before(epoch, history, train_config.epochs):
                log(f"deadline: pausing before epoch {epoch} of {train_config.epochs}; the checkpoint holds "
                    f"epoch {epoch - 1}")  # fmt: skip
                raise Paused(epoch - 1)
            if train_config.max_seconds and history:
                mean_epoch = seconds / len(history)
                if seconds + mean_epoch > train_config.max_seconds:
                    budget = train_config.max_seconds
                    log(f"time budget: stopping after epoch {epoch - 1} ({seconds:.0f}s of {budget:.0f}s)")
                    break
            t0 = time.perf_counter()
            for group in optimiser.param_groups:
                group["lr"] = learning_rate_at(train_config, epoch)
            model.train()
            rng = np.random.default_rng(train_config.seed * 1000 + epoch)
            batches = make_batches(lengths[train_idx], train_config.batch_size, train_config.max_batch_residues, rng)
            loss_sum, attention_sum, n_seen, residues = 0.0, 0.0, 0, 0
            bar = tqdm(batches, desc=f"epoch {epoch}/{train_config.epochs}", disable=not progress, leave=False)
            for local in bar:
                idx = train_idx[local]
                tokens, lens = to_tensors([token_arrays[i] for i in idx], device)
                target = labels_t[idx].to(device)
                with cpu.turns().turn(device):  # a step takes the free cores, as every forward pass does
                    loss, supervision = _step(model, tokens, lens, target, idx)
                loss_sum += loss * len(idx)
                if supervision is not None:
                    attention_sum += supervision * len(idx)
                n_seen += len(idx)
                residues += int(lens.sum())
                bar.set_postfix(loss=f"{loss_sum / n_seen:.3f}")
            train_seconds = time.perf_counter() - t0
            val_loss, report = validate(model, token_arrays, labels, val_idx, classes, device)
            row = {
                "epoch": epoch,
                "learning_rate": learning_rate_at(train_config, epoch),
                "train_loss": loss_sum / max(n_seen, 1),
                "val_loss": val_loss,
                "val_accuracy": report["accuracy"],
                "val_mcc": report["gorodkin_mcc"],
            }
            if targets:
                row["train_attention_loss"] = attention_sum / max(n_seen, 1)
            row.update(validation_attention(model, token_arrays, validation_targets or {}, device))
            row.update(validation_deletion(model, token_arrays, labels, validation_deletions or {}, device))
            if train_config.average_last and epoch > train_config.epochs - train_config.average_last:
                averaged, n_averaged = _running_mean(averaged, model.state_dict(), n_averaged), n_averaged + 1
            improved = report["accuracy"] > best_acc
            if improved:
                best_acc, best_epoch, best_report = report["accuracy"], epoch, report
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            epoch_seconds = time.perf_counter() - t0
            seconds += epoch_seconds
            row["seconds"] = epoch_seconds
            row["train_residues_per_s"] = residues / train_seconds
            history.append(row)
            attention_text = "".join(
                f" {k} {v:.3f}" for k, v in row.items() if k.startswith(("auroc_", "deletion_"))
            )
            line = (
                f"epoch {epoch:3d} lr {row['learning_rate']:.2e} train_loss {row['train_loss']:.4f} "
                f"val_loss {val_loss:.4f} val_acc {row['val_accuracy']:.4f} val_mcc {row['val_mcc']:.4f}"
                f"{attention_text} {epoch_seconds:.1f}s {row['train_residues_per_s']:.0f} res/s"
                + (" *" if improved else "")
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
                    **({"averaged": averaged, "n_averaged": n_averaged} if averaged is not None else {}),
                },
                ckpt,
            )
            (out_dir / "history.json").write_text(json.dumps(history, indent=1))
    finally:
        log_file.close()
    if train_config.average_last and averaged is not None:
        model.load_state_dict(averaged)
        _, best_report = validate(model, token_arrays, labels, val_idx, classes, device)
        best_epoch = history[-1]["epoch"]
        log(f"weights averaged over the last {n_averaged} epochs: val_acc {best_report['accuracy']:.4f} "
            f"val_mcc {best_report['gorodkin_mcc']:.4f}")  # fmt: skip
    elif best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, history, best_epoch, best_report, seconds)


def validate(
    model: ConvLSTM | Ensemble,
    token_arrays: Sequence[np.ndarray],
    labels: np.ndarray,
    val_idx: np.ndarray,
    classes: Sequence[str],
    device: torch.device,
) -> tuple[float, dict]:
    """(validation loss, classification report) of ``model`` (one member, or an ensemble) on ``val_idx``."""
    probs = batching.probabilities(model, [token_arrays[i] for i in val_idx], device)
    target = torch.as_tensor(labels[val_idx])
    val_loss = float(F.nll_loss(torch.log(torch.from_numpy(probs).clamp_min(1e-8)), target).item())
    return val_loss, classification_report(labels[val_idx], probs.argmax(1), tuple(classes))


def _running_mean(
    mean: Mapping[str, torch.Tensor] | None, state: Mapping[str, torch.Tensor], n: int
) -> dict[str, torch.Tensor]:
    """The mean of ``n`` earlier states (``mean``) and ``state``: stochastic weight averaging's update."""
    if mean is None:
        return {k: v.detach().clone().float() for k, v in state.items()}
    return {k: mean[k] + (state[k].detach().float() - mean[k]) / (n + 1) for k in mean}


def train_config_dict(config: TrainConfig) -> dict:
    data = asdict(config)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}
