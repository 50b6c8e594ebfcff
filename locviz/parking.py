"""A run's training checkpoint parked in git, so that a fresh checkout goes on from the same epoch.

A working session lends the machine for a few hours and takes the git-ignored ``runs/`` folder with it; a
DeepLoc member needs more CPU time than one session has. At the end of its time the campaign parks the run in
progress (``PARKED/RUN.safetensors`` for every tensor of the checkpoint, ``PARKED/RUN.json`` for the rest, with
the tensors' sha256 and the run's settings) and commits it; the next start restores the checkpoint and resumes.
Safetensors and JSON, never a pickle: a parked file is read as data, like the shipped weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from locviz.errors import BundleError

FORMAT = 1
CHECKPOINT = "checkpoint.pt"  # the run folder's own checkpoint (locviz.train.fit), loaded with weights_only=True
SMALL_FILES = ("history.json", "before.json", "teacher.json")
"""Run-folder files a resumed run reads: its epochs, the replaced member measured once, a student's teacher."""


def encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``obj`` as JSON, each tensor replaced by its key in ``tensors`` (nested dicts, lists, numbers, strings)."""
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous().clone()
        return {"tensor": path}
    if isinstance(obj, dict):  # keys keep their type (an optimiser's state is keyed by parameter number)
        return {"dict": [[key, encode(value, f"{path}.{key}", tensors)] for key, value in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"list": [encode(value, f"{path}.{i}", tensors) for i, value in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise BundleError(f"cannot park a {type(obj).__name__} at {path}: only tensors, numbers, strings and containers")


def decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`encode`."""
    if "tensor" in tree:
        return tensors[tree["tensor"]]
    if "dict" in tree:
        return {key: decode(value, tensors) for key, value in tree["dict"]}
    if "list" in tree:
        return [decode(value, tensors) for value in tree["list"]]
    return tree["value"]


def paths(parked_dir: Path, run: str) -> tuple[Path, Path]:
    return parked_dir / f"{run}.safetensors", parked_dir / f"{run}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def park(run_dir: Path, parked_dir: Path, run: str, settings: dict[str, Any]) -> list[Path]:
    """Write ``run``'s checkpoint (and its small files) from ``run_dir`` into ``parked_dir``; returns the files."""
    state = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
    tensors: dict[str, torch.Tensor] = {}
    tree = encode(state, "checkpoint", tensors)
    parked_dir.mkdir(parents=True, exist_ok=True)
    weights, meta = paths(parked_dir, run)
    save_file(tensors, str(weights))
    files = {name: (run_dir / name).read_text() for name in SMALL_FILES if (run_dir / name).is_file()}
    meta.write_text(json.dumps({"format": FORMAT, "run": run, "settings": settings, "epoch": int(state["epoch"]),
                                "tensors_sha256": _sha256(weights), "checkpoint": tree,
                                "files": files}) + "\n")  # fmt: skip
    return [weights, meta]


def parked_epoch(parked_dir: Path, run: str) -> int | None:
    """The epoch ``run`` was parked after, or None when it is not parked."""
    _, meta = paths(parked_dir, run)
    return int(json.loads(meta.read_text())["epoch"]) if meta.is_file() else None


def parked_history(parked_dir: Path, run: str) -> list[dict]:
    """The parked run's epoch rows (for the status table of a machine without its run folder)."""
    _, meta = paths(parked_dir, run)
    if not meta.is_file():
        return []
    text = json.loads(meta.read_text())["files"].get("history.json")
    return json.loads(text) if text else []


def unpark(parked_dir: Path, run_dir: Path, run: str, settings: dict[str, Any]) -> int | None:
    """Restore ``run``'s parked checkpoint into ``run_dir`` (only where the run folder has none); returns the epoch
    it resumes after, or None when nothing was parked.

    Raises:
        BundleError: the parked files do not match (sha256), or the run's settings changed since it was parked.
    """
    weights, meta_path = paths(parked_dir, run)
    if not meta_path.is_file() or (run_dir / CHECKPOINT).is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT or meta.get("run") != run:
        raise BundleError(f"{meta_path} is not a parked checkpoint of {run} (format {FORMAT})")
    if not weights.is_file() or _sha256(weights) != meta["tensors_sha256"]:
        raise BundleError(f"{weights} is missing or does not match the sha256 in {meta_path}; restore it from git")
    if meta["settings"] != settings:
        raise BundleError(f"{run}'s settings changed since it was parked after epoch {meta['epoch']}; rename the run "
                          f"in the plan to start it afresh, or delete {meta_path} and {weights}")  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    state = decode(meta["checkpoint"], load_file(str(weights)))
    torch.save(state, run_dir / CHECKPOINT)
    for name, text in meta["files"].items():
        (run_dir / name).write_text(text)
    return int(meta["epoch"])


def discard(parked_dir: Path, run: str) -> list[Path]:
    """Delete ``run``'s parked files (it finished); returns the paths that were there, for the commit."""
    gone = [p for p in paths(parked_dir, run) if p.is_file()]
    for p in gone:
        p.unlink()
    return gone
