"""The ConvLSTM of Sønderby et al. (2015), with DeepLoc's shapes as options.

tokens → fixed feature table (one-hot / BLOSUM62) → bank of 1-D convolutions
(one width per group of filters) → optional second convolution → bidirectional
LSTM → attention (one weight per residue) → dense classifier.

Padding invariance is by construction, so a protein gets the same answer alone
or in a batch with longer ones: sequences are right-padded, every convolution
output is re-masked to zero on padding, the backward LSTM runs on each
sequence reversed within its own length (no ``pack_padded_sequence``, which is
30-100x slower on CPU), and the attention softmax excludes padding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from locviz.encoding import feature_table


@dataclass
class ModelConfig:
    """Hyper-parameters of one ConvLSTM; stored in the model card."""

    n_classes: int
    encoding: str = "onehot+blosum62"
    conv_widths: tuple[int, ...] = (1, 3, 5, 9, 15, 21)
    filters_per_width: int = 20
    conv2_width: int = 3
    conv2_channels: int = 128  # 0 switches the second convolution off
    lstm_hidden: int = 256
    attention_hidden: int = 256
    dense_hidden: int = 256
    input_dropout: float = 0.2
    hidden_dropout: float = 0.5

    def to_dict(self) -> dict:
        data = asdict(self)
        data["conv_widths"] = list(self.conv_widths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["conv_widths"] = tuple(known.get("conv_widths", cls.conv_widths))
        return cls(**known)

    @property
    def n_filters(self) -> int:
        return len(self.conv_widths) * self.filters_per_width

    def filter_width(self, index: int) -> int:
        """Width of first-layer filter ``index`` (filters are grouped by width)."""
        return self.conv_widths[index // self.filters_per_width]


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, C)
    attention: torch.Tensor  # (B, T), sums to 1 over real residues, 0 on padding
    filter_activations: torch.Tensor | None = None  # (B, n_filters, T), 0 on padding


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of ``x`` (B, T, ...) within its own length; padding stays put."""
    steps = torch.arange(x.shape[1], device=x.device)
    idx = lengths.unsqueeze(1) - 1 - steps.unsqueeze(0)
    idx = torch.where(idx >= 0, idx, steps.unsqueeze(0).expand_as(idx))
    for _ in range(x.dim() - 2):
        idx = idx.unsqueeze(-1)
    return torch.gather(x, 1, idx.expand_as(x))


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU keep-mask is drawn by ``uniform_`` and a comparison: the same distribution.

    On CPU ``nn.Dropout`` draws with ``bernoulli_``, which took 17 % of a member's training step in
    ``torch.profiler``; a training step is faster this way (``benchmarks/train_speed.py --compare-torch-dropout``).
    Other devices keep PyTorch's fused kernel. No parameters, so weight files are unchanged.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        if inplace:
            raise ValueError("locviz.model.Dropout has no in-place form; use inplace=False")
        super().__init__(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return super().forward(x)
        if self.p >= 1.0:
            return x * 0.0
        keep = torch.empty_like(x).uniform_().ge_(self.p)  # P(keep) = 1 - p
        return x * keep.mul_(1.0 / (1.0 - self.p))


class ConvLSTM(nn.Module):
    """One ConvLSTM localisation model."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        table = torch.from_numpy(feature_table(config.encoding))
        self.register_buffer("feature_table", table, persistent=False)
        n_in = table.shape[1]
        self.input_dropout = Dropout(config.input_dropout)
        self.convs = nn.ModuleList(
            nn.Conv1d(n_in, config.filters_per_width, w, padding=w // 2) for w in config.conv_widths
        )
        lstm_in = config.n_filters
        self.conv2 = None
        if config.conv2_channels > 0:
            w2 = config.conv2_width
            self.conv2 = nn.Conv1d(config.n_filters, config.conv2_channels, w2, padding=w2 // 2)
            lstm_in = config.conv2_channels
        self.hidden_dropout = Dropout(config.hidden_dropout)
        self.lstm_forward = nn.LSTM(lstm_in, config.lstm_hidden, batch_first=True)
        self.lstm_backward = nn.LSTM(lstm_in, config.lstm_hidden, batch_first=True)
        self.attention_proj = nn.Linear(2 * config.lstm_hidden, config.attention_hidden)
        self.attention_score = nn.Linear(config.attention_hidden, 1, bias=False)
        self.dense = nn.Linear(2 * config.lstm_hidden, config.dense_hidden)
        self.classifier = nn.Linear(config.dense_hidden, config.n_classes)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Input features ``(B, T, E)`` of the tokens (one-hot / BLOSUM62 rows; zeros on padding)."""
        return F.embedding(tokens, self.feature_table)

    def first_layer(
        self, tokens: torch.Tensor, lengths: torch.Tensor, features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(filter activations ``(B, n_filters, T)``, zero on padding; the padding mask ``(B, T)``).

        The part of the network the filter logos describe; motifs call it alone,
        without paying for the LSTM. ``features`` replaces ``embed(tokens)`` so
        attribution methods can take gradients with respect to the input.
        """
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        mask = steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        channel_mask = mask.unsqueeze(1).to(self.feature_table.dtype)
        x = self.embed(tokens) if features is None else features  # (B, T, E)
        x = self.input_dropout(x).transpose(1, 2)  # (B, E, T)
        filters = torch.relu(torch.cat([conv(x) for conv in self.convs], dim=1)) * channel_mask
        return filters, mask

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        return_filters: bool = False,
        features: torch.Tensor | None = None,
    ) -> ModelOutput:
        """``tokens`` (B, T) int64 right-padded, ``lengths`` (B,) int64; ``features`` see :meth:`first_layer`."""
        filters, mask = self.first_layer(tokens, lengths, features)
        channel_mask = mask.unsqueeze(1).to(filters.dtype)
        h = self.hidden_dropout(filters)
        if self.conv2 is not None:
            h = self.hidden_dropout(torch.relu(self.conv2(h)) * channel_mask)
        h = h.transpose(1, 2).contiguous()  # (B, T, C)
        fwd, _ = self.lstm_forward(h)
        bwd, _ = self.lstm_backward(reverse_within_length(h, lengths))
        h = torch.cat([fwd, reverse_within_length(bwd, lengths)], dim=2)
        h = self.hidden_dropout(h)
        scores = self.attention_score(torch.tanh(self.attention_proj(h))).squeeze(2)
        scores = scores.masked_fill(~mask, float("-inf"))
        attention = torch.softmax(scores, dim=1)
        context = torch.bmm(attention.unsqueeze(1), h).squeeze(1)
        logits = self.classifier(self.hidden_dropout(torch.relu(self.dense(context))))
        return ModelOutput(logits, attention, filters if return_filters else None)


@dataclass
class EnsembleOutput:
    probabilities: torch.Tensor  # (B, C): mean of the members' softmax
    attention: torch.Tensor  # (B, T): mean of the members' attention (still sums to 1)
    member_probabilities: torch.Tensor  # (M, B, C)
    filter_activations: torch.Tensor | None = None  # (B, n_filters, T) of the motif member


class Ensemble(nn.Module):
    """Members of identical shape whose class probabilities and attention are averaged.

    First-layer filters differ between members, so filter activations and logos
    always come from one named member, ``motif_member``.
    """

    def __init__(self, members: list[ConvLSTM], motif_member: int = 0):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.motif_member = motif_member

    @property
    def config(self) -> ModelConfig:
        return self.members[0].config

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        return_filters: bool = False,
        features: torch.Tensor | None = None,
    ) -> EnsembleOutput:
        probs, attention, filters = [], [], None
        for i, member in enumerate(self.members):
            out = member(tokens, lengths, return_filters=return_filters and i == self.motif_member, features=features)
            probs.append(torch.softmax(out.logits, dim=1))
            attention.append(out.attention)
            if out.filter_activations is not None:
                filters = out.filter_activations
        member_probs = torch.stack(probs)
        return EnsembleOutput(member_probs.mean(0), torch.stack(attention).mean(0), member_probs, filters)
