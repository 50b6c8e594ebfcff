"""A fast student: a smaller ConvLSTM trained on its ensemble's averaged probabilities.

Same family as the teacher (convolutions, BiLSTM, attention), so the app still draws its attention and
filter logos; fewer filters and LSTM units make it several times faster. The loss lives here; the loop
is :func:`locviz.train.fit` with ``soft_targets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from locviz import batching
from locviz.model import Ensemble, ModelConfig

STUDENT_SHAPE = {"filters_per_width": 10, "conv2_channels": 64, "lstm_hidden": 64, "attention_hidden": 64,
                 "dense_hidden": 64}  # fmt: skip
"""The default student: half the teacher's filters and a quarter of its LSTM work."""


def student_config(teacher: ModelConfig, **shape: int) -> ModelConfig:
    """The teacher's configuration with the student's (smaller) shape."""
    return replace(teacher, **{**STUDENT_SHAPE, **shape})


def teacher_probabilities(teacher: Ensemble, token_arrays: Sequence[np.ndarray], device: torch.device) -> np.ndarray:
    """The ensemble's averaged class probabilities ``(N, C)`` for every protein (the student's targets)."""
    return batching.probabilities(teacher, token_arrays, device)


def distillation_loss(
    logits: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, weight: float, label_smoothing: float = 0.0
) -> torch.Tensor:
    """``weight`` x cross-entropy to the teacher's probabilities + ``(1 - weight)`` x cross-entropy to the labels.

    Cross-entropy to a distribution is the KL divergence plus the teacher's entropy, a constant, so the
    gradient is the distillation gradient of Hinton et al. (2015) at temperature 1.
    """
    soft = F.cross_entropy(logits, teacher)
    if weight >= 1.0:
        return soft
    hard = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    return weight * soft + (1.0 - weight) * hard
