"""The typed model card: shipped cards round-trip, bad cards are refused by name, display names, commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_bundle

from locviz.card import (
    CalibrationCard,
    MemberTraining,
    ModelCard,
    MotifsInfo,
    ReferenceCard,
    display_name,
    portable_command,
)
from locviz.cli import main
from locviz.datasets import DEEPLOC_CLASSES
from locviz.encoding import LengthPolicy
from locviz.errors import BundleError
from locviz.model import ModelConfig
from locviz.weights import load_bundle, read_card, resolve_card_path, update_card, write_card


# ------------------------------------------------------------------ shipped cards
@pytest.mark.parametrize("name", ["multiloc", "deeploc"])
def test_shipped_card_round_trips_byte_for_byte(name: str) -> None:
    path, card = read_card(name)
    on_disk = json.loads(path.read_text())
    assert card.to_dict() == on_disk and list(card.to_dict()) == list(on_disk)
    assert ModelCard.from_dict(card.to_dict(), path) == card
    assert "encoding" not in on_disk  # model.encoding holds it, once
    assert card.members == len(card.training) >= 4 and card.model.n_classes == len(card.classes)
    assert card.calibration is None or len(card.calibration.member_temperatures) in (0, card.members)
    assert card.motifs is not None and card.motifs.file == f"{name}.motifs.npz"


def test_shipped_members_validation_folds() -> None:
    deeploc = read_card("deeploc")[1]
    assert [deeploc.member_validation_fold(k) for k in range(4)] == [0, 1, 2, 3]
    multiloc = read_card("multiloc")[1]
    assert [multiloc.member_validation_fold(k) for k in range(4)] == [1, 2, 3, 4]
    assert 0 not in multiloc.data_folds() and multiloc.dataset == "multiloc"  # fold 0 is the test fold
    with pytest.raises(BundleError, match="no member 4"):
        multiloc.member_validation_fold(4)


# ------------------------------------------------------------------ refusals name the file and the field
@pytest.fixture
def good(tmp_path: Path) -> tuple[Path, dict]:
    path = make_tiny_bundle(tmp_path / "m", ("a", "b", "c"), members=2)
    return path, json.loads(path.read_text())


def refused(path: Path, data: dict, *fragments: str) -> str:
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError) as info:
        load_bundle(path, device="cpu")
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_wrong_class_count_is_refused(good: tuple[Path, dict]) -> None:
    path, data = good
    refused(path, {**data, "classes": ["a", "b"]}, "classes", "2 class ids", "model.n_classes is 3")


def test_missing_field_is_refused(good: tuple[Path, dict]) -> None:
    path, data = good
    for key in ("classes", "model", "members", "weights_sha256", "length_policy"):
        refused(path, {k: v for k, v in data.items() if k != key}, f"{key} is missing")
    model = {k: v for k, v in data["model"].items() if k != "n_classes"}
    refused(path, {**data, "model": model}, "model.n_classes is missing")


def test_bad_types_are_refused(good: tuple[Path, dict]) -> None:
    path, data = good
    refused(path, {**data, "members": "2"}, "members must be an integer", "'2'")
    refused(path, {**data, "classes": "abc"}, "classes must be a list")
    refused(path, {**data, "weights_sha256": "abc"}, "weights_sha256 must be a sha256")
    refused(path, {**data, "length_policy": {"max_length": 0}}, "length_policy.max_length must be >= 1")
    refused(path, {**data, "model": {**data["model"], "lstm_hidden": 1.5}}, "model.lstm_hidden must be an integer")
    member = {"dataset": "x", "train_folds": [1, 2], "validation_fold": "3"}
    refused(path, {**data, "training": [member, member]}, "training[0].validation_fold must be an integer")
    refused(path, {**data, "metrics": {"cv": {"accuracy": "high"}}}, "metrics['cv'].accuracy must be a number")


def test_inconsistent_cards_are_refused(good: tuple[Path, dict]) -> None:
    path, data = good
    member = {"dataset": "x", "train_folds": [1, 2], "validation_fold": 3}
    refused(path, {**data, "training": [member]}, "training has 1 entries for 2 members")
    refused(path, {**data, "training": [member, {**member, "validation_fold": 2}]},
            "training[1].validation_fold is also one of the training folds")  # fmt: skip
    refused(path, {**data, "motif_member": 2}, "motif_member must be below members (2)")
    refused(path, {**data, "motif_member": 1, "motifs_file": "x.motifs.npz", "motifs_sha256": "0" * 64,
                   "motifs_member": 0}, "motifs_member must be motif_member (1): the logos must describe")  # fmt: skip
    refused(path, {**data, "metrics": {"cv": {"member": 5}}}, "metrics['cv'].member")
    refused(path, {**data, "metrics": {"cv": {"confusion_matrix": [[1, 0], [0, 1]]}}}, "must be 3 x 3")
    refused(path, {**data, "metrics": {"cv": {"folds": [0, "1"]}}}, "metrics['cv'].folds")
    refused(path, {**data, "encoding": "onehot"}, "encoding disagrees with model.encoding")
    refused(path, {**data, "format_version": 99}, "newer than this locviz reads")
    refused(path, {**data, "calibration": {"method": "temperature", "temperature": -1}},
            "calibration.temperature must be > 0")  # fmt: skip
    bins = {"confidence": [0.5], "accuracy": [0.4, 0.6], "count": [3]}
    refused(path, {**data, "calibration": {"method": "temperature", "metrics": {"reliability_after": bins}}},
            "calibration.metrics.reliability_after must have lists of one length")  # fmt: skip
    refused(path, {**data, "reference": {"sha256": "0" * 64}}, "reference.file is missing")


def test_a_member_count_the_weights_do_not_have_is_refused(good: tuple[Path, dict]) -> None:
    path, data = good
    refused(path, {**data, "members": 3}, "members is 3 but m.safetensors holds 2 members")
    refused(path, {**data, "model": {**data["model"], "lstm_hidden": 9}}, "does not fit the architecture")


def test_legacy_encoding_key_is_read_and_dropped(good: tuple[Path, dict]) -> None:
    path, data = good
    path.write_text(json.dumps({**data, "encoding": data["model"]["encoding"]}))
    card = load_bundle(path, device="cpu").card
    assert "encoding" not in card.to_dict() and card.model.encoding == data["model"]["encoding"]


# ------------------------------------------------------------------ writing
def test_write_card_refuses_an_inconsistent_card_and_leaves_the_file(good: tuple[Path, dict]) -> None:
    path, _ = good
    before = path.read_text()
    card = read_card(path)[1]
    with pytest.raises(BundleError, match="motif_member must be below"):
        write_card(path, card.replace(motif_member=7))
    assert path.read_text() == before


def test_update_card_rereads_so_sections_written_meanwhile_stay(good: tuple[Path, dict]) -> None:
    path, _ = good
    stale = read_card(path)[1]  # loaded before another command adds a section
    calibration = CalibrationCard("temperature", 1.4, "folds 1-4", {"ece_before": 0.08, "ece_after": 0.03, "n": 9})
    update_card(path, lambda c: c.replace(calibration=calibration))
    update_card(path, lambda c: c.with_metrics("cv", {"n": 9, "accuracy": 0.5}))
    card = read_card(path)[1]
    assert card.calibration == calibration and card.metrics["cv"]["accuracy"] == 0.5
    assert stale.calibration is None


def test_every_section_round_trips(tmp_path: Path) -> None:
    card = ModelCard(
        ("plasma_membrane", "Cell.membrane"), ModelConfig(2), LengthPolicy(None),
        name="x", members=2, motif_member=1, weights_file="x.safetensors", weights_sha256="a" * 64,
        training=(MemberTraining("multiloc", {"f.fasta": "b" * 64}, (2, 3), 1, history=({"epoch": 1},)),
                  MemberTraining("multiloc", {}, (1, 3), 2, seconds=3)),
        metrics={"cv": {"n": 3, "accuracy": 0.5, "folds": [1], "member": 1}},
        provenance="made here", ensemble_command="locviz ensemble a b --out x", note="test",
        motifs=MotifsInfo("x.motifs.npz", "c" * 64, "folds 1-3", 1, "locviz motifs"),
        calibration=CalibrationCard("temperature", 1.2, "folds 1-2", {"ece_after": 0.02}, "locviz calibrate"),
        reference=ReferenceCard("x.reference.fa.gz", "d" * 64, 10, ("multiloc folds 1-3",), "locviz reference",
                                {"identity_threshold": 0.4}),
        extra={"future_section": {"kept": True}},
    )  # fmt: skip
    path = tmp_path / "x.json"
    assert write_card(path, card) == card
    assert read_card(path)[1] == card
    assert json.loads(path.read_text())["future_section"] == {"kept": True}
    assert [what for what, _ in card.commands()] == [  # members and evaluations without a command are skipped
        "merge the members into one bundle", "filter logos for the app", "calibration",
        "reference set of annotated proteins",
    ]
    assert card.member_validation_fold(1) == 2


def test_card_file_names_resolve(tmp_path: Path) -> None:
    assert resolve_card_path("multiloc").name == "multiloc.json"
    assert resolve_card_path(tmp_path / "m.safetensors") == tmp_path / "m.json"
    assert resolve_card_path(tmp_path / "m") == tmp_path / "m.json"


# ------------------------------------------------------------------ display names
@pytest.mark.parametrize(
    ("class_id", "words"),
    [
        ("plasma_membrane", "plasma membrane"),
        ("Endoplasmic.reticulum", "endoplasmic reticulum"),
        ("Lysosome/Vacuole", "lysosome/vacuole"),
        ("Cell.membrane", "cell membrane"),
        ("Golgi.apparatus", "Golgi apparatus"),
        ("Golgi", "Golgi"),
        ("ER", "ER"),
        ("Nucleus", "nucleus"),
        ("mitochondrial", "mitochondrial"),
    ],
)
def test_display_names(class_id: str, words: str) -> None:
    assert display_name(class_id) == words


def test_card_display_names_keep_ids_apart() -> None:
    card = read_card("deeploc")[1]
    assert card.classes == DEEPLOC_CLASSES  # ids unchanged
    assert card.display_name("Cell.membrane") == "cell membrane"
    assert len(set(card.display_names)) == len(card.classes) and "_" not in "".join(card.display_names)


# ------------------------------------------------------------------ reproduce commands in a clone
def test_portable_command_names_the_data_folder_as_a_variable() -> None:
    recorded = "locviz train --dataset multiloc --data .devdata/multiloc --val-fold 1 --out runs/final/m1"
    assert portable_command(recorded) == (
        'locviz train --dataset multiloc --data "$DATA/multiloc" --val-fold 1 --out runs/final/m1'
    )
    assert portable_command("locviz evaluate --data=/x/y/deeploc/ --folds 0") == (
        'locviz evaluate --data="$DATA/deeploc" --folds 0'
    )
    assert portable_command("locviz predict 'my file.fa' --out p.tsv") == "locviz predict 'my file.fa' --out p.tsv"


def test_every_shipped_command_runs_from_a_clone() -> None:
    """No recorded command keeps the trainer's scratch folder once made portable."""
    recorded = []
    for name in ("multiloc", "deeploc"):
        card = read_card(name)[1]
        commands = [portable_command(c) for _, c in card.commands()]
        assert commands and all(".devdata" not in c for c in commands)
        assert all(f'--data "$DATA/{name}"' in c for c in commands if "--data" in c)
        recorded += [c for _, c in card.commands()]
    # the record itself stays true (members trained on the GPU machine's scratch copy, until the campaign
    # replaces them: multiloc's members are all campaign fine-tunes now, recorded as `locviz campaign ... --only`)
    assert any(".devdata" in c for c in recorded) or all("--only" in c for c in recorded if "train" in c)


# ------------------------------------------------------------------ the CLI builds typed cards
def tiny_deeploc(folder: Path, per_class: int = 3) -> Path:
    """A DeepLoc-format data set of random proteins in folds 0-2 (plumbing only)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    fasta, folds = [], ["accession\tlocation\tfold"]
    for c, location in enumerate(DEEPLOC_CLASSES):
        for k in range(per_class):
            acc = f"T{c:02d}{k}"
            fasta.append(f">{acc} {location}\n{''.join(rng.choice(list('ACDEFGHIKLMNPQRSTVWY'), 40))}")
            folds.append(f"{acc}\t{location}\t{k % 3}")
    (folder / "train.fasta").write_text("\n".join(fasta) + "\n")
    (folder / "folds.tsv").write_text("\n".join(folds) + "\n")
    return folder


def test_train_ensemble_evaluate_write_typed_cards(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tiny_deeploc(tmp_path / "data")
    small = ["--filters-per-width", "2", "--conv2-channels", "0", "--lstm-hidden", "4", "--epochs", "1",
             "--device", "cpu", "--no-progress", "--max-length", "50"]  # fmt: skip
    for fold in (1, 2):
        train_folds = [f for f in (0, 1, 2) if f != fold]
        args = ["train", "--dataset", "deeploc", "--data", str(data), "--val-fold", str(fold), "--train-folds",
                *map(str, train_folds), "--out", str(tmp_path / f"run{fold}"), *small]  # fmt: skip
        assert main(args) == 0, capsys.readouterr().err
    out = tmp_path / "bundle"
    assert main(["ensemble", str(tmp_path / "run1"), str(tmp_path / "run2"), "--out", str(out)]) == 0
    card = load_bundle(out, device="cpu").card
    assert card.members == 2 and [card.member_validation_fold(k) for k in (0, 1)] == [1, 2]
    assert card.training[0].dataset == "deeploc" and card.training[1].train_folds == (0, 1)
    assert card.training[0].command.startswith("locviz train --dataset deeploc")  # what was run, not pytest's argv
    assert "--val-fold 1" in card.commands()[0][1]
    assert card.ensemble_command.startswith("locviz ensemble") and card.length_policy == LengthPolicy(50)
    evaluate = ["evaluate", "--model", str(out), "--dataset", "deeploc", "--data", str(data), "--folds", "2",
                "--member", "1", "--device", "cpu", "--update-card", "cv_member1_fold2"]  # fmt: skip
    assert main(evaluate) == 0, capsys.readouterr().err
    card = load_bundle(out, device="cpu").card
    report = card.metrics["cv_member1_fold2"]
    assert report["member"] == 1 and report["folds"] == [2] and report["n"] == len(DEEPLOC_CLASSES)
    assert "encoding" not in json.loads((tmp_path / "bundle.json").read_text())


def test_ensemble_refuses_members_that_differ(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for k, classes in enumerate((("a", "b"), ("a", "c"))):
        (tmp_path / f"r{k}").mkdir()
        make_tiny_bundle(tmp_path / f"r{k}" / "member", classes, members=1)
    assert main(["ensemble", str(tmp_path / "r0"), str(tmp_path / "r1"), "--out", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err
    assert "differs" in err and "'classes'" in err


def test_shipped_cards_are_untouched_by_loading() -> None:
    """Loading never rewrites a card (only commands with --update-card and the like do)."""
    path = resolve_card_path("multiloc")
    before = path.stat().st_mtime_ns, path.read_bytes()
    load_bundle("multiloc", device="cpu")
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


# ------------------------------------------------------------------ the reliability diagram reads the card
def test_reliability_diagram_draws_the_cards_bins() -> None:
    from locviz import figures

    bins = {"edges": [0, 0.5, 1], "confidence": [0.4, None], "accuracy": [0.3, None], "count": [5, 0]}
    after = {**bins, "confidence": [0.42, 0.8], "accuracy": [0.4, 0.75], "count": [3, 2]}
    card = ModelCard(
        ("a", "b"), ModelConfig(2), LengthPolicy(), name="m",
        calibration=CalibrationCard("temperature", 1.5, "folds 1-2",
                                    {"ece_before": 0.1, "ece_after": 0.04, "n": 5, "reliability_before": bins,
                                     "reliability_after": after}),
    )  # fmt: skip
    fig = figures.reliability_diagram(card)
    lines = {t.name: t for t in fig.data}
    assert list(lines["before calibration (ECE 0.100)"].x) == [0.4]  # the empty bin is not drawn
    assert list(lines["after calibration (ECE 0.040)"].y) == [0.4, 0.75]
    assert "T = 1.5" in fig.layout.title.subtitle.text
    # a fast student (one network at its own temperature) is not described as members
    student = card.replace(calibration=CalibrationCard("member-temperatures", 1.0, "fold 0", card.calibration.metrics,
                                                       member_temperatures=(0.9,)))  # fmt: skip
    names = {t.name for t in figures.reliability_diagram(student).data}
    assert "out-of-fold, raw (ECE 0.100)" in names and not any("members" in n for n in names)
    with pytest.raises(ValueError, match="no calibration section"):
        figures.reliability_diagram(card.replace(calibration=None))
