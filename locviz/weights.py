"""Model bundles: ``NAME.safetensors`` (tensors only) + ``NAME.json`` (the model card).

Loading never unpickles: tensors come from safetensors, everything else from
JSON, and the weights file's sha256 must match the one in the card.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from locviz.datasets import sha256_of
from locviz.encoding import LengthPolicy
from locviz.errors import BundleError
from locviz.model import ConvLSTM, Ensemble, ModelConfig

FORMAT_VERSION = 1
REPO_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
SHIPPED_MODELS = ("multiloc", "deeploc")


def weights_dir() -> Path:
    """Where shipped bundles live: ``$LOCVIZ_WEIGHTS`` if set, else the repository's ``weights/``."""
    return Path(os.environ.get("LOCVIZ_WEIGHTS") or REPO_WEIGHTS_DIR)


@dataclass
class ModelBundle:
    """A loaded model with its card: what the app and the command line work with."""

    name: str
    card: dict
    model: Ensemble
    card_path: Path

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def length_policy(self) -> LengthPolicy:
        return LengthPolicy.from_dict(self.card["length_policy"])

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def sibling(self, suffix: str) -> Path:
        """A file next to the card, e.g. ``sibling('.motifs.npz')``."""
        return self.card_path.with_name(self.name + suffix)


def resolve_card_path(name_or_path: str | Path) -> Path:
    """``multiloc`` / ``deeploc`` → the shipped card; otherwise a path to ``.json`` or its stem."""
    text = str(name_or_path)
    if text in SHIPPED_MODELS:
        return weights_dir() / f"{text}.json"
    path = Path(text)
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    elif path.suffix != ".json":
        path = path.with_name(path.name + ".json")
    return path


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; an explicit device is honoured (and checked)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BundleError(f"device {device!r} was asked for, but PyTorch sees no CUDA GPU; use 'cpu' or 'auto'")
    return dev


def save_bundle(path_stem: str | Path, model: Ensemble, card: dict) -> Path:
    """Write ``STEM.safetensors`` and ``STEM.json``; returns the card path."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights_path = stem.with_name(stem.name + ".safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(weights_path), metadata={"format": "locviz", "format_version": str(FORMAT_VERSION)})
    card = dict(card)
    card.update(
        {
            "name": stem.name,
            "format_version": FORMAT_VERSION,
            "model": model.config.to_dict(),
            "members": len(model.members),
            "motif_member": model.motif_member,
            "weights_file": weights_path.name,
            "weights_sha256": sha256_of(weights_path),
        }
    )
    card_path = stem.with_name(stem.name + ".json")
    write_card(card_path, card)
    return card_path


def write_card(card_path: Path, card: dict) -> None:
    card_path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def read_card(name_or_path: str | Path) -> tuple[Path, dict]:
    card_path = resolve_card_path(name_or_path)
    if not card_path.is_file():
        shipped = ", ".join(SHIPPED_MODELS)
        raise BundleError(f"no model card at {card_path}; give a shipped model ({shipped}) or a bundle path")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{card_path} is not valid JSON: {exc}") from exc
    for key in ("classes", "model", "members", "weights_file", "weights_sha256", "length_policy"):
        if key not in card:
            raise BundleError(f"{card_path} lacks the key {key!r}; it is not a locviz model card")
    return card_path, card


def load_bundle(name_or_path: str | Path, device: str | torch.device = "auto") -> ModelBundle:
    """Load a bundle on ``device``, checking the weights' sha256 against the card."""
    card_path, card = read_card(name_or_path)
    weights_path = card_path.with_name(card["weights_file"])
    if not weights_path.is_file():
        raise BundleError(f"{card_path} names {weights_path.name}, which is missing next to it")
    actual = sha256_of(weights_path)
    if actual != card["weights_sha256"]:
        raise BundleError(
            f"checksum mismatch for {weights_path}: the card says sha256 {card['weights_sha256'][:12]}..., "
            f"the file has {actual[:12]}...; the file is corrupt or not the one the card describes"
        )
    config = ModelConfig.from_dict(card["model"])
    if config.n_classes != len(card["classes"]):
        raise BundleError(f"{card_path}: {len(card['classes'])} classes but the model has {config.n_classes} outputs")
    model = Ensemble([ConvLSTM(config) for _ in range(int(card["members"]))], int(card.get("motif_member", 0)))
    try:
        model.load_state_dict(load_file(str(weights_path)), strict=True)
    except RuntimeError as exc:
        raise BundleError(f"{weights_path} does not fit the architecture in {card_path.name}: {exc}") from exc
    model.eval().to(resolve_device(device))
    return ModelBundle(card.get("name", card_path.stem), card, model, card_path)
