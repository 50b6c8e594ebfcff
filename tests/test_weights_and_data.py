"""Bundles (round trip, checksum, bad cards) and the real data-set readers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DATA_ROOT, make_tiny_bundle, tiny_config

from locviz.card import ModelCard
from locviz.datasets import DatasetError, load_deeploc, load_multiloc
from locviz.errors import InputError
from locviz.weights import BundleError, load_bundle, resolve_device, save_bundle


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    card_path = make_tiny_bundle(tmp_path / "m", ("a", "b", "c"), members=2)
    bundle = load_bundle(card_path, device="cpu")
    kept = ModelCard(bundle.card.classes, bundle.card.model, bundle.card.length_policy)
    again_path = save_bundle(tmp_path / "again", bundle.model, kept)
    again = load_bundle(again_path, device="cpu")
    tokens, lengths = torch.randint(0, 20, (2, 30)), torch.tensor([30, 12])
    with torch.no_grad():
        a = bundle.model(tokens, lengths).probabilities
        b = again.model(tokens, lengths).probabilities
    assert torch.equal(a, b)
    assert bundle.config == tiny_config(3)
    assert json.loads(card_path.read_text())["weights_sha256"] == bundle.card.weights_sha256
    assert again.card.members == 2 and again.card.name == "again" and again.card.classes == ("a", "b", "c")


def test_checksum_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    card_path = make_tiny_bundle(tmp_path / "m", ("a", "b"))
    weights = tmp_path / "m.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum mismatch"):
        load_bundle(card_path)


def test_missing_and_malformed_bundles(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no model card"):
        load_bundle(tmp_path / "nothing")
    card_path = make_tiny_bundle(tmp_path / "m", ("a", "b"))
    (tmp_path / "m.safetensors").unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(card_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path / "bad.json")


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(BundleError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(InputError, match="'gpu0' is not a device name; use auto, cpu, cuda or cuda:N"):
        resolve_device("gpu0")
    if torch.cuda.is_available():
        with pytest.raises(BundleError, match="sees [0-9]+ CUDA GPU"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.fixture(scope="module")
def multiloc():
    return load_multiloc(DATA_ROOT / "multiloc")


def test_multiloc_reader(multiloc) -> None:
    assert len(multiloc) == 5959 and len(multiloc.classes) == 11
    assert sorted(set(multiloc.folds.tolist())) == [0, 1, 2, 3, 4]
    assert np.bincount(multiloc.labels)[multiloc.classes.index("vacuolar")] == 63
    assert len(multiloc.subset([0])) == 1196


def test_deeploc_reader() -> None:
    data = load_deeploc(DATA_ROOT / "deeploc")
    assert len(data) == 11085 and len(data.classes) == 10
    assert sorted(set(data.folds.tolist())) == list(range(8))


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="missing data file"):
        load_multiloc(tmp_path)
    shutil.copy(DATA_ROOT / "deeploc" / "folds.tsv", tmp_path / "folds.tsv")
    (tmp_path / "train.fasta").write_text(">A0A023PZB3 Nucleus\nMKTAYIAKQRQISFVKSHFSRQ\n")
    with pytest.raises(DatasetError, match="'Mitochondrion' there but 'Nucleus'"):
        load_deeploc(tmp_path)


def test_shipped_multiloc_model_is_accurate_on_held_out_proteins(multiloc) -> None:
    """The shipped ensemble on 150 test-fold proteins: a science check that could fail."""
    from locviz.predict import load_model

    predictor = load_model("multiloc", device="cpu")
    idx = multiloc.subset([0])[:150]
    records = [multiloc.records[i] for i in idx]
    predictions = predictor.predict(records)
    accuracy = np.mean([p.label == multiloc.classes[multiloc.labels[i]] for p, i in zip(predictions, idx, strict=True)])
    assert accuracy > 0.7, accuracy


def test_a_location_is_named_in_either_data_set_s_classes() -> None:
    from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES, location_in

    assert location_in("peroxisomal", DEEPLOC_CLASSES) == "Peroxisome"
    assert location_in("Endoplasmic.reticulum", MULTILOC_CLASSES) == "ER"
    assert location_in("nuclear", MULTILOC_CLASSES) == "nuclear"
    assert location_in("vacuolar", DEEPLOC_CLASSES) == "Lysosome/Vacuole"
    assert location_in("Lysosome/Vacuole", MULTILOC_CLASSES) is None  # two MultiLoc classes: no single answer
    assert location_in("somewhere", DEEPLOC_CLASSES) is None
