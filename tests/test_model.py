"""The ConvLSTM: shapes, attention, padding invariance, encodings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import HUMAN_INSULIN, tiny_config

from locviz.encoding import PAD_TOKEN, VOCAB_SIZE, LengthPolicy, feature_table, pad_batch, tokenize
from locviz.model import ConvLSTM, Dropout, Ensemble, reverse_within_length


def test_tokenize_and_feature_tables() -> None:
    tokens = tokenize("ACXB")
    assert tokens.tolist() == [0, 1, 20, 20]
    for name, width in [("onehot", 21), ("blosum62", 20), ("onehot+blosum62", 41)]:
        table = feature_table(name)
        assert table.shape == (VOCAB_SIZE, width)
        assert not table[PAD_TOKEN].any()
    with pytest.raises(ValueError, match="unknown encoding"):
        feature_table("profile")
    with pytest.raises(ValueError, match="not in the alphabet"):
        tokenize("AC*")


def test_length_policy_keeps_termini() -> None:
    seq = "".join("ACDEFGHIKL"[i % 10] for i in range(1500))
    kept, positions, note = LengthPolicy(1000).crop(seq)
    assert kept == seq[:500] + seq[1000:]
    assert positions[499] == 499 and positions[500] == 1000
    assert "501-1000" in note
    kept, positions, note = LengthPolicy(None).crop(seq)
    assert kept == seq and note is None


def test_reverse_within_length() -> None:
    x = torch.arange(10).view(2, 5)
    lengths = torch.tensor([5, 3])
    out = reverse_within_length(x, lengths)
    assert out.tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]


@pytest.fixture()
def model() -> ConvLSTM:
    torch.manual_seed(0)
    return ConvLSTM(tiny_config(5)).eval()


def test_shapes_and_attention(model: ConvLSTM) -> None:
    tokens, lengths = pad_batch([tokenize(HUMAN_INSULIN), tokenize(HUMAN_INSULIN[:40])])
    out = model(torch.from_numpy(tokens), torch.from_numpy(lengths), return_filters=True)
    assert out.logits.shape == (2, 5)
    assert out.attention.shape == tokens.shape
    assert torch.allclose(out.attention.sum(1), torch.ones(2))
    assert (out.attention[1, 40:] == 0).all()
    assert out.filter_activations.shape == (2, model.config.n_filters, tokens.shape[1])
    assert (out.filter_activations[1, :, 40:] == 0).all()


def test_padding_invariance(model: ConvLSTM) -> None:
    short = tokenize(HUMAN_INSULIN[:50])
    alone, la = pad_batch([short])
    batch, lb = pad_batch([tokenize(HUMAN_INSULIN), short, tokenize(HUMAN_INSULIN[::-1])])
    with torch.no_grad():
        a = model(torch.from_numpy(alone), torch.from_numpy(la), return_filters=True)
        b = model(torch.from_numpy(batch), torch.from_numpy(lb), return_filters=True)
    assert torch.allclose(a.logits[0], b.logits[1], atol=1e-5)
    assert torch.allclose(a.attention[0], b.attention[1, :50], atol=1e-6)
    assert torch.allclose(a.filter_activations[0], b.filter_activations[1, :, :50], atol=1e-6)


def test_ensemble_averages_members() -> None:
    torch.manual_seed(1)
    members = [ConvLSTM(tiny_config(4)).eval() for _ in range(3)]
    ensemble = Ensemble(members, motif_member=2).eval()
    tokens, lengths = pad_batch([tokenize(HUMAN_INSULIN)])
    t, lens = torch.from_numpy(tokens), torch.from_numpy(lengths)
    with torch.no_grad():
        out = ensemble(t, lens, return_filters=True)
        singles = [m(t, lens, return_filters=True) for m in members]
    mean = torch.stack([torch.softmax(s.logits, 1) for s in singles]).mean(0)
    assert torch.allclose(out.probabilities, mean, atol=1e-6)
    assert torch.allclose(out.attention.sum(1), torch.ones(1))
    assert torch.equal(out.filter_activations, singles[2].filter_activations)
    assert np.isclose(float(out.probabilities.sum()), 1.0, atol=1e-5)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_drops_a_share_p_and_keeps_the_mean(p: float) -> None:
    """locviz's faster Dropout must be nn.Dropout in distribution: share p zeroed, survivors scaled by 1/(1-p)."""
    torch.manual_seed(0)
    x = torch.ones(200_000, requires_grad=True)
    dropout = Dropout(p).train()
    y = dropout(x)
    reference = torch.nn.Dropout(p).train()(x)
    for out in (y, reference):
        assert abs(float((out == 0).float().mean()) - p) < 0.005
        assert torch.allclose(out[out != 0], torch.full_like(out[out != 0], 1 / (1 - p)))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * mask)/dx is the scaled mask itself
    assert torch.equal(dropout.eval()(x), x)


def test_dropout_edge_cases() -> None:
    x = torch.randn(50)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    with pytest.raises(ValueError, match="no in-place form"):
        Dropout(0.5, inplace=True)
