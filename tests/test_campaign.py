"""The training campaign: signal supervision, warm start, weight averaging, stages, resume and shipping."""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_config

from locviz import campaign, parking
from locviz.card import MemberTraining
from locviz.datasets import MULTILOC_CLASSES, load_dataset
from locviz.distill import teacher_probabilities
from locviz.encoding import LengthPolicy, tokenize
from locviz.errors import BundleError, InputError
from locviz.model import ConvLSTM, Ensemble
from locviz.sequences import ProteinRecord
from locviz.supervision import (
    NO_SIGNAL_PEPTIDE,
    AttentionTarget,
    Deletion,
    Span,
    attention_loss,
    build_deletions,
    build_insertions,
    build_targets,
    deletion_loss,
    residue_auroc,
    rule_spans,
)
from locviz.train import (
    Deadline,
    TrainConfig,
    encode_records,
    fit,
    learning_rate_at,
    validate,
    validation_deletion,
)
from locviz.weights import load_bundle, save_bundle

RESIDUES = "ACDEFGHIKLMNPQRSTVWY"


def fake_multiloc(folder: Path, per_class: int = 5, seed: int = 0) -> None:
    """A MultiLoc-shaped folder: one FASTA per class, folds 0-4; peroxisomal proteins end in SKL."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    rows = ["accession\tlocation\tfold"]
    for c, location in enumerate(MULTILOC_CLASSES):
        with open(folder / f"{location}.fasta", "w") as handle:
            for k in range(per_class):
                acc = f"P{c:02d}{k:03d}"
                seq = "M" + "".join(rng.choice(list(RESIDUES), int(rng.integers(20, 40))))
                if location == "peroxisomal":
                    seq += "SKL"
                handle.write(f">{acc}\n{seq}\n")
                rows.append(f"{acc}\t{location}\t{k % 5}")
    (folder / "folds.tsv").write_text("\n".join(rows) + "\n")


def tiny_trained_bundle(stem: Path) -> Path:
    """A 2-member tiny bundle whose card says member k trained on folds 1-4 minus fold k+1, validated on k+1."""
    torch.manual_seed(0)
    model = Ensemble([ConvLSTM(tiny_config(len(MULTILOC_CLASSES))) for _ in range(2)])
    training = [
        MemberTraining(dataset="multiloc", train_folds=tuple(f for f in (1, 2, 3, 4) if f != k + 1),
                       validation_fold=k + 1).to_dict()
        for k in range(2)
    ]  # fmt: skip
    card = {"classes": list(MULTILOC_CLASSES), "length_policy": LengthPolicy(200).to_dict(),
            "encoding": model.config.encoding, "training": training, "metrics": {}}  # fmt: skip
    return save_bundle(stem, model, card)


def write_plan(path: Path, root: Path) -> Path:
    path.write_text(f"""
[campaign]
data = "{root / "data"}"
runs = "{root / "runs"}"
results = "{root / "results"}"

[defaults.finetune]
epochs = 2
learning_rate = 1e-3
schedule = "cosine"
average_last = 2
batch_size = 8

[[run]]
name = "plain"
kind = "finetune"
dataset = "multiloc"
model = "{root / "bundle"}"
member = 0
stage = "levers"

[[run]]
name = "supervised"
kind = "finetune"
dataset = "multiloc"
model = "{root / "bundle"}"
member = 0
stage = "levers"
attention = {{ pts1 = 2.0 }}

[[run]]
name = "member0"
kind = "finetune"
dataset = "multiloc"
model = "{root / "bundle"}"
member = 0
levers_from = "levers"
ship = "{root / "bundle"}"
""")
    return path


def test_rules_are_gated_by_the_training_label() -> None:
    assert [s.kind for s in rule_spans("MAAAASKL", "peroxisomal")] == ["pts1"]
    assert rule_spans("MAAAASKL", "cytoplasmic") == []  # an SKL ending alone is not taught as a PTS1
    assert [(s.start, s.end) for s in rule_spans("MAAAAKDEL", "Endoplasmic.reticulum")] == [(6, 9)]


def test_targets_follow_the_length_policy_and_skip_unseen_signals() -> None:
    records = [ProteinRecord("a", "M" * 50 + "SKL"), ProteinRecord("b", "M" * 60), ProteinRecord("c", "A" * 60)]
    table = {"c": [Span("signal_peptide", 20, 30, "t")]}
    targets = build_targets(records, np.array([8, 8, 3]), MULTILOC_CLASSES, np.arange(3), LengthPolicy(20), table,
                            {"pts1": 1.0, "signal_peptide": 1.0})  # fmt: skip
    assert set(targets) == {0}  # b has no signal; c's residues 20-30 are cut by the 20-residue policy
    assert targets[0].mask.tolist() == [False] * 17 + [True] * 3


def test_attention_loss_is_lowest_when_attention_sits_on_the_signal() -> None:
    target = AttentionTarget(np.array([False, False, True, True]), 1.0, ("pts1",))
    on = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    off = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    assert attention_loss(on, [target]).item() < 1e-6
    assert attention_loss(off, [target]).item() > 10
    assert attention_loss(on, [None]) is None
    assert residue_auroc(np.array([0.1, 0.2, 0.9, 0.8]), target.mask) == 1.0


SECRETED = "MKWVTFISLLFLFSSAYS" + "RGVFRRDAHKSEVAHRFKDLGEENFKALVLIAFAQYLQQCPFEDHVK"  # albumin's signal peptide


def test_deletions_follow_the_signal_and_the_class() -> None:
    records = [ProteinRecord("perox", "MAAAAGGGSKL"), ProteinRecord("cyto", "MAAAAGGGSKL"),
               ProteinRecord("table", SECRETED), ProteinRecord("rule", SECRETED), ProteinRecord("membrane", SECRETED),
               ProteinRecord("negative", SECRETED), ProteinRecord("cytosolic", "MSTNPKPQRKTKRNTNRRPQ")]  # fmt: skip
    labels = np.array([MULTILOC_CLASSES.index(c) for c in ("peroxisomal", "cytoplasmic", "extracellular",
                       "extracellular", "plasma_membrane", "extracellular", "cytoplasmic")])  # fmt: skip
    table = {"table": [Span("signal_peptide", 1, 18, "t")], "membrane": [Span("signal_peptide", 1, 18, "t")],
             "negative": [Span(NO_SIGNAL_PEPTIDE, 0, 0, "t")]}  # fmt: skip
    policy, every = LengthPolicy(200), np.arange(len(records))
    train = build_deletions(records, labels, MULTILOC_CLASSES, every, policy, table)
    # an SKL on a cytosolic protein routes nothing; a membrane protein may anchor; SignalP's negatives get no rule
    assert set(train) == {0, 2, 3}
    assert [d.tokens.tolist() for d in train[0]] == [tokenize("MAAAAGGG").tolist()]
    assert [len(d.tokens) for d in train[2]] == [len(SECRETED) - 18, len(SECRETED) - 17]  # bare, and Met put back
    assert [d.share for d in train[2]] == [0.5, 0.5]  # the two variants share one deletion's weight
    assert train[3][0].kind == "signal_peptide"  # found by the h-region rule on an extracellular training protein
    measured = build_deletions(records, labels, MULTILOC_CLASSES, every, policy, table, training=False)
    assert set(measured) == {0, 2} and len(measured[2]) == 1  # the table's spans only, deleted as the benchmark does
    added = build_insertions(records, labels, MULTILOC_CLASSES, every, policy, ["pts1", "er_retention"], per_kind=5)
    assert set(added) == {2, 3, 5, 6}  # KDEL on secreted proteins, SKL on the cytosolic one not ending in SKL already
    assert added[6][0].label == MULTILOC_CLASSES.index("peroxisomal")
    assert added[2][0].label == MULTILOC_CLASSES.index("ER") and len(added[2][0].tokens) == len(SECRETED) + 4


def test_deletions_and_insertions_are_cut_by_the_length_policy_after_the_edit() -> None:
    long = "M" + "A" * 40 + "G" * 40 + "SKL"
    records, labels = [ProteinRecord("p", long)], np.array([MULTILOC_CLASSES.index("peroxisomal")])
    policy = LengthPolicy(20)  # first 10 and last 10 residues
    (copy,) = build_deletions(records, labels, MULTILOC_CLASSES, np.arange(1), policy, {})[0]
    assert copy.tokens.tolist() == tokenize(policy.crop(long[:-3])[0]).tolist()
    records, labels = [ProteinRecord("c", long[:-3])], np.array([MULTILOC_CLASSES.index("cytoplasmic")])
    (added,) = build_insertions(records, labels, MULTILOC_CLASSES, np.arange(1), policy, ["pts1"], per_kind=1)[0]
    assert added.tokens.tolist() == tokenize(policy.crop(long)[0]).tolist()  # the appended SKL survives the crop


def test_deletion_loss_is_the_unlikelihood_and_keeps_its_gradient_when_confident() -> None:
    logits = torch.tensor([[4.0, 0.0], [-4.0, 0.0]])
    p_first = logits.softmax(1)[:, 0]
    assert torch.allclose(deletion_loss(logits, torch.tensor([0, 0])), -torch.log(1 - p_first))
    confident = torch.tensor([[30.0, 0.0]], requires_grad=True)
    loss = deletion_loss(confident, torch.tensor([0]))
    loss.sum().backward()
    assert loss.item() == pytest.approx(30.0, abs=1e-3) and confident.grad[0, 0].item() > 0.99


def test_the_deletion_term_makes_the_call_depend_on_the_signal(tmp_path: Path) -> None:
    """Class 0 is lysine-rich *and* ends in SKL; with its SKL-deleted copies trained away, the SKL decides."""
    rng = np.random.default_rng(0)
    seqs = []
    for k in range(96):
        if k % 2 == 0:
            body = "".join(c if rng.random() > 0.3 else "K" for c in rng.choice(list("ACDEFGHILMNPQRSTVWY"), 10))
            seqs.append("M" + body + "SKL")
        else:
            seqs.append("M" + "".join(rng.choice(list("ACDEFGHILMNPQSTVWY"), 10)))
    labels, tokens = np.arange(96) % 2, [tokenize(s) for s in seqs]
    deletions = {i: [Deletion(tokenize(seqs[i][:-3]), "pts1")] for i in range(0, 96, 2)}
    train, val = np.arange(64), np.arange(64, 96)
    held_out = {i: deletions[i] for i in val if i in deletions}
    moved = []
    for seed in (0, 1, 2):  # one seed can land at 12 of 16; the claim is about the term, not a lucky seed
        config = TrainConfig(epochs=50, batch_size=16, learning_rate=2e-2, patience=100, seed=seed,
                             deletion_weights={"pts1": 1.0})  # fmt: skip
        result = fit(tiny_config(2), config, tokens, labels, train, val, ("perox", "cyto"), tmp_path / str(seed),
                     torch.device("cpu"), progress=False, log=lambda _: None,
                     deletions={i: deletions[i] for i in train if i in deletions},
                     validation_deletions=held_out)  # fmt: skip
        assert result.history[0]["deletion_pts1"] < 0.5  # measured every epoch on validation proteins only
        assert result.history[-1]["val_accuracy"] >= 0.9
        moved.append(result.history[-1]["deletion_pts1"])
        best = next(h for h in result.history if h["epoch"] == result.best_epoch)  # the weights fit() returns
        again = validation_deletion(result.model, tokens, labels, held_out, torch.device("cpu"))["deletion_pts1"]
        assert again == pytest.approx(best["deletion_pts1"])
    assert np.mean(moved) >= 0.8, moved  # without the term, seeds 0-2 gave 0.44, 0.69, 0.00


def test_cosine_schedule_and_weight_averaging(tmp_path: Path) -> None:
    config = TrainConfig(epochs=5, learning_rate=1e-2, min_learning_rate=1e-4, schedule="cosine")
    rates = [learning_rate_at(config, e) for e in range(1, 6)]
    assert rates[0] == pytest.approx(1e-2) and rates[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))
    rng = np.random.default_rng(0)
    tokens = [rng.integers(0, 20, 20).astype(np.uint8) for _ in range(24)]
    labels = np.arange(24) % 2
    start = ConvLSTM(tiny_config(2)).state_dict()
    train = TrainConfig(epochs=3, batch_size=8, learning_rate=1e-2, average_last=2, patience=10)
    result = fit(tiny_config(2), train, tokens, labels, np.arange(16), np.arange(16, 24), ("a", "b"), tmp_path,
                 torch.device("cpu"), progress=False, log=lambda _: None, init_state=start)  # fmt: skip
    assert result.best_epoch == 3  # the average ends at the last epoch, whatever epoch validated best
    assert len(result.history) == 3 and result.history[0]["learning_rate"] == pytest.approx(1e-2)


def test_campaign_runs_stages_ships_and_resumes(tmp_path: Path) -> None:
    fake_multiloc(tmp_path / "data" / "multiloc")
    tiny_trained_bundle(tmp_path / "bundle")
    plan = campaign.read_plan(write_plan(tmp_path / "plan.toml", tmp_path))
    before = load_bundle(tmp_path / "bundle", device="cpu")
    assert [r["state"] for r in campaign.status_rows(plan)] == ["left", "left", "waiting"]

    campaign.run_campaign(plan, log=lambda _: None)

    rows = {r["run"]: r for r in campaign.status_rows(plan)}
    assert {r["state"] for r in rows.values()} == {"done"}
    shipped = json.loads((tmp_path / "results" / "member0.json").read_text())
    assert shipped["reused"] == "supervised"  # the supervised run wins by rule; it is shipped, not retrained
    assert "auroc_pts1" in shipped["attention"]
    after = load_bundle(tmp_path / "bundle", device="cpu")
    assert after.card.training[0].train_config["campaign_run"] == "supervised"
    assert after.card.training[0].command.endswith("--only supervised")  # a command that reruns exactly that run
    assert after.card.training[0].validation_fold == 1 and after.card.training[1] == before.card.training[1]
    w_before = before.model.members[0].classifier.weight
    assert not torch.equal(w_before, after.model.members[0].classifier.weight)
    assert torch.equal(before.model.members[1].classifier.weight, after.model.members[1].classifier.weight)
    assert "cv_member0_fold1" in after.card.metrics  # refreshed by `locviz evaluate`
    assert after.card.ensemble_command == "" and "member 0: bundle member 0 fine-tuned (campaign run supervised" in (
        after.card.provenance)  # the card says how each member was made now, not how the bundle once was
    assert "member 1:" in after.card.provenance and "outside the campaign" in after.card.provenance

    # a new machine: checkpoints gone, committed results kept -> nothing runs again
    shutil.rmtree(tmp_path / "runs")
    assert campaign.run_campaign(plan, log=lambda _: None) == 0
    assert load_bundle(tmp_path / "bundle", device="cpu").card.weights_sha256 == after.card.weights_sha256


def test_plan_errors_name_the_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[run]]\nname = "x"\nkind = "finetune"\ndataset = "multiloc"\nmodel = "m"\nmember = 0\n'
                   'validation_fold = 0\n')  # fmt: skip
    with pytest.raises(InputError, match="test fold"):
        campaign.read_plan(bad)
    bad.write_text('[[run]]\nname = "x"\nkind = "finetune"\ndataset = "multiloc"\nmodel = "m"\nmember = 0\nlr = 1\n')
    with pytest.raises(InputError, match="unknown setting"):
        campaign.read_plan(bad)


def test_train_init_from_fine_tunes_one_member_on_its_own_folds(tmp_path: Path, capsys) -> None:
    from locviz import cli

    fake_multiloc(tmp_path / "data" / "multiloc")
    tiny_trained_bundle(tmp_path / "bundle")
    data, bundle = str(tmp_path / "data" / "multiloc"), str(tmp_path / "bundle")
    base = ["train", "--dataset", "multiloc", "--data", data, "--init-from", bundle, "--member", "1",
            "--epochs", "2", "--batch-size", "8", "--no-progress"]  # fmt: skip
    assert cli.main([*base, "--val-fold", "3", "--out", str(tmp_path / "bad")]) == 1  # member 1 validated on 2
    assert cli.main([*base, "--deletion", "nls=1", "--out", str(tmp_path / "bad")]) == 1
    assert "deletion weight for unknown signal 'nls'" in capsys.readouterr().err
    assert cli.main([*base, "--attention", "pts1=2", "--deletion", "pts1=4", "--insertion", "pts1=1",
                     "--out", str(tmp_path / "ft")]) == 0  # fmt: skip
    member = load_bundle(tmp_path / "ft" / "member", device="cpu").card.training[0]
    assert (member.validation_fold, member.train_folds) == (2, (1, 3, 4))
    assert member.train_config["attention_weights"] == {"pts1": 2.0}
    assert member.train_config["deletion_weights"] == {"pts1": 4.0}
    assert member.train_config["insertion_weights"] == {"pts1": 1.0}
    assert member.train_config["init_from"] == "bundle member 1" and member.epochs_run == 2


def test_student_learns_from_its_teacher_and_ships_as_its_own_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_multiloc(tmp_path / "data" / "multiloc")
    tiny_trained_bundle(tmp_path / "bundle")
    plan_path = tmp_path / "plan.toml"
    plan_path.write_text(f"""
[campaign]
data = "{tmp_path / "data"}"
runs = "{tmp_path / "runs"}"
results = "{tmp_path / "results"}"

[[run]]
name = "fast"
kind = "student"
dataset = "multiloc"
model = "{tmp_path / "bundle"}"
validation_fold = 1
ship = "{tmp_path / "fast"}"
epochs = 2
batch_size = 8
shape = {{ lstm_hidden = 4, attention_hidden = 4, dense_hidden = 4, filters_per_width = 2, conv2_channels = 4 }}
""")
    assert campaign.run_campaign(campaign.read_plan(plan_path), log=lambda _: None) == 0
    fast = load_bundle(tmp_path / "fast", device="cpu")
    assert fast.config.lstm_hidden == 4 and len(fast.model.members) == 1
    assert fast.card.training[0].train_config["teacher"].startswith("bundle (2 members")
    assert fast.card.training[0].validation_fold == 1 and 1 not in fast.card.training[0].train_folds
    teacher = np.load(tmp_path / "runs" / "fast" / "teacher.npy")
    assert np.allclose(teacher[teacher.sum(1) > 0].sum(1), 1.0, atol=1e-4)  # probabilities on training proteins
    assert "cv_member0_fold1" in fast.card.metrics
    # ship_if_better: a second student on the same fold replaces the shipped one only if it is more accurate there
    shipped = fast.card.metrics["cv_member0_fold1"]["accuracy"]
    run = campaign.Run(name="again", kind="student", dataset="multiloc", ship=str(tmp_path / "fast"),
                       ship_if_better=True)  # fmt: skip
    assert "the shipped fast has" in campaign.shipped_is_better(run, {"validation_fold": 1,
                                                                       "validation": {"accuracy": shipped}})
    assert campaign.shipped_is_better(run, {"validation_fold": 1, "validation": {"accuracy": shipped + 0.01}}) is None
    with pytest.raises(InputError, match="needs .*fast.json validated on fold 2 .*--update-card cv_member0_fold2"):
        campaign.shipped_is_better(run, {"validation_fold": 2, "validation": {"accuracy": 0.0}})
    plan_path.write_text(plan_path.read_text() + f"""
[[run]]
name = "again"
kind = "student"
dataset = "multiloc"
model = "{tmp_path / "bundle"}"
validation_fold = 1
ship = "{tmp_path / "fast"}"
ship_if_better = true
""")
    worse = {"run": "again", "validation_fold": 1, "validation": {"accuracy": shipped - 0.1, "gorodkin_mcc": 0.0}}
    monkeypatch.setattr(campaign, "train_run", lambda *a, **k: dict(worse))
    assert campaign.run_campaign(campaign.read_plan(plan_path), log=lambda _: None, only="again") == 0
    assert load_bundle(tmp_path / "fast", device="cpu").card.weights_sha256 == fast.card.weights_sha256
    assert "the shipped fast has" in json.loads((tmp_path / "results" / "again.json").read_text())["not_shipped"]
    monkeypatch.undo()
    # the time left is paced by runs of the same size: a second student by this one, a full-size member by the plan
    plan_path.write_text(plan_path.read_text() + f"""
[[run]]
name = "fast-again"
kind = "student"
dataset = "multiloc"
model = "{tmp_path / "bundle"}"
validation_fold = 2
epochs = 3

[[run]]
name = "member"
kind = "new"
dataset = "multiloc"
ship = "{tmp_path / "bundle"}"
validation_fold = 2
epochs = 3
""")
    plan = campaign.read_plan(plan_path)
    rows = {r["run"]: r for r in campaign.status_rows(plan)}
    student_epoch = float(np.median([h["seconds"] for h in campaign.result_of(plan, plan.runs[0])["history"]]))
    assert rows["fast-again"]["hours_left"] == pytest.approx(3 * student_epoch / 3600)
    assert rows["member"]["hours_left"] == pytest.approx(3 * campaign.SECONDS_PER_EPOCH["multiloc"] / 3600)


def test_a_student_can_learn_only_from_members_blind_to_its_validation_fold(tmp_path: Path) -> None:
    """teacher_members = "without_validation_fold": no teacher member trained or was validated on the student's
    fold, so its figure there is clean cross-validation; with none such, the refusal says what to do."""
    fake_multiloc(tmp_path / "data" / "multiloc")
    torch.manual_seed(0)
    folds = [((2, 3, 4), 1), ((1, 2), 3), ((1, 3), 2)]  # members 1 and 2 never saw fold 4
    training = [MemberTraining(dataset="multiloc", train_folds=t, validation_fold=v).to_dict() for t, v in folds]
    card = {"classes": list(MULTILOC_CLASSES), "length_policy": LengthPolicy(200).to_dict(),
            "encoding": "onehot+blosum62", "training": training, "metrics": {}}  # fmt: skip
    members = [ConvLSTM(tiny_config(len(MULTILOC_CLASSES))) for _ in range(3)]
    save_bundle(tmp_path / "bundle", Ensemble(members), card)
    run = ('[[run]]\nname = "{n}"\nkind = "student"\ndataset = "multiloc"\nmodel = "{m}"\nvalidation_fold = {v}\n'
           'teacher_members = "without_validation_fold"\nepochs = 1\nbatch_size = 8\n'
           'shape = {{ lstm_hidden = 4, attention_hidden = 4, dense_hidden = 4 }}\n')  # fmt: skip
    head = f'[campaign]\ndata = "{tmp_path / "data"}"\nruns = "{tmp_path / "runs"}"\nresults = "{tmp_path / "res"}"\n'
    path = tmp_path / "plan.toml"
    bundle = tmp_path / "bundle"
    path.write_text(head + run.format(n="blind", m=bundle, v=4) + run.format(n="none", m=bundle, v=3))
    plan = campaign.read_plan(path)
    result = campaign.train_run(plan, plan.runs[0], log=lambda _: None)
    assert result["train_folds"] == [1, 2, 3] and result["validation_fold"] == 4
    data = load_dataset("multiloc", tmp_path / "data" / "multiloc")
    tokens = encode_records(data.records, LengthPolicy(200))
    blind = Ensemble(members[1:]).eval()
    _, report = validate(blind, tokens, data.labels, data.subset([4]), data.classes, torch.device("cpu"))
    assert result["teacher_validation"]["accuracy"] == pytest.approx(report["accuracy"])  # members 1, 2 on fold 4
    member = load_bundle(tmp_path / "runs" / "blind" / "member", device="cpu").card.training[0]
    assert member.train_config["teacher"].startswith("bundle members 1, 2 (none trained or was validated on fold 4")
    teacher = np.load(tmp_path / "runs" / "blind" / "teacher.npy")
    train_idx = data.subset([1, 2, 3])
    expected = teacher_probabilities(blind, [tokens[i] for i in train_idx], torch.device("cpu"))
    assert np.allclose(teacher[train_idx], expected, atol=1e-5)  # members 1 and 2 averaged, member 0 not
    assert {r["run"]: r["state"] for r in campaign.status_rows(plan)}["none"] == "waiting"
    assert "never saw fold 3 (it has 0)" in campaign.waits_for(plan, plan.runs[1])
    with pytest.raises(InputError, match="has 0 member.s. that never saw fold 3, 2 are needed"):
        campaign.train_run(plan, plan.runs[1], log=lambda _: None)
    # the cached soft targets say which teacher made them; a resumed run refuses another teacher's
    made_by = tmp_path / "runs" / "blind" / "teacher.json"
    assert json.loads(made_by.read_text())["teacher"] == member.train_config["teacher"]
    made_by.write_text(json.dumps({"teacher": "bundle members 0, 1", "weights_sha256": "x"}))
    with pytest.raises(InputError, match="trained from another teacher.*Delete .*blind"):
        campaign.train_run(plan, plan.runs[0], log=lambda _: None)
    path.write_text(head + run.format(n="x", m=tmp_path / "bundle", v=4).replace('kind = "student"', 'kind = "new"'))
    with pytest.raises(InputError, match="teacher_members is for students"):
        campaign.read_plan(path)
    path.write_text(head + run.format(n="x", m=bundle, v=4) + "ship_if_better = true\n")
    with pytest.raises(InputError, match="ship_if_better is for students that ship"):
        campaign.read_plan(path)
    path.write_text(head + run.format(n="x", m=bundle, v=4) + 'ship = "s"\nship_if_better = "false"\n')
    with pytest.raises(InputError, match="ship_if_better must be true or false"):
        campaign.read_plan(path)


def test_a_stop_file_ends_the_campaign_between_runs(tmp_path: Path) -> None:
    fake_multiloc(tmp_path / "data" / "multiloc")
    tiny_trained_bundle(tmp_path / "bundle")
    plan = campaign.read_plan(write_plan(tmp_path / "plan.toml", tmp_path))
    plan.runs_dir.mkdir(parents=True)
    (plan.runs_dir / "STOP").touch()
    assert campaign.run_campaign(plan, log=lambda _: None) == 2
    assert not (plan.runs_dir / "STOP").exists() and campaign.result_of(plan, plan.runs[0]) is None


def small_campaign(root: Path) -> str:
    """A fake MultiLoc and a tiny trained bundle under ``root``; returns the plan's ``[campaign]`` table."""
    fake_multiloc(root / "data" / "multiloc")
    tiny_trained_bundle(root / "bundle")
    return f'[campaign]\ndata = "{root / "data"}"\nruns = "{root / "runs"}"\nresults = "{root / "res"}"\n'


class OneEpochDeadline(Deadline):
    """Time runs out after one epoch in this process (what a real deadline does, without waiting for it)."""

    def passed_before(self, epoch: int, history, epochs: int) -> bool:
        return bool(history)


def test_hours_park_the_run_in_progress_and_a_fresh_checkout_goes_on_from_it(tmp_path: Path, monkeypatch) -> None:
    """A session's run folder dies with it: with --hours the run in progress is parked (safetensors + JSON, meant
    for git) and the next start, without the run folder, resumes at the parked epoch and ends as an unbroken run."""
    results = {}
    for name, pause in (("unbroken", False), ("parked", True)):
        head = small_campaign(tmp_path / name)
        runs = ('[[run]]\nname = "lever"\nkind = "finetune"\ndataset = "multiloc"\nmodel = "{m}"\nmember = 0\n'
                'stage = "lev"\nepochs = 1\nbatch_size = 8\nattention = {{ pts1 = 2.0 }}\n'
                '[[run]]\nname = "long"\nkind = "finetune"\ndataset = "multiloc"\nmodel = "{m}"\nmember = 1\n'
                'levers_from = "lev"\nepochs = 3\n')  # "long" trains with the stage winner's settings filled in
        path = tmp_path / name / "plan.toml"
        path.write_text(head + runs.format(m=tmp_path / name / "bundle"))
        plan = campaign.read_plan(path)
        lines: list[str] = []
        if pause:
            monkeypatch.setattr(campaign, "Deadline", OneEpochDeadline)
            assert campaign.run_campaign(plan, log=lines.append, hours=1.0) == 2
            assert any(line.startswith("--hours: long parked after epoch 1 of 3") for line in lines)
            parked = sorted(p.name for p in campaign.parked_dir(plan).iterdir())
            assert parked == ["long.json", "long.safetensors"] and campaign.result_of(plan, plan.runs[1]) is None
            shutil.rmtree(plan.runs_dir)  # a fresh checkout: only what git holds
            row = campaign.status_rows(plan)[1]
            assert (row["state"], row["epochs"]) == ("parked", "1/3")
            monkeypatch.undo()
        assert campaign.run_campaign(plan, log=lines.append) == 0
        if pause:
            assert any("restored the checkpoint parked after epoch 1" in line for line in lines)
            assert any("resumed from" in line and "after epoch 1" in line for line in lines)
            assert not campaign.parked_dir(plan).exists() or not any(campaign.parked_dir(plan).iterdir())
        results[name] = campaign.result_of(plan, plan.runs[1])
    unbroken, parked = results["unbroken"], results["parked"]
    assert [h["epoch"] for h in parked["history"]] == [1, 2, 3]
    for a, b in zip(unbroken["history"], parked["history"], strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)  # the same training, paused or not
    assert parked["validation"]["accuracy"] == unbroken["validation"]["accuracy"]


def test_a_parked_checkpoint_round_trips_and_refuses_changed_settings_or_files(tmp_path: Path) -> None:
    model = ConvLSTM(tiny_config(len(MULTILOC_CLASSES)))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randint(0, 20, (2, 30)), torch.tensor([30, 20])).logits.sum().backward()
    optimiser.step()
    state = {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "best_model": None, "epoch": 4,
             "history": json.dumps([{"epoch": 4}]), "best_acc": 0.5, "torch_rng": torch.get_rng_state()}  # fmt: skip
    run_folder, parked = tmp_path / "runs" / "r", tmp_path / "parked"
    run_folder.mkdir(parents=True)
    torch.save(state, run_folder / parking.CHECKPOINT)
    (run_folder / "before.json").write_text('{"accuracy": 0.7}')
    files = parking.park(run_folder, parked, "r", {"epochs": 10})
    assert [f.name for f in files] == ["r.safetensors", "r.json"] and parking.parked_epoch(parked, "r") == 4
    fresh = tmp_path / "fresh" / "r"
    with pytest.raises(BundleError, match="settings changed since it was parked after epoch 4"):
        parking.unpark(parked, fresh, "r", {"epochs": 12})
    assert parking.unpark(parked, fresh, "r", {"epochs": 10}) == 4
    back = torch.load(fresh / parking.CHECKPOINT, weights_only=True)
    for key, value in state["model"].items():
        assert torch.equal(back["model"][key], value)
    again = torch.optim.Adam(ConvLSTM(tiny_config(len(MULTILOC_CLASSES))).parameters(), lr=1e-3)
    again.load_state_dict(back["optimiser"])  # what resuming does with it
    assert torch.equal(again.state_dict()["state"][0]["exp_avg"], optimiser.state_dict()["state"][0]["exp_avg"])
    assert back["best_model"] is None and back["epoch"] == 4 and torch.equal(back["torch_rng"], state["torch_rng"])
    assert (fresh / "before.json").read_text() == '{"accuracy": 0.7}'
    assert parking.unpark(parked, fresh, "r", {"epochs": 10}) is None  # a run folder with a checkpoint wins
    data = files[0].read_bytes()
    files[0].write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(BundleError, match="does not match the sha256"):
        parking.unpark(parked, tmp_path / "other" / "r", "r", {"epochs": 10})


def test_a_deadline_reads_the_recent_epochs_and_keeps_time_to_ship_the_last() -> None:
    now = time.time()
    deadline = Deadline(now + 100.0, epoch_estimate=50.0, after_last_epoch=80.0)
    assert not deadline.passed_before(1, [], epochs=5)  # 50 s (the planned pace) fits in 100
    slow = [{"seconds": s} for s in (10.0, 120.0, 130.0, 140.0)]
    assert deadline.passed_before(2, slow, epochs=5)  # the median of the last three: 130 s
    assert not deadline.passed_before(2, [{"seconds": 30.0}], epochs=5)
    assert deadline.passed_before(5, [{"seconds": 30.0}], epochs=5)  # the last epoch: 30 s + 80 s to ship it
    assert not Deadline(now + 100.0, 50.0, 0.0).passed_before(5, [{"seconds": 30.0}], epochs=5)


def test_a_new_member_can_leave_a_calibration_fold_out(tmp_path: Path) -> None:
    """exclude_folds keeps a fold free of new members (the ensemble's calibration fold); refusals name the run."""
    head = small_campaign(tmp_path)
    run = ('[[run]]\nname = "m2"\nkind = "new"\ndataset = "multiloc"\nmodel = "{m}"\nvalidation_fold = 3\n'
           'exclude_folds = [{x}]\ncalibration_fold = 4\nepochs = 1\nbatch_size = 8\n')  # fmt: skip
    path = tmp_path / "plan.toml"
    path.write_text(head + run.format(m=tmp_path / "bundle", x=3))
    with pytest.raises(InputError, match="m2.*validation fold 3 is in exclude_folds"):
        campaign.read_plan(path)
    path.write_text(head + run.format(m=tmp_path / "bundle", x=4))
    plan = campaign.read_plan(path)
    assert plan.runs[0].exclude_folds == (4,) and plan.runs[0].calibration_fold == 4
    result = campaign.train_run(plan, plan.runs[0], log=lambda _: None)
    assert result["train_folds"] == [1, 2] and result["validation_fold"] == 3
    member = load_bundle(tmp_path / "runs" / "m2" / "member", device="cpu").card.training[0]
    assert member.train_folds == (1, 2)  # what `locviz calibrate --calibration-fold 4` reads
    finetune = run.format(m=tmp_path / "bundle", x=4).replace('kind = "new"', 'kind = "finetune"\nmember = 0')
    path.write_text(head + finetune)
    with pytest.raises(InputError, match="a fine-tune trains on its member's folds"):
        campaign.read_plan(path)


def test_a_new_member_joins_a_calibrated_bundle_and_is_calibrated_with_the_rest(tmp_path: Path) -> None:
    """Appending a member leaves no card that fails to load: the bundle is written uncalibrated, then
    `locviz calibrate` fits one temperature per member, the new one included (2026-12-07: deeploc-m4)."""
    from locviz import cli

    head = small_campaign(tmp_path)
    stem = tmp_path / "bundle"
    data = str(tmp_path / "data" / "multiloc")
    assert cli.main(["calibrate", "--model", str(stem), "--dataset", "multiloc", "--data", data, "--no-progress"]) == 0
    bundle = load_bundle(stem, device="cpu")
    assert len(bundle.card.calibration.member_temperatures) == 2
    weights = (tmp_path / "bundle.safetensors").read_bytes()
    three = Ensemble([*bundle.model.members, copy.deepcopy(bundle.model.members[0])], bundle.model.motif_member)
    with pytest.raises(BundleError, match="has 2 entries for 3 members"):
        save_bundle(stem, three, bundle.card)  # refused before any file is written
    assert (tmp_path / "bundle.safetensors").read_bytes() == weights and not list(tmp_path.glob(".bundle*.tmp"))
    path = tmp_path / "plan.toml"
    path.write_text(head + f'[[run]]\nname = "m2"\nkind = "new"\ndataset = "multiloc"\nmodel = "{stem}"\n'
                    f'validation_fold = 3\nepochs = 1\nbatch_size = 8\nship = "{stem}"\n')  # fmt: skip
    assert campaign.run_campaign(campaign.read_plan(path), log=lambda _: None) == 0
    card = load_bundle(stem, device="cpu").card
    assert card.members == 3 and len(card.calibration.member_temperatures) == 3
    assert "cv_member2_fold3" in card.metrics


def test_only_runs_the_named_run(tmp_path: Path) -> None:
    """`locviz campaign PLAN --only RUN` is what a shipped member's card records as its command."""
    fake_multiloc(tmp_path / "data" / "multiloc")
    tiny_trained_bundle(tmp_path / "bundle")
    plan = campaign.read_plan(write_plan(tmp_path / "plan.toml", tmp_path))
    with pytest.raises(InputError, match="has no run named 'nope'; runs: plain, supervised, member0"):
        campaign.run_campaign(plan, log=lambda _: None, only="nope")
    assert campaign.run_campaign(plan, log=lambda _: None, only="supervised") == 0
    assert [r["state"] for r in campaign.status_rows(plan)] == ["left", "done", "waiting"]
    assert campaign.run_campaign(plan, log=lambda _: None, only="member0") == 1  # its stage is not finished


def test_a_supervised_run_meeting_the_attention_target_wins_over_a_better_mcc(tmp_path: Path) -> None:
    extra = write_plan(tmp_path / "plan.toml", tmp_path)
    extra.write_text(extra.read_text() + f"""
[[run]]
name = "strong"
kind = "finetune"
dataset = "multiloc"
model = "{tmp_path / "bundle"}"
member = 0
stage = "levers"
attention = {{ pts1 = 4.0 }}
""")
    plan = campaign.read_plan(extra)
    plan.results_dir.mkdir(parents=True)

    def result(name: str, mcc: float, pts1: float) -> None:
        validation = {"gorodkin_mcc": mcc, "accuracy": mcc}
        (plan.results_dir / f"{name}.json").write_text(json.dumps({"validation": validation, "attention": {
            "auroc_pts1": pts1, "auroc_signal_peptide": 0.99, "auroc_er_retention": None}}))  # fmt: skip

    result("plain", 0.90, 0.10)  # no supervision: a "before" row, never the winner
    result("supervised", 0.80, 0.85)
    result("strong", 0.78, 0.93)
    assert campaign.stage_winner(plan, "levers").name == "strong"  # the only one on target (None: no such proteins)
    result("strong", 0.78, 0.89)
    assert campaign.stage_winner(plan, "levers").name == "supervised"  # none on target: the best MCC
    result("supervised", 0.80, 0.95)
    result("strong", 0.78, 0.95)
    moved = json.loads((plan.results_dir / "strong.json").read_text())
    moved["deletion"] = {"deletion_pts1": 0.85, "deletion_signal_peptide": 0.9}
    (plan.results_dir / "strong.json").write_text(json.dumps(moved))
    assert campaign.stage_winner(plan, "levers").name == "strong"  # both on attention target; only strong's call moves


def test_recipe_text_reads_a_chain_of_fine_tunes() -> None:
    from locviz.card import recipe_text

    assert recipe_text({"epochs": 200}) == "from scratch"
    first = recipe_text({"kind": "finetune", "attention_weights": {"pts1": 4.0, "signal_peptide": 1.0},
                         "label_smoothing": 0.1})  # fmt: skip
    assert first == "fine-tune + signal supervision (SP 1, PTS1 4) + label smoothing 0.1"
    second = recipe_text({"kind": "finetune", "deletion_weights": {"pts1": 4.0}, "init_recipe": first})
    assert second == f"fine-tune + deletion (PTS1 4), started from a member trained by: {first}"
    # a fine-tune of a from-scratch member reads like one whose card does not say where it started
    assert recipe_text({"kind": "finetune", "label_smoothing": 0.1, "init_recipe": "from scratch"}) == recipe_text(
        {"kind": "finetune", "label_smoothing": 0.1})
    student = recipe_text({"kind": "student", "teacher": "deeploc (4 members, averaged)",
                           "attention_weights": {"signal_peptide": 1.0}})  # fmt: skip
    assert student == "student of deeploc (4 members, averaged) + signal supervision (SP 1)"


def test_a_new_member_replaces_one_on_its_fold_only_within_the_accuracy_it_may_lose(tmp_path: Path) -> None:
    """replaces = K: trained from scratch on member K's fold, compared with member K there ("before"), and
    shipped in its place unless it loses more than max_accuracy_loss; refusals name the run."""
    head = small_campaign(tmp_path)
    stem = tmp_path / "bundle"
    run = ('[[run]]\nname = "{name}"\nkind = "new"\ndataset = "multiloc"\nvalidation_fold = {fold}\n'
           'ship = "{m}"\nreplaces = {k}\nmax_accuracy_loss = {loss}\nepochs = 1\nbatch_size = 8\n')  # fmt: skip
    path = tmp_path / "plan.toml"
    path.write_text(head + run.format(name="r", fold=2, m=stem, k="true", loss=0.0))
    with pytest.raises(InputError, match=r"\(r\): replaces is for new members that ship"):
        campaign.read_plan(path)
    path.write_text(head + run.format(name="r", fold=2, m=stem, k=0, loss=1.5))
    with pytest.raises(InputError, match=r"\(r\): max_accuracy_loss is a share of accuracy in \[0, 1\)"):
        campaign.read_plan(path)
    path.write_text(head + run.format(name="r", fold=3, m=stem, k=0, loss=0.0))
    with pytest.raises(InputError, match="r: member 0 of .* is validated on fold 1, the run on fold 3"):
        campaign.run_campaign(campaign.read_plan(path), log=lambda _: None)  # refused before it trains
    assert not (tmp_path / "runs" / "r").exists()

    from locviz import cli

    data = str(tmp_path / "data" / "multiloc")
    assert cli.main(["calibrate", "--model", str(stem), "--dataset", "multiloc", "--data", data, "--no-progress"]) == 0
    before = load_bundle(stem, device="cpu")
    fold1 = load_dataset("multiloc", data)
    tokens = encode_records(fold1.records, before.card.length_policy)
    _, shipped0 = validate(before.model.members[0], tokens, fold1.labels, fold1.subset([1]), fold1.classes, "cpu")
    # a replacement that may lose everything ships; one that may lose nothing ships only if not worse
    path.write_text(head + run.format(name="r1", fold=1, m=stem, k=0, loss=0.999)
                    + run.format(name="r2", fold=2, m=stem, k=1, loss=0.0))  # fmt: skip
    plan = campaign.read_plan(path)
    assert campaign.run_campaign(plan, log=lambda _: None) == 0
    r1, r2 = (campaign.result_of(plan, r) for r in plan.runs)
    after = load_bundle(stem, device="cpu")
    assert after.card.members == 2 and "not_shipped" not in r1
    assert r1["before"]["accuracy"] == pytest.approx(shipped0["accuracy"]) and r1["train_folds"] == [2, 3, 4]
    assert len(after.card.calibration.member_temperatures) == 2  # refitted with the new member, not carried over
    assert after.card.training[0].train_config["replaces"] == "bundle member 0 (as shipped)"
    assert after.card.training[0].train_config["kind"] == "new"
    assert not torch.equal(before.model.members[0].classifier.weight, after.model.members[0].classifier.weight)
    worse = r2["validation"]["accuracy"] < r2["before"]["accuracy"]
    assert ("not_shipped" in r2) == worse
    assert campaign.status_rows(plan)[1]["state"] == ("not shipped" if worse else "done")
    assert campaign.format_status(campaign.status_rows(plan)).endswith("2 of 2 runs done; about 0.0 h left at the "
                                                                       "recent pace")  # fmt: skip
    kept = torch.equal(before.model.members[1].classifier.weight, after.model.members[1].classifier.weight)
    assert kept == worse
    # the rule itself, on both sides of the line
    strict = plan.runs[1]
    outcome = {"validation_fold": 2, "before": {"accuracy": 0.70}, "validation": {"accuracy": 0.69}}
    assert campaign.replacement_is_worse(strict, outcome) == (
        "accuracy 0.6900 on fold 2 against 0.7000 for member 1 (more than 0.000 lower)")
    lenient = campaign.Run(**{**strict.__dict__, "max_accuracy_loss": 0.01})
    assert campaign.replacement_is_worse(lenient, outcome) is None

    # a session ended after r1 shipped, before its result was written: the rerun keeps the first comparison
    # (not the shipped r1 against itself) and names the member it replaced
    campaign.result_path(plan, plan.runs[0]).unlink()
    assert campaign.run_campaign(plan, log=lambda _: None, only="r1") == 0
    again = campaign.result_of(plan, plan.runs[0])
    assert again["before"] == r1["before"]
    assert load_bundle(stem, device="cpu").card.training[0].train_config["replaces"] == "bundle member 0 (as shipped)"
    # ... and without the kept figures it refuses rather than compare the member with itself
    campaign.result_path(plan, plan.runs[0]).unlink()
    (tmp_path / "runs" / "r1" / campaign.BEFORE_FILE).unlink()
    with pytest.raises(InputError, match="r1: the member it would compare with is already its own"):
        campaign.run_campaign(plan, log=lambda _: None, only="r1")


def test_the_shipped_plan_reads_and_each_replacement_is_on_its_member_s_fold() -> None:
    """A slip in weights/campaign.toml would only show when the campaign reaches that run, hours into a session."""
    from locviz.weights import read_card

    root = Path(__file__).resolve().parent.parent
    plan = campaign.read_plan(root / "weights" / "campaign.toml")
    replacing = [r for r in plan.runs if r.replaces is not None]
    assert replacing, "the plan replaces members 0-3 of deeploc"
    for run in replacing:
        _, card = read_card(root / run.ship)
        assert card.training[run.replaces].validation_fold == run.validation_fold, run.name
        assert run.calibration_fold in run.exclude_folds, run.name  # blind to the calibration fold like 4-6
