"""Model bundles: ``NAME.safetensors`` (tensors only) + ``NAME.json`` (the model card).

Loading never unpickles: tensors come from safetensors, everything else from
JSON, and the weights file's sha256 must match the one in the card. This module
is the only reader and writer of card files; the card itself is typed and
checked in :mod:`locviz.card`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from locviz.card import FORMAT_VERSION, ModelCard
from locviz.datasets import sha256_of
from locviz.encoding import LengthPolicy
from locviz.errors import BundleError, InputError
from locviz.model import ConvLSTM, Ensemble, ModelConfig

__all__ = [
    "ENSEMBLES", "FORMAT_VERSION", "SHIPPED_MODELS", "STUDENTS", "BundleError", "ModelBundle", "ModelCard",
    "load_bundle", "read_card", "resolve_card_path", "resolve_device", "save_bundle", "update_card", "weights_dir",
    "write_card",
]  # fmt: skip
REPO_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
ENSEMBLES = ("multiloc", "deeploc")
STUDENTS = {"deeploc": "deeploc-fast", "multiloc": "multiloc-fast"}
"""Each ensemble's fast student (one smaller ConvLSTM distilled from it; :mod:`locviz.distill`), when shipped."""
SHIPPED_MODELS = (*ENSEMBLES, *STUDENTS.values())


WEIGHTS_PACKAGE = "locviz_weights"
"""The installed name of the repository's ``weights/`` folder (pyproject.toml maps one onto the other)."""


def weights_dir() -> Path:
    """Where shipped bundles live: ``$LOCVIZ_WEIGHTS`` if set, else the installed ``locviz_weights`` package
    (a regular ``pip install .`` copies ``weights/`` there; an editable one points at the checkout's),
    else ``weights/`` next to the package (a checkout used without installing)."""
    configured = os.environ.get("LOCVIZ_WEIGHTS")
    if configured:
        return Path(configured)
    return _installed_weights_dir() or REPO_WEIGHTS_DIR


@functools.cache
def _installed_weights_dir() -> Path | None:
    """The installed weights folder. ``weights/`` has no ``__init__.py`` (it holds data, not code), so it installs
    as a namespace package; its spec's search locations name the folder (``importlib.resources.files`` does not
    cope with an editable install's namespace path)."""
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        return None
    folders = [Path(f) for f in (spec.submodule_search_locations or [])] if spec is not None else []
    return next((f for f in folders if f.is_dir()), None)


@dataclass
class ModelBundle:
    """A loaded model with its card: what the app and the command line work with."""

    name: str
    card: ModelCard
    model: Ensemble
    card_path: Path

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def length_policy(self) -> LengthPolicy:
        return self.card.length_policy

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def sibling(self, suffix: str) -> Path:
        """A file next to the card, e.g. ``sibling('.motifs.npz')``."""
        return self.card_path.with_name(self.name + suffix)


def resolve_card_path(name_or_path: str | Path) -> Path:
    """A shipped name (``multiloc``, ``deeploc``, ``deeploc-fast``, …) → its card; otherwise a ``.json`` or its stem."""
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
    """``auto`` → CUDA when present, else CPU; an explicit device is honoured (and checked).

    Raises:
        InputError: ``device`` is not a device name PyTorch knows.
        BundleError: a CUDA device that this machine does not have.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"device {device!r} is not a device name; use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BundleError(f"device {device!r} was asked for, but PyTorch sees no CUDA GPU; use 'cpu' or 'auto'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise BundleError(f"device {device!r} was asked for, but PyTorch sees {torch.cuda.device_count()} CUDA GPU(s) "
                          "(cuda:0 is the first)")  # fmt: skip
    return dev


def save_bundle(path_stem: str | Path, model: Ensemble, card: ModelCard | Mapping[str, Any]) -> Path:
    """Write ``STEM.safetensors`` and ``STEM.json``; returns the card path.

    The fields that describe the weights (name, format version, model config, members, motif
    member, weights file and sha256) come from ``model`` and the file written, whatever ``card``
    said for them. ``card`` may be a :class:`ModelCard` or a plain mapping with the card's keys.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights_path = stem.with_name(stem.name + ".safetensors")
    card_path = stem.with_name(stem.name + ".json")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    pending = weights_path.with_name(f".{weights_path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(pending), metadata={"format": "locviz", "format_version": str(FORMAT_VERSION)})
    try:
        weights = {
            "name": stem.name,
            "format_version": FORMAT_VERSION,
            "model": model.config,
            "members": len(model.members),
            "motif_member": model.motif_member,
            "weights_file": weights_path.name,
            "weights_sha256": sha256_of(pending),
        }
        if isinstance(card, ModelCard):
            card = card.replace(**weights)
        else:
            data = dict(card)
            data.pop("encoding", None)  # model.encoding holds it
            card = ModelCard.from_dict({**data, **weights, "model": model.config.to_dict()}, card_path)
        ModelCard.from_dict(card.to_dict(), card_path)  # an inconsistent card fails here, before any file changes
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, weights_path)
    write_card(card_path, card)
    return card_path


def write_card(card_path: str | Path, card: ModelCard | Mapping[str, Any]) -> ModelCard:
    """Check ``card`` and write it as JSON (atomically: a reader never sees half a card); returns the card.

    The only writer of card files. A mapping goes through :meth:`ModelCard.from_dict` first, and
    a ``ModelCard`` is checked the same way, so an inconsistent card is never written.

    Raises:
        BundleError: the card is inconsistent (the message names the field).
    """
    card_path = Path(card_path)
    data = card.to_dict() if isinstance(card, ModelCard) else dict(card)
    checked = ModelCard.from_dict(data, card_path)
    text = json.dumps(checked.to_dict(), indent=2, sort_keys=False) + "\n"
    tmp = card_path.with_name(f".{card_path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, card_path)
    return checked


def update_card(card_path: str | Path, change: Callable[[ModelCard], ModelCard]) -> ModelCard:
    """Re-read the card from disk, apply ``change`` and write it back; returns the new card.

    Commands that add one section (metrics, motifs, calibration, reference) use this rather than
    writing the card they loaded minutes ago, so another command's section written meanwhile stays.
    """
    path, card = read_card(card_path)
    return write_card(path, change(card))


def read_card(name_or_path: str | Path) -> tuple[Path, ModelCard]:
    """The card's path and the checked card (see :meth:`ModelCard.from_dict`)."""
    card_path = resolve_card_path(name_or_path)
    if not card_path.is_file():
        shipped = ", ".join(SHIPPED_MODELS)
        raise BundleError(f"no model card at {card_path}; give a shipped model ({shipped}) or a bundle path")
    try:
        data = json.loads(card_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{card_path} is not valid JSON: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"cannot read the model card {card_path}: {exc}") from exc
    return card_path, ModelCard.from_dict(data, card_path)


def load_bundle(name_or_path: str | Path, device: str | torch.device = "auto") -> ModelBundle:
    """Load a bundle on ``device``, checking the card and the weights' sha256 against it."""
    card_path, card = read_card(name_or_path)
    weights_path = card_path.with_name(card.weights_file)
    if not weights_path.is_file():
        raise BundleError(f"{card_path} names {weights_path.name}, which is missing next to it")
    actual = sha256_of(weights_path)
    if actual != card.weights_sha256:
        raise BundleError(
            f"checksum mismatch for {weights_path}: the card says sha256 {card.weights_sha256[:12]}..., "
            f"the file has {actual[:12]}...; the file is corrupt or not the one the card describes"
        )
    tensors = load_file(str(weights_path))
    found = len({key.split(".")[1] for key in tensors if key.startswith("members.")})
    if found != card.members:
        raise BundleError(f"{card_path}: members is {card.members} but {weights_path.name} holds {found} members; "
                          "the card does not describe these weights")  # fmt: skip
    model = Ensemble([ConvLSTM(card.model) for _ in range(card.members)], card.motif_member)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        detail = str(exc) if len(str(exc)) <= 400 else str(exc)[:400] + "..."
        raise BundleError(f"{weights_path} does not fit the architecture in {card_path}: {detail}") from exc
    model.eval().to(resolve_device(device))
    return ModelBundle(card.name or card_path.stem, card, model, card_path)
