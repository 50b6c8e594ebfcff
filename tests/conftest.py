"""Shared fixtures: tiny, seeded, untrained bundles that stand in for the shipped ones.

Tests that check plumbing (shapes, files, CLI, UI) use these; tests that check
science use the shipped weights in ``weights/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES
from locviz.encoding import LengthPolicy
from locviz.model import ConvLSTM, Ensemble, ModelConfig
from locviz.prediction import Prediction
from locviz.sequences import STANDARD_RESIDUES
from locviz.weights import save_bundle

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO.parent / "shared" / "data"

# Real proteins (UniProt) used across tests.
HUMAN_INSULIN = (  # P01308
    "MALWMRLLPLLALLALWGPDPAAAFVNQHLCGSHLVEALYLVCGERGFFYTPKTRREAEDLQVGQVELGGGPGAGSLQPLALEGSLQKRGIVEQCCTSICSLYQLENYCN"
)
UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
HISTONE_H4 = (
    "MSGRGKGGKGLGKGGAKRHRKVLRDNIQGITKPAIRRLARRGGVKRISGLIYEETRGVLKVFLENVIRDAVTYTEHAKRKTVTAMDVVYALKRQGRTLYGFGG"
)
GFP = (
    "MSKGEELFTGVVPVVLVELDGDVNGHKFSVSGEGEGDATYGKLTLKFICTTGKLPVPWPTLVTTFSYGVQCFSRYPDHMKQHDFFKSAMPEGYVQERTIFFK"
    "DDGNYKTRAEVKFEGDTLVNRIELKGIDFKEDGNILGHKLEYNYNSHNVYIMADKQKNGIKVNFKIRHNIEDGSVQLADHYQQNTPIGDGPVLLPDNHYLSTQS"
    "ALSKDPNEKRDHMVLLEFVTAAGITHGMDELYK"
)


def tiny_config(n_classes: int) -> ModelConfig:
    return ModelConfig(
        n_classes=n_classes,
        conv_widths=(1, 3, 5),
        filters_per_width=4,
        conv2_channels=8,
        lstm_hidden=8,
        attention_hidden=8,
        dense_hidden=8,
    )


def make_tiny_bundle(stem: Path, classes: tuple[str, ...], members: int = 2, seed: int = 0) -> Path:
    """Write a seeded random bundle at ``stem`` (.safetensors + .json); returns the card path."""
    torch.manual_seed(seed)
    model = Ensemble([ConvLSTM(tiny_config(len(classes))) for _ in range(members)])
    card = {
        "classes": list(classes),
        "length_policy": LengthPolicy(200).to_dict(),
        "encoding": model.config.encoding,
        "training": [],
        "metrics": {},
        "note": "tiny random test bundle, not trained",
    }
    return save_bundle(stem, model, card)


@pytest.fixture(scope="session")
def tiny_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tiny ``multiloc`` and ``deeploc`` bundles (point LOCVIZ_WEIGHTS here)."""
    folder = tmp_path_factory.mktemp("weights")
    make_tiny_bundle(folder / "multiloc", MULTILOC_CLASSES)
    make_tiny_bundle(folder / "deeploc", DEEPLOC_CLASSES)
    return folder


@pytest.fixture(scope="session")
def tiny_card(tiny_weights_dir: Path) -> Path:
    return tiny_weights_dir / "multiloc.json"


def synthetic_prediction(
    length: int = 150,
    seen_upto: int | None = 120,
    seed: int = 0,
    pid: str = "P12345",
    n_filters: int = 12,
    n_members: int = 3,
    filter_member: int = 1,
    notes: tuple[str, ...] = (),
    seen_ends: int | None = None,
) -> Prediction:
    """A random multiloc-shaped Prediction (no model); residues after ``seen_upto`` count as cut by the policy, or,
    with ``seen_ends``, all but the first and last ``seen_ends`` (the long-sequence policy's unseen middle)."""
    rng = np.random.default_rng(seed)
    classes = list(MULTILOC_CLASSES)
    sequence = "".join(rng.choice(list(STANDARD_RESIDUES), length))
    seen = np.ones(length, dtype=bool)
    if seen_upto is not None:
        seen[seen_upto:] = False
    if seen_ends is not None:
        seen[seen_ends : length - seen_ends] = False
    attention = rng.random(length)
    attention[~seen] = np.nan
    attention /= np.nansum(attention)
    members = rng.dirichlet(np.ones(len(classes)) * 5, size=n_members)
    acts = rng.random((n_filters, length))
    acts[:, ~seen] = np.nan
    return Prediction(
        pid, sequence, classes, members.mean(0), attention, seen, "multiloc", members, acts, filter_member, list(notes)
    )


# ------------------------------------------------------------------ app tests (Streamlit's AppTest)
def no_problems(at: AppTest) -> None:
    """No exception and no error box on the page (the messages are shown when it fails)."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], bytes | str]]:
    """File name → the function a download button was given (Streamlit runs it when the button is clicked)."""
    from streamlit.runtime.media_file_manager import MediaFileManager  # only app tests pay for the import

    made: dict[str, Callable[[], bytes | str]] = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return made
