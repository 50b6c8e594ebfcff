"""The one floor every forward pass stands on: length buckets, tensors, a batched run.

Prediction, evaluation, training, motifs and the what-if tools all batch the
same way: proteins of similar length go together (little padding; the model is
padding-invariant, so batching never changes an answer), tokens are padded
here, and :func:`run` returns plain numpy arrays in input order. Nothing here
knows about training, so inference never imports :mod:`locviz.train`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from locviz import cpu
from locviz.encoding import pad_batch
from locviz.model import ConvLSTM, Ensemble

DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_RESIDUES = 64_000


def make_batches(
    lengths: np.ndarray, batch_size: int, max_residues: int, rng: np.random.Generator | None = None
) -> list[np.ndarray]:
    """Index batches of similar length (at most ``batch_size`` proteins, ``max_residues`` padded residues).

    In length order when ``rng`` is None; with ``rng``, ties are shuffled and so is the batch order (training).
    A single protein longer than ``max_residues`` still gets its own batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_residues < 1:
        raise ValueError(f"max_residues must be >= 1, got {max_residues}")
    lengths = np.asarray(lengths)
    jitter = rng.random(len(lengths)) if rng is not None else np.zeros(len(lengths))
    order = np.lexsort((jitter, lengths))
    batches, current, longest = [], [], 0
    for i in order:
        longest_if_added = max(longest, int(lengths[i]))
        if current and (len(current) >= batch_size or longest_if_added * (len(current) + 1) > max_residues):
            batches.append(np.array(current))
            current, longest_if_added = [], int(lengths[i])
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(np.array(current))
    if rng is not None:
        rng.shuffle(batches)
    return batches


def to_tensors(token_arrays: Sequence[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(B, T)`` int64 tokens and ``(B,)`` lengths on ``device``."""
    tokens, lengths = pad_batch(list(token_arrays))
    return torch.from_numpy(tokens).to(device), torch.from_numpy(lengths).to(device)


def iter_batches(
    token_arrays: Sequence[np.ndarray],
    device: torch.device,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_residues: int = DEFAULT_MAX_RESIDUES,
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """``(indices into token_arrays, tokens, lengths)`` per length bucket, shortest first."""
    lengths = np.array([len(t) for t in token_arrays])
    for idx in make_batches(lengths, batch_size, max_residues):
        tokens, lens = to_tensors([token_arrays[i] for i in idx], device)
        yield idx, tokens, lens


@dataclass
class BatchResult:
    """One forward pass over a batch, as numpy; rows follow the batch's indices."""

    probabilities: np.ndarray  # (B, C) float32: ensemble mean (or the single model's softmax)
    attention: np.ndarray  # (B, T) float32, 0 on padding
    member_probabilities: np.ndarray  # (M, B, C) float32
    filter_activations: np.ndarray | None  # (B, n_filters, T) of the motif member, when asked


def forward(
    model: ConvLSTM | Ensemble, tokens: torch.Tensor, lengths: torch.Tensor, with_filters: bool = False
) -> BatchResult:
    """Evaluate ``model`` (one ConvLSTM or an ensemble) on a padded batch without gradients."""
    with torch.inference_mode():
        out = model(tokens, lengths, return_filters=with_filters)
        if isinstance(model, Ensemble):
            probs, members = out.probabilities, out.member_probabilities
        else:
            probs = torch.softmax(out.logits, dim=1)
            members = probs.unsqueeze(0)
        filters = out.filter_activations
        return BatchResult(
            probabilities=probs.float().cpu().numpy(),
            attention=out.attention.float().cpu().numpy(),
            member_probabilities=members.float().cpu().numpy(),
            filter_activations=None if filters is None else filters.float().cpu().numpy(),
        )


def run(
    model: ConvLSTM | Ensemble,
    token_arrays: Sequence[np.ndarray],
    device: torch.device,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_residues: int = DEFAULT_MAX_RESIDUES,
    with_filters: bool = False,
    lock: threading.Lock | None = None,
    callback: Callable[[int], None] | None = None,
) -> Iterator[tuple[np.ndarray, BatchResult]]:
    """Yield ``(indices, BatchResult)`` for every length bucket of ``token_arrays``.

    The model is put in eval mode for the run and restored after. ``lock``
    serialises forward passes between threads (the app shares one model);
    on the CPU, passes also take turns with other locviz processes
    (:mod:`locviz.cpu`); ``callback(n)`` is told how many proteins each batch finished.
    """
    if not token_arrays:
        return
    was_training = model.training
    model.eval()
    try:
        for idx, tokens, lens in iter_batches(token_arrays, device, batch_size, max_residues):
            with lock or nullcontext(), cpu.turns().turn(tokens.device):
                result = forward(model, tokens, lens, with_filters=with_filters)
            if callback is not None:
                callback(len(idx))
            yield idx, result
    finally:
        model.train(was_training)


def probabilities(
    model: ConvLSTM | Ensemble,
    token_arrays: Sequence[np.ndarray],
    device: torch.device,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_residues: int = DEFAULT_MAX_RESIDUES,
    callback: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Class probabilities ``(N, C)`` float32 in input order (evaluation, validation, calibration)."""
    return _collect(model, token_arrays, device, False, batch_size, max_residues, callback)


def member_probabilities(
    model: ConvLSTM | Ensemble,
    token_arrays: Sequence[np.ndarray],
    device: torch.device,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_residues: int = DEFAULT_MAX_RESIDUES,
    callback: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Each member's class probabilities ``(M, N, C)`` float32 in input order (calibrated evaluation)."""
    return _collect(model, token_arrays, device, True, batch_size, max_residues, callback)


def _collect(model: ConvLSTM | Ensemble, token_arrays: Sequence[np.ndarray], device: torch.device, members: bool,
             batch_size: int, max_residues: int, callback: Callable[[int], None] | None) -> np.ndarray:  # fmt: skip
    """The ensemble's (or, with ``members``, every member's) probabilities of every protein, in input order."""
    out: np.ndarray | None = None
    for idx, result in run(
        model, token_arrays, device, batch_size=batch_size, max_residues=max_residues, callback=callback
    ):
        values = result.member_probabilities if members else result.probabilities
        if out is None:
            rows = (values.shape[0], len(token_arrays)) if members else (len(token_arrays),)
            out = np.zeros((*rows, values.shape[-1]), dtype=np.float32)
        out[(slice(None), idx) if members else idx] = values
    if out is None:
        raise ValueError("no sequences to predict")
    return out
