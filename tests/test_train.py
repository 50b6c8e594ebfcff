"""Training: bucketing, a tiny model that learns a toy task, resume, metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_config

from locviz.batching import make_batches, probabilities
from locviz.metrics import classification_report, gorodkin_mcc, per_class_mcc
from locviz.train import TrainConfig, fit

RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def toy_task(n: int = 64, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Class 1 proteins carry a lysine/arginine-rich N-terminus (like a nuclear signal)."""
    rng = np.random.default_rng(seed)
    tokens, labels = [], []
    for i in range(n):
        length = int(rng.integers(15, 35))
        seq = rng.integers(0, 20, length).astype(np.uint8)
        label = i % 2
        if label:
            seq[:6] = [RESIDUES.index(c) for c in "KKRKRK"]
        tokens.append(seq)
        labels.append(label)
    return tokens, np.array(labels)


def test_make_batches_respects_limits_and_covers_all() -> None:
    lengths = np.array([5, 100, 7, 90, 6, 95, 8, 1000])
    batches = make_batches(lengths, batch_size=3, max_residues=300, rng=np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or lengths[b].max() * len(b) <= 300


def test_tiny_model_learns_toy_task_and_resumes(tmp_path) -> None:
    tokens, labels = toy_task()
    train_idx, val_idx = np.arange(48), np.arange(48, 64)
    config = tiny_config(2)
    config.input_dropout = config.hidden_dropout = 0.0
    train_config = TrainConfig(epochs=15, batch_size=16, learning_rate=1e-2, patience=50, seed=0)
    result = fit(config, train_config, tokens, labels, train_idx, val_idx, ("a", "b"), tmp_path,
                 torch.device("cpu"), progress=False, log=lambda _: None)
    assert result.best_validation["accuracy"] >= 0.9, result.history
    probs = probabilities(result.model, [tokens[i] for i in val_idx], torch.device("cpu"))
    assert np.mean(probs.argmax(1) == labels[val_idx]) == pytest.approx(result.best_validation["accuracy"])
    assert (tmp_path / "train.log").read_text().count("epoch") == 15

    # a run stopped after 6 epochs and resumed ends where the uninterrupted one did
    short = TrainConfig(**{**train_config.__dict__, "epochs": 5})
    fit(config, short, tokens, labels, train_idx, val_idx, ("a", "b"), tmp_path / "r", torch.device("cpu"),
        progress=False, log=lambda _: None)
    resumed = fit(config, train_config, tokens, labels, train_idx, val_idx, ("a", "b"), tmp_path / "r",
                  torch.device("cpu"), resume=True, progress=False, log=lambda _: None)
    assert len(resumed.history) == 15
    assert resumed.history[-1]["val_loss"] == pytest.approx(result.history[-1]["val_loss"], rel=1e-4)


def test_metrics_known_values() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    perfect = classification_report(labels, labels, ("a", "b", "c"))
    assert perfect["accuracy"] == 1.0 and perfect["gorodkin_mcc"] == pytest.approx(1.0)
    preds = np.array([0, 1, 1, 1, 2, 0])
    report = classification_report(labels, preds, ("a", "b", "c"))
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # two classes: Gorodkin's R_K equals the ordinary MCC
    confusion = np.array([[5, 2], [1, 7]])
    tp, fn, fp, tn = 7, 1, 2, 5
    mcc = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert gorodkin_mcc(confusion) == pytest.approx(mcc)
    assert per_class_mcc(confusion)[1] == pytest.approx(mcc)
