"""A training campaign that survives interruptions: a plan of runs, each resumed from its checkpoint.

The machine has 2 CPU cores and sessions end without warning, so training is a queue: ``locviz campaign
PLAN.toml`` reads the plan, skips finished runs (``RUNS/NAME/result.json``), resumes the unfinished one
from its per-epoch checkpoint and goes on to the next. A run that names a bundle in ``ship`` puts its
member into that shipped bundle when it finishes (card, sha256 and training history through
:mod:`locviz.weights`), refreshes the sections that member changes (its cross-validation metric,
calibration, motifs when it is the motif member, the combined call) and, with ``--commit``, commits the
bundle at once. A new machine without the checkpoints restarts only the unfinished run.

Runs in a ``stage`` compare levers on one fold; a run with ``levers_from = "STAGE"`` takes the settings of
that stage's winner, chosen by validation MCC (the member's own cross-validation fold, never a test fold).
When the winner is the same member on the same folds, its result is shipped as is, not trained again.
A new member with ``replaces = K`` is trained from scratch on member K's fold and takes its place only if its
accuracy there is at most ``max_accuracy_loss`` below member K's (the comparison is recorded either way).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from locviz import parking
from locviz.calibration import members_without
from locviz.card import SIGNAL_SHORT, MemberTraining, ModelCard, portable_command, recipe_text
from locviz.datasets import TEST_FOLD, LabelledSet, load_dataset
from locviz.distill import student_config, teacher_probabilities
from locviz.errors import InputError
from locviz.model import ConvLSTM, Ensemble
from locviz.supervision import (
    INSERTIONS,
    SIGNAL_TYPES,
    build_deletions,
    build_insertions,
    build_targets,
    read_signal_table,
)
from locviz.train import (
    Deadline,
    Paused,
    TrainConfig,
    encode_records,
    fit,
    train_config_dict,
    validate,
    validation_attention,
    validation_deletion,
)
from locviz.weights import ModelBundle, load_bundle, read_card, resolve_card_path, resolve_device, save_bundle

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

KINDS = ("finetune", "new", "student")
TEACHER_MEMBERS = ("all", "without_validation_fold")
"""A student's teacher: every member of ``model``, or only those that neither trained nor were validated on the
student's validation fold (then the student's figure there is clean cross-validation: no teacher saw the fold)."""
MIN_BLIND_TEACHER = 2
"""A blind teacher is an ensemble (as the calibration fold's is, ``check_calibration_fold``): the run waits until
``model`` has this many members that never saw the student's fold."""
SECONDS_PER_EPOCH = {"deeploc": 94.0, "multiloc": 35.0}
"""Measured on 2 idle CPU cores (one deeploc / multiloc epoch); used until a run has timed its own."""
STUDENT_EPOCH_SHARE = 0.4
"""A student's epoch against a full-size member's (2026-12-02: 60 s against ~150 s for DeepLoc on this machine)."""
SHIP_SECONDS = 900.0
"""Time to ship a finished run (the card sections its member changes recomputed, committed), for ``--hours``."""
PARK_SECONDS = 120.0
"""Time to park the run in progress and commit it when ``--hours`` runs out (a few MB written, one commit)."""
SIGNALS_FILE = Path("signals") / "deeploc_train_signals.tsv"


@dataclass
class Run:
    """One line of the plan: which member, from where, with which settings, and where it goes."""

    name: str
    kind: str  # "finetune": warm start from a shipped member; "new": from scratch on a fold no member validated;
    # "student": a smaller ConvLSTM trained on the probabilities of the ensemble ``model`` (locviz.distill)
    dataset: str
    model: str = ""  # the bundle a fine-tune starts from (and, by default, ships into)
    member: int | None = None  # fine-tune: which member of ``model``
    validation_fold: int | None = None  # new members
    stage: str = ""
    levers_from: str = ""
    ship: str = ""  # bundle stem to put the member in, e.g. "weights/deeploc"
    exclude_folds: tuple[int, ...] = ()  # new members: folds left out of training too (a calibration fold)
    calibration_fold: int | None = None  # shipping: refit the ensemble temperature on this fold when it can
    teacher_members: str = "all"  # students: TEACHER_MEMBERS
    ship_if_better: bool = False  # students: ship only if more accurate than the shipped one on the same fold
    replaces: int | None = None  # new members: the member of ``ship`` this one takes the place of (same fold)
    max_accuracy_loss: float = 0.0  # replacements: ship unless the fold's accuracy falls by more than this
    settings: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields + "attention"/"deletion"/"insertion"
    explicit: tuple[str, ...] = ()  # settings the run names itself (the rest come from [defaults.KIND])

    def describe_settings(self) -> str:
        shown = {k: v for k, v in self.settings.items() if k not in ("epochs",)}
        return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "defaults"


@dataclass
class Plan:
    path: Path
    data: Path
    runs_dir: Path  # checkpoints and member bundles of unfinished runs (git-ignored)
    results_dir: Path  # one JSON per finished run (committed: a new machine skips what is done)
    device: str
    runs: list[Run]


def read_plan(path: str | Path, data: str | Path | None = None) -> Plan:
    """Read and check a plan; relative paths in it are relative to the working folder (the repository root)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"no campaign plan at {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from exc
    head = raw.get("campaign", {})
    defaults = raw.get("defaults", {})
    runs, names = [], set()
    for k, entry in enumerate(raw.get("run", [])):
        where = f"{path}, run {k + 1}"
        entry = dict(entry)
        name = entry.pop("name", "")
        if not name or name in names:
            raise InputError(f"{where}: every run needs a unique name (got {name!r})")
        names.add(name)
        kind = entry.pop("kind", "")
        if kind not in KINDS:
            raise InputError(f"{where} ({name}): kind must be one of {', '.join(KINDS)}, not {kind!r}")
        fields = {f: entry.pop(f) for f in ("dataset", "model", "member", "validation_fold", "stage", "levers_from",
                                            "ship", "calibration_fold", "teacher_members", "ship_if_better",
                                            "replaces", "max_accuracy_loss")
                  if f in entry}  # fmt: skip
        if "exclude_folds" in entry:
            fields["exclude_folds"] = tuple(entry.pop("exclude_folds"))
        settings = {**defaults.get(kind, {}), **entry}
        run = Run(name=name, kind=kind, settings=settings, explicit=tuple(entry), **fields)
        check_run(run, where)
        runs.append(run)
    stages = {r.stage for r in runs if r.stage}
    for r in runs:
        if r.levers_from and r.levers_from not in stages:
            raise InputError(f"{path}: run {r.name} takes levers from stage {r.levers_from!r}, which no run has")
    data_dir = Path(data) if data is not None else Path(head.get("data", "../shared/data"))
    runs_dir, results_dir = Path(head.get("runs", "runs/campaign")), Path(head.get("results", "weights/campaign"))
    return Plan(path, data_dir, runs_dir, results_dir, head.get("device", "cpu"), runs)


def check_run(run: Run, where: str) -> None:
    if run.dataset not in SECONDS_PER_EPOCH:
        raise InputError(f"{where} ({run.name}): dataset must be deeploc or multiloc")
    if run.kind == "finetune" and (not run.model or run.member is None):
        raise InputError(f"{where} ({run.name}): a fine-tune needs model and member")
    if run.kind in ("new", "student") and run.validation_fold is None:
        raise InputError(f"{where} ({run.name}): a {run.kind} run needs validation_fold")
    if run.kind == "student" and not run.model:
        raise InputError(f"{where} ({run.name}): a student needs model (its teacher ensemble)")
    if run.validation_fold is not None and run.validation_fold == TEST_FOLD.get(run.dataset):
        raise InputError(f"{where} ({run.name}): fold {run.validation_fold} is the test fold")
    if not isinstance(run.ship_if_better, bool):
        raise InputError(f"{where} ({run.name}): ship_if_better must be true or false, not {run.ship_if_better!r}")
    if run.ship_if_better and (run.kind != "student" or not run.ship):
        raise InputError(f"{where} ({run.name}): ship_if_better is for students that ship (members compete in stages)")
    if run.teacher_members not in TEACHER_MEMBERS or (run.teacher_members != "all" and run.kind != "student"):
        raise InputError(f"{where} ({run.name}): teacher_members is for students, one of {', '.join(TEACHER_MEMBERS)}; "
                         f"got {run.teacher_members!r}")  # fmt: skip
    if run.exclude_folds and run.kind == "finetune":
        raise InputError(f"{where} ({run.name}): a fine-tune trains on its member's folds; exclude_folds is for new "
                         "members and students")  # fmt: skip
    if run.calibration_fold is not None and run.calibration_fold == TEST_FOLD.get(run.dataset):
        raise InputError(f"{where} ({run.name}): calibration_fold {run.calibration_fold} is the test fold")
    if run.validation_fold is not None and run.validation_fold == run.calibration_fold:
        raise InputError(f"{where} ({run.name}): a member validated on the calibration fold {run.calibration_fold} "
                         "would be chosen on it; validate on another fold and exclude it")  # fmt: skip
    if run.validation_fold is not None and run.validation_fold in run.exclude_folds:
        raise InputError(f"{where} ({run.name}): the validation fold {run.validation_fold} is in exclude_folds")
    if run.replaces is not None and (run.kind != "new" or not run.ship or not isinstance(run.replaces, int)
                                     or isinstance(run.replaces, bool) or run.replaces < 0):
        raise InputError(f"{where} ({run.name}): replaces is for new members that ship: the number of the member of "
                         f"{run.ship or 'ship'} they take the place of, not {run.replaces!r}")  # fmt: skip
    if not isinstance(run.max_accuracy_loss, (int, float)) or not 0 <= run.max_accuracy_loss < 1 or (
            run.max_accuracy_loss and run.replaces is None):  # fmt: skip
        raise InputError(f"{where} ({run.name}): max_accuracy_loss is a share of accuracy in [0, 1) that a "
                         f"replacement (replaces = K) may lose; got {run.max_accuracy_loss!r}")  # fmt: skip
    known = set(TrainConfig.__dataclass_fields__) | {"attention", "deletion", "insertion", "shape"}
    unknown = set(run.settings) - known
    if unknown:
        raise InputError(f"{where} ({run.name}): unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
    if int(run.settings.get("insertion_donors", 0)) < 0:
        raise InputError(f"{where} ({run.name}): insertion_donors must be 0 or more")
    for term, allowed in (("attention", SIGNAL_TYPES), ("deletion", SIGNAL_TYPES), ("insertion", tuple(INSERTIONS))):
        for kind in run.settings.get(term, {}):
            if kind not in allowed:
                raise InputError(f"{where} ({run.name}): {term} weight for unknown signal {kind!r}; known: "
                                 f"{', '.join(allowed)}")  # fmt: skip


# ----------------------------------------------------------------------------- state
def run_dir(plan: Plan, run: Run) -> Path:
    return plan.runs_dir / run.name


def result_path(plan: Plan, run: Run) -> Path:
    return plan.results_dir / f"{run.name}.json"


def result_of(plan: Plan, run: Run) -> dict | None:
    path = result_path(plan, run)
    return json.loads(path.read_text()) if path.is_file() else None


def history_of(plan: Plan, run: Run) -> list[dict]:
    """The unfinished run's epoch rows: its run folder's, else those of its parked checkpoint (a fresh checkout)."""
    path = run_dir(plan, run) / "history.json"
    return json.loads(path.read_text()) if path.is_file() else parking.parked_history(parked_dir(plan), run.name)


def parked_dir(plan: Plan) -> Path:
    """Where a run in progress is parked for the next checkout (committed, beside the finished runs' results)."""
    return plan.results_dir / "parked"


def _history(plan: Plan, run: Run) -> list[dict]:
    """Epoch rows: from the committed result once finished (a new machine has no run folder), else the run's."""
    result = result_of(plan, run)
    return list(result.get("history", [])) if result is not None else history_of(plan, run)


ATTENTION_TARGET = 0.9
"""Issue 12's target: median attention AUROC on every annotated signal type of the validation fold."""


def meets_attention_target(result: dict) -> bool:
    """Every signal type's validation attention AUROC (``auroc_*``, where the fold has such proteins) >= the target."""
    aurocs = [v for k, v in result.get("attention", {}).items() if k.startswith("auroc_") and v is not None]
    return bool(aurocs) and min(aurocs) >= ATTENTION_TARGET


DELETION_TARGET = 0.8
"""Issue 12's target: the share of validation proteins whose call moves when their signal is deleted."""


def meets_deletion_target(result: dict) -> bool:
    """Every signal type's validation deletion share (``deletion_*``, where measured) >= the target."""
    shares = [v for v in result.get("deletion", {}).values() if v is not None]
    return bool(shares) and min(shares) >= DELETION_TARGET


def stage_winner(plan: Plan, stage: str) -> Run | None:
    """The finished run of ``stage`` with the best validation MCC (accuracy breaks ties); None until all finish.

    Runs without attention supervision are the stage's "before" rows and never win: supervision is
    what the campaign is for, the levers are tried on top of it. Among the supervised runs, those whose
    attention meets :data:`ATTENTION_TARGET` on every signal type come first (attention that finds the
    signals is a goal of its own, measured on the same validation fold), and among those, runs whose
    call moves when a signal is deleted (:data:`DELETION_TARGET`); without one, the best MCC wins.
    """
    members = [r for r in plan.runs if r.stage == stage]
    results = [result_of(plan, r) for r in members]
    if not members or any(res is None for res in results):
        return None
    eligible = [
        (r, res) for r, res in zip(members, results, strict=True) if any(r.settings.get("attention", {}).values())
    ]
    eligible = eligible or list(zip(members, results, strict=True))
    eligible = [pair for pair in eligible if meets_attention_target(pair[1])] or eligible
    eligible = [pair for pair in eligible if meets_deletion_target(pair[1])] or eligible
    best = max(eligible, key=lambda pair: (pair[1]["validation"]["gorodkin_mcc"], pair[1]["validation"]["accuracy"]))
    return best[0]


def waits_for(plan: Plan, run: Run) -> str | None:
    """What ``run`` waits for before it can start (a stage to finish, teacher members to exist), or None."""
    if run.levers_from and stage_winner(plan, run.levers_from) is None:
        return f"stage {run.levers_from!r} to finish"
    if run.teacher_members != "all":
        blind = members_without(read_card(run.model)[1], run.validation_fold) if resolve_card_path(
            run.model).is_file() else ()  # fmt: skip
        if len(blind) < MIN_BLIND_TEACHER:
            return (f"{MIN_BLIND_TEACHER} members of {run.model} that never saw fold {run.validation_fold} "
                    f"(it has {len(blind)})")  # fmt: skip
    return None


def resolved(plan: Plan, run: Run) -> Run | None:
    """``run`` with its stage winner's settings filled in; None while it waits (:func:`waits_for`)."""
    if waits_for(plan, run) is not None:
        return None
    if not run.levers_from:
        return run
    winner = stage_winner(plan, run.levers_from)
    settings = {**winner.settings, **{k: run.settings[k] for k in run.explicit}}
    return Run(**{**run.__dict__, "settings": settings})


def reusable(plan: Plan, run: Run) -> Run | None:
    """The stage winner whose trained member this run may ship as is (same member, same data, same settings)."""
    if not run.levers_from:
        return None
    winner = stage_winner(plan, run.levers_from)
    if winner is None or not (run_dir(plan, winner) / "member.json").is_file():
        return None  # a new machine without the winner's member trains this run itself
    same = (winner.kind, winner.dataset, winner.model, winner.member, winner.validation_fold) == (
        run.kind, run.dataset, run.model, run.member, run.validation_fold)  # fmt: skip
    return winner if same else None


# ----------------------------------------------------------------------------- status
def _pace_key(run: Run) -> tuple[str, bool]:  # a student's epoch costs a fraction of a member's
    return run.dataset, run.kind == "student"


def epoch_seconds(plan: Plan) -> dict[tuple[str, bool], float]:
    """Seconds per epoch by (data set, student?): the median of the last 10 epochs of that kind (earlier ones may
    have shared the cores); the planned figure (a share of it for a student) where nothing of the kind has run."""
    measured: dict[tuple[str, bool], list[float]] = {}
    for r in plan.runs:
        measured.setdefault(_pace_key(r), []).extend(h["seconds"] for h in _history(plan, r))
    return {
        key: float(np.median(v[-10:])) if v else SECONDS_PER_EPOCH[key[0]] * (STUDENT_EPOCH_SHARE if key[1] else 1.0)
        for key, v in measured.items()
    }


def seconds_left(plan: Plan, run: Run, per_epoch: dict[tuple[str, bool], float]) -> float:
    """The training time ``run`` still needs at the recent pace (0 when done or shipped from its stage winner)."""
    if result_of(plan, run) is not None or reusable(plan, run):
        return 0.0
    ready = resolved(plan, run) or run
    epochs = int(ready.settings.get("epochs", TrainConfig.epochs))
    return max(epochs - len(_history(plan, run)), 0) * per_epoch[_pace_key(run)]


def status_rows(plan: Plan, running: str | None = None) -> list[dict[str, Any]]:
    """One row per run: state, epochs, validation figures, estimated hours left."""
    per_epoch = epoch_seconds(plan)
    rows = []
    for r in plan.runs:
        res, hist = result_of(plan, r), _history(plan, r)
        epochs = int((resolved(plan, r) or r).settings.get("epochs", TrainConfig.epochs))
        left = seconds_left(plan, r, per_epoch)
        if res is not None:  # a student or replacement that lost to what was shipped is done but not shipped
            state = "not shipped" if res.get("not_shipped") else "done"
        else:
            parked = parking.parked_epoch(parked_dir(plan), r.name) is not None
            if r.name == running:
                state = "running"
            elif resolved(plan, r) is None:
                state = "waiting"
            else:  # parked: its checkpoint is in git (a fresh checkout resumes it), not only in this run folder
                state = "parked" if parked and not (run_dir(plan, r) / parking.CHECKPOINT).is_file() else "left"
        report = res["validation"] if res else (hist[-1] if hist else {})
        rows.append({
            "run": r.name, "stage": r.stage or (f"<{r.levers_from}" if r.levers_from else ""), "state": state,
            "epochs": f"{len(hist)}/{epochs}",
            "val_acc": report.get("accuracy", report.get("val_accuracy")),
            "val_mcc": report.get("gorodkin_mcc", report.get("val_mcc")),
            **{k: v for k, v in (res or {}).get("attention", (hist[-1] if hist else {})).items()
               if k.startswith("auroc_")},
            **{k: v for k, v in (res or {}).get("deletion", (hist[-1] if hist else {})).items()
               if k.startswith("deletion_")},
            "hours_left": left / 3600,
        })  # fmt: skip
    return rows


def format_status(rows: list[dict[str, Any]]) -> str:
    columns = ["run", "stage", "state", "epochs", "val_acc", "val_mcc", "auroc_signal_peptide", "auroc_pts1",
               "auroc_er_retention", "deletion_signal_peptide", "deletion_pts1", "deletion_er_retention",
               "hours_left"]  # fmt: skip
    headers = [c.replace("auroc_", "auroc ").replace("deletion_", "moved ") for c in columns]
    for kind, short in SIGNAL_SHORT.items():
        headers = [h.replace(kind, short) for h in headers]

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    table = [headers] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in table]
    total = sum(row["hours_left"] for row in rows)
    done = sum(row["state"] in ("done", "not shipped") for row in rows)
    lines.append(f"{done} of {len(rows)} runs done; about {total:.1f} h left at the recent pace")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- training
def train_run(plan: Plan, run: Run, log: Callable[[str], None] = print, stop_at: Deadline | None = None) -> dict:
    """Train (or resume) one run; writes ``result.json`` and the member bundle ``member.*``; returns the result.

    A run parked by an earlier checkout (:mod:`locviz.parking`) resumes from its parked epoch; ``stop_at`` pauses
    training at an epoch boundary (:class:`~locviz.train.Paused`) for :func:`run_campaign` to park it.
    """
    out = run_dir(plan, run)
    resumed = parking.unpark(parked_dir(plan), out, run.name, run.settings)
    if resumed is not None:
        log(f"{run.name}: restored the checkpoint parked after epoch {resumed} ({parked_dir(plan)})")
    data = load_dataset(run.dataset, plan.data / run.dataset)
    device = resolve_device(plan.device)
    settings = dict(run.settings)
    attention_weights = {k: float(v) for k, v in settings.pop("attention", {}).items()}
    deletion_weights = {k: float(v) for k, v in settings.pop("deletion", {}).items()}
    insertion_weights = {k: float(v) for k, v in settings.pop("insertion", {}).items()}
    if run.kind == "finetune":
        source = load_bundle(run.model, device="cpu")
        trained = source.card.training[run.member]
        train_folds, val_fold = list(trained.train_folds), trained.validation_fold
        model_config, policy = source.card.model, source.card.length_policy
        init_state = source.model.members[run.member].state_dict()
    else:
        source_name = run.model if run.kind == "student" else (run.ship or run.model)
        if not source_name:
            raise InputError(f"{run.name}: a new member needs a bundle (ship or model) to take the architecture from")
        reference = load_bundle(source_name, device="cpu")
        val_fold = run.validation_fold
        test = TEST_FOLD.get(run.dataset)
        left_out = {val_fold, test, *run.exclude_folds}
        train_folds = [f for f in sorted(set(data.folds.tolist())) if f not in left_out]
        model_config, policy, init_state = reference.card.model, reference.card.length_policy, None
        if run.kind == "student":
            model_config = student_config(model_config, **settings.pop("shape", {}))
    config = TrainConfig(**{**settings, "max_length": policy.max_length, "attention_weights": attention_weights,
                            "deletion_weights": deletion_weights, "insertion_weights": insertion_weights})  # fmt: skip
    if val_fold in train_folds or val_fold == TEST_FOLD.get(run.dataset):
        raise InputError(f"{run.name}: validation fold {val_fold} is a training or test fold")
    tokens = encode_records(data.records, policy)
    train_idx, val_idx = data.subset(train_folds), data.subset([val_fold])
    table = _signal_table(plan, data)
    weights_all = {k: 1.0 for k in SIGNAL_TYPES}
    train_targets = build_targets(data.records, data.labels, data.classes, train_idx, policy, table,
                                  attention_weights) if attention_weights else {}  # fmt: skip
    val_targets = build_targets(data.records, data.labels, data.classes, val_idx, policy, table, weights_all)
    deleted_kinds = [k for k, w in deletion_weights.items() if w > 0]
    train_deletions = build_deletions(data.records, data.labels, data.classes, train_idx, policy, table,
                                      deleted_kinds) if deleted_kinds else {}  # fmt: skip
    val_deletions = build_deletions(data.records, data.labels, data.classes, val_idx, policy, table, training=False)
    inserted_kinds = [k for k, w in insertion_weights.items() if w > 0]
    insertions = build_insertions(data.records, data.labels, data.classes, train_idx, policy, inserted_kinds,
                                  config.insertion_donors, seed=config.seed) if inserted_kinds else {}  # fmt: skip
    n_copies = sum(map(len, train_deletions.values())) + sum(map(len, insertions.values()))
    log(f"{run.name}: {len(train_idx)} training proteins (folds {train_folds}; {len(train_targets)} with a "
        f"supervised signal, {n_copies} signal-deleted or -added copies), {len(val_idx)} validation (fold {val_fold}; "
        f"{len(val_targets)} with a signal); {run.describe_settings()}")  # fmt: skip
    soft, teacher_text, teacher_validation = None, "", None
    if run.kind == "student":
        teacher, teacher_text = _teacher(run, reference, val_fold)
        provenance = {"teacher": teacher_text, "weights_sha256": reference.card.weights_sha256}
        soft = _teacher_targets(out, teacher, provenance, tokens, train_idx, device, log)
        if run.teacher_members != "all":  # the ensemble the student is compared with, on the same unseen fold
            _, report = validate(teacher, tokens, data.labels, val_idx, data.classes, device)
            teacher_validation = {"accuracy": report["accuracy"], "gorodkin_mcc": report["gorodkin_mcc"]}
            log(f"{run.name}: the teacher ({teacher_text}) on fold {val_fold}: accuracy {report['accuracy']:.4f}, "
                f"MCC {report['gorodkin_mcc']:.4f}")  # fmt: skip
    before, replaced_text = None, ""
    if run.kind == "finetune" or run.replaces is not None:  # the member as shipped, on the same fold: "before"
        k = run.member if run.kind == "finetune" else run.replaces
        shipped = source if run.kind == "finetune" else reference
        start = shipped.model.members[k] if run.kind == "finetune" else replaced_member(run, reference, val_fold)

        def measure() -> dict:
            _, report = validate(start, tokens, data.labels, val_idx, data.classes, device)
            return {"accuracy": report["accuracy"], "gorodkin_mcc": report["gorodkin_mcc"],
                    "per_class_mcc": report["per_class_mcc"],
                    **validation_attention(start, tokens, val_targets, device),
                    **validation_deletion(start, tokens, data.labels, val_deletions, device)}  # fmt: skip

        before, replaced_text = _before(run, out, shipped.card.training[k], measure)
    result = fit(
        model_config, config, tokens, data.labels, train_idx, val_idx, data.classes, out, device,
        resume=True, progress=False, log=log, init_state=init_state, attention_targets=train_targets,
        validation_targets=val_targets, soft_targets=soft, deletions=train_deletions,
        validation_deletions=val_deletions, insertions=insertions, stop_at=stop_at,
    )  # fmt: skip
    attention = validation_attention(result.model, tokens, val_targets, device)
    deletion = validation_deletion(result.model, tokens, data.labels, val_deletions, device)
    origin = {}
    if run.kind == "finetune":
        origin = {"init_from": f"{Path(run.model).name} member {run.member}",
                  "init_recipe": recipe_text(trained.train_config)}  # fmt: skip
    if run.kind == "student":
        origin = {"teacher": teacher_text}
    if run.replaces is not None:
        origin = {"replaces": f"{Path(run.ship).name} member {run.replaces} ({replaced_text})"}
    member = MemberTraining(
        dataset=run.dataset, data_files_sha256=dict(data.files), train_folds=tuple(train_folds),
        validation_fold=val_fold, n_train=int(len(train_idx)), n_validation=int(len(val_idx)),
        train_config={**train_config_dict(config), "campaign_run": run.name, "kind": run.kind, **origin},
        best_epoch=result.best_epoch, epochs_run=len(result.history), validation=result.best_validation,
        history=tuple(result.history), seconds=round(result.seconds, 1), hardware=_hardware(),
        command=portable_command(f"locviz campaign {plan.path} --only {run.name}"),
    )  # fmt: skip
    card = ModelCard(tuple(data.classes), model_config, policy, training=(member,))
    save_bundle(out / "member", Ensemble([result.model.cpu()]), card)
    outcome = {
        "run": run.name, "settings": run.settings, "train_folds": train_folds, "validation_fold": val_fold,
        "before": before, "validation": result.best_validation,
        **({"teacher_validation": teacher_validation} if teacher_validation else {}),
        "attention": attention, "deletion": deletion,
        "seconds": round(result.seconds, 1), "epochs": len(result.history), "history": result.history,
    }  # fmt: skip
    log(f"{run.name}: done — val_acc {result.best_validation['accuracy']:.4f} "
        f"val_mcc {result.best_validation['gorodkin_mcc']:.4f} {attention} {deletion}")  # fmt: skip
    return outcome


BEFORE_FILE = "before.json"


def _before(run: Run, out: Path, shipped: MemberTraining, measure: Callable[[], dict]) -> tuple[dict, str]:
    """The shipped member's figures on the run's fold (``measure()``) and which run made that member, measured at
    the run's first start and kept in ``out``: a run that resumes after it shipped (a session ended between
    shipping and writing its result) would otherwise compare its own member with itself, and a replacement would
    then always ship.

    Raises:
        InputError: no figures were kept and the member in the bundle is already this run's.
    """
    path = out / BEFORE_FILE
    if path.is_file():
        kept = json.loads(path.read_text())
        return kept["before"], kept["member_run"]
    made_by = shipped.train_config.get("campaign_run", "as shipped")
    if made_by == run.name:
        raise InputError(f"{run.name}: the member it would compare with is already its own (shipped, but its result "
                         f"was never written) and {path} is gone; restore {run.ship or run.model} from git "
                         f"(`git checkout -- {run.ship or run.model}.*`) and start again")  # fmt: skip
    before = measure()
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"before": before, "member_run": made_by}, indent=1) + "\n")
    return before, made_by


def _teacher(run: Run, reference: ModelBundle, val_fold: int) -> tuple[Ensemble, str]:
    """The ensemble a student learns from, and how its card names it."""
    name, members = Path(run.model).name, reference.model.members
    if run.teacher_members == "all":
        return reference.model, f"{name} ({len(members)} members, averaged)"
    keep = members_without(reference.card, val_fold)
    if len(keep) < MIN_BLIND_TEACHER:  # run_campaign waits (waits_for) rather than get here
        raise InputError(f"{run.name}: {run.model} has {len(keep)} member(s) that never saw fold {val_fold}, "
                         f"{MIN_BLIND_TEACHER} are needed; train them first or use teacher_members = 'all'")
    which = ", ".join(map(str, keep))
    return (
        Ensemble([members[k] for k in keep]),
        f"{name} members {which} (none trained or was validated on fold {val_fold}; {len(keep)} averaged)",
    )


def _teacher_targets(
    out: Path,
    teacher: Ensemble,
    provenance: dict[str, str],
    tokens: list[np.ndarray],
    train_idx: np.ndarray,
    device: torch.device,
    log: Callable[[str], None],
) -> np.ndarray:
    """The teacher's probabilities on the training proteins (zeros elsewhere), cached in the run folder with
    which teacher made them (``teacher.json``): a resumed run must not learn from another teacher than its card names.

    Raises:
        InputError: the cache was made by another teacher (other members or other weights).
    """
    path, made_by = out / "teacher.npy", out / "teacher.json"
    if made_by.is_file() and json.loads(made_by.read_text()) != provenance:  # a parked run brings teacher.json only
        raise InputError(f"{out} was trained from another teacher ({made_by.read_text().strip()}; now "
                         f"{provenance}). Delete {out} (and its parked checkpoint) to train this run again with the "
                         "current teacher")  # fmt: skip
    if path.is_file():
        if not made_by.is_file():  # written before teacher.json existed: record what resumes from it
            log(f"{path} has no teacher.json (an older campaign); recording the current teacher for it")
            made_by.write_text(json.dumps(provenance))
        return np.load(path, allow_pickle=False)
    log(f"teacher: {len(teacher.members)} members on {len(train_idx)} training proteins")
    probs = teacher_probabilities(teacher.to(device), [tokens[i] for i in train_idx], device)
    soft = np.zeros((len(tokens), probs.shape[1]), dtype=np.float32)
    soft[train_idx] = probs
    out.mkdir(parents=True, exist_ok=True)
    np.save(path, soft, allow_pickle=False)
    made_by.write_text(json.dumps(provenance))
    return soft


def _signal_table(plan: Plan, data: LabelledSet) -> dict:
    path = plan.data / SIGNALS_FILE
    return read_signal_table(path) if path.is_file() else {}


def _hardware() -> str:
    return f"CPU, {torch.get_num_threads()} threads (locviz campaign)"


# ----------------------------------------------------------------------------- shipping
def ship_member(plan: Plan, run: Run, source_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Put the member trained in ``source_dir`` into the bundle ``run.ship``: replace the fine-tuned member,
    or append a new one; then refresh what that member changes. Returns the card path."""
    target = Path(run.ship)
    if not target.is_absolute():
        target = Path.cwd() / target
    new = load_bundle(source_dir / "member", device="cpu")
    if run.kind == "student":
        return ship_student(plan, run, target, new, log)
    bundle = load_bundle(target, device="cpu")
    members = list(bundle.model.members)
    training = list(bundle.card.training)
    if run.kind == "finetune" or run.replaces is not None:
        k = int(run.member if run.replaces is None else run.replaces)
        members[k] = new.model.members[0]
    else:
        k = len(members)
        members.append(new.model.members[0])
        training.append(new.card.training[0])
    training[k] = new.card.training[0]
    stale = {key for key, report in bundle.card.metrics.items() if report.get("member") in (None, k)}
    # an added or replacing member has no temperature yet: the bundle ships uncalibrated until `locviz calibrate`
    # (the first refresh step) fits one per member, rather than with a placeholder
    calibration = bundle.card.calibration if run.kind == "finetune" else None
    card = bundle.card.replace(
        training=tuple(training), metrics={key: v for key, v in bundle.card.metrics.items() if key not in stale},
        calibration=calibration, provenance=members_provenance(training), ensemble_command="",
    )  # the bundle is now the campaign's: a merge command of the earlier members would rebuild another model
    card_path = save_bundle(target, Ensemble(members, bundle.model.motif_member), card)
    log(f"shipped {run.name} as member {k} of {card_path}; dropped stale metrics {sorted(stale) or 'none'}")
    refresh(bundle_stem=target, member=k, plan=plan, run=run, motif_member=bundle.model.motif_member, log=log,
            like=bundle.card)  # fmt: skip
    return card_path


def members_provenance(training: Sequence[MemberTraining]) -> str:
    """The card's ``provenance`` for a bundle the campaign has put members into: how each member was made, from its
    own training record (so the text cannot go stale when a member is replaced)."""
    lines = []
    for k, t in enumerate(training):
        config, where = t.train_config, t.hardware or "hardware not recorded"
        run = f"campaign run {config['campaign_run']}" if config.get("campaign_run") else "outside the campaign"
        epochs = f"{t.epochs_run} epochs" + (f", the last {config['average_last']} averaged"
                                             if config.get("average_last", 1) > 1 else "")  # fmt: skip
        how = {"finetune": f"{config.get('init_from') or 'a shipped member'} fine-tuned", "new": "trained from scratch",
               "student": "distilled"}.get(config.get("kind", ""), "trained")  # fmt: skip
        folds = f"folds {', '.join(map(str, t.train_folds))}, validated on fold {t.validation_fold}"
        lines.append(f"member {k}: {how} ({run}; {epochs}; {folds}; {where})")
    origin = (" A fine-tuned member started from the member shipped before it; the first members were trained by "
              "benchmarks/train_ensembles.sh on one lent NVIDIA H100."
              if any(t.train_config.get("kind") == "finetune" for t in training) else "")  # fmt: skip
    return ("Members put into this bundle by the training campaign (locviz campaign weights/campaign.toml); each "
            "member's settings, history and command are under training, each run's figures in weights/campaign/: "
            + "; ".join(lines) + "." + origin + " Prose card: weights/README.md.")


def replaced_member(run: Run, bundle: ModelBundle, fold: int) -> ConvLSTM:
    """The member of ``bundle`` that ``run`` would replace, checked to be validated on the run's fold (the
    comparison that decides the replacement is then on the same proteins)."""
    k = run.replaces
    if k is None or k >= len(bundle.model.members):
        raise InputError(f"{run.name}: replaces member {k}, but {run.ship} has {len(bundle.model.members)} members")
    shipped_fold = bundle.card.training[k].validation_fold
    if shipped_fold != fold:
        raise InputError(f"{run.name}: member {k} of {run.ship} is validated on fold {shipped_fold}, the run on fold "
                         f"{fold}; a replacement is validated on its member's fold")  # fmt: skip
    return bundle.model.members[k]


def replacement_is_worse(run: Run, outcome: dict) -> str | None:
    """Why the member a replacement run was to take the place of stays (the run lost more accuracy on their
    shared fold than ``max_accuracy_loss``), or None."""
    before, new = outcome["before"]["accuracy"], outcome["validation"]["accuracy"]
    if new >= before - run.max_accuracy_loss:
        return None
    return (f"accuracy {new:.4f} on fold {outcome['validation_fold']} against {before:.4f} for member {run.replaces} "
            f"(more than {run.max_accuracy_loss:.3f} lower)")


def shipped_accuracy(run: Run, fold: int) -> float | None:
    """The accuracy on ``fold`` of the student already at ``run.ship`` (None: nothing shipped there yet).

    Accuracy, not MCC as between levers (:func:`stage_winner`): issue 12 sets the student's target in accuracy.

    Raises:
        InputError: a bundle is there but cannot be compared on ``fold`` (checked before the run trains).
    """
    if not resolve_card_path(run.ship).is_file():
        return None
    card_path, card = read_card(run.ship)
    key = f"cv_member0_fold{fold}"
    if not card.training or card.training[0].validation_fold != fold or "accuracy" not in card.metrics.get(key, {}):
        raise InputError(f"{run.name}: ship_if_better needs {card_path} validated on fold {fold} with metrics[{key!r}]"
                         f"; measure it with `locviz evaluate --model {run.ship} --dataset {run.dataset} --data DATA "
                         f"--folds {fold} --member 0 --update-card {key}` or drop ship_if_better")  # fmt: skip
    return float(card.metrics[key]["accuracy"])


def shipped_is_better(run: Run, outcome: dict) -> str | None:
    """Why the bundle already at ``run.ship`` stays (its accuracy on the same fold is at least the run's), or None."""
    fold = outcome["validation_fold"]
    shipped = shipped_accuracy(run, fold)
    new = outcome["validation"]["accuracy"]
    if shipped is None or new > shipped:
        return None
    return f"accuracy {new:.4f} on fold {fold}, the shipped {Path(run.ship).name} has {shipped:.4f} there"


def ship_student(plan: Plan, run: Run, target: Path, new: ModelBundle, log: Callable[[str], None]) -> Path:
    """Write the student as its own one-member bundle (e.g. ``weights/deeploc-fast``) with the sections its
    teacher's card has (metrics, calibration, motifs, reference), each computed for the student itself."""
    _, teacher = read_card(run.model)
    card = new.card.replace(provenance=f"student of {Path(run.model).name} (locviz.distill); "
                            f"campaign run {run.name}")  # fmt: skip
    card_path = save_bundle(target, new.model, card)
    log(f"shipped student {run.name} as {card_path}")
    refresh(target, 0, plan, run, motif_member=0, log=log, like=teacher)
    return card_path


def refresh(bundle_stem: Path, member: int, plan: Plan, run: Run, motif_member: int,
            log: Callable[[str], None] = print, like: ModelCard | None = None) -> None:  # fmt: skip
    """Recompute the card sections a changed member invalidates, each by its ``locviz`` command (a child process:
    the campaign never imports the command line, and each step's memory is returned when it ends)."""
    _, card = read_card(bundle_stem)
    like = like or card  # a new bundle gets the sections its model's card has
    data = str(plan.data / run.dataset)
    if Path.cwd() in bundle_stem.parents:  # the commands are recorded in the card: no machine's absolute path
        bundle_stem = bundle_stem.relative_to(Path.cwd())
    fold = card.training[member].validation_fold
    commands = []
    if like.calibration is not None:  # first: the member's figure below is of the calibrated call
        calibrate = ["calibrate", "--model", str(bundle_stem), "--dataset", run.dataset, "--data", data,
                     "--no-progress"]  # fmt: skip
        if run.calibration_fold is not None and len(members_without(card, run.calibration_fold)) >= 2:
            calibrate += ["--calibration-fold", str(run.calibration_fold)]
        commands.append(calibrate)
    commands.append(["evaluate", "--model", str(bundle_stem), "--dataset", run.dataset, "--data", data, "--folds",
                     str(fold), "--member", str(member), "--device", "cpu", "--update-card",
                     f"cv_member{member}_fold{fold}"])  # fmt: skip
    if member == motif_member and like.motifs is not None:
        folds = sorted({f for t in card.training for f in (*t.train_folds, t.validation_fold) if f is not None})
        commands.append(["motifs", "--model", str(bundle_stem), "--dataset", run.dataset, "--data", data,
                         "--folds", *map(str, folds), "--no-progress"])  # fmt: skip
    if like.reference is not None:
        commands.append(["reference", "--model", str(bundle_stem), "--dataset", run.dataset, "--data", data,
                         "--no-progress"])  # fmt: skip
    for argv in commands:
        log("refresh: locviz " + " ".join(argv))
        status = subprocess.run([sys.executable, "-m", "locviz", *argv]).returncode
        if status:
            raise RuntimeError(f"refresh step failed ({status}): locviz {' '.join(argv)}")


def commit(paths: list[Path], message: str, log: Callable[[str], None] = print) -> None:
    """``git add`` + ``git commit`` of exactly ``paths``; retried while another process holds the index lock."""
    for attempt in range(20):
        add = subprocess.run(["git", "add", "--", *map(str, paths)], capture_output=True, text=True)
        if add.returncode == 0:
            done = subprocess.run(["git", "commit", "-m", message, "--", *map(str, paths)], capture_output=True,
                                  text=True)  # fmt: skip
            if done.returncode == 0:
                log(f"committed: {message}")
                return
            if "index.lock" not in done.stderr:
                log(f"git commit did not succeed: {done.stdout.strip()} {done.stderr.strip()}")
                return
        time.sleep(3 + attempt)
    log("git: gave up after 20 attempts (index locked)")


# ----------------------------------------------------------------------------- the loop
def run_campaign(plan: Plan, *, commit_shipped: bool = False, log: Callable[[str], None] = print,
                 only: str | None = None, hours: float | None = None) -> int:  # fmt: skip
    """Run every unfinished run in plan order (``only``: just that run); a run waiting for its stage is passed
    over until the stage ends. Returns 0 when nothing is left to run, 1 when runs wait, 2 after a STOP file.

    ``hours``: the time this machine is left for (a working session: its ``runs/`` folder does not outlive it).
    Training pauses at the last epoch boundary that leaves time to park (and, before a run's last epoch, to ship
    it: :data:`SHIP_SECONDS`); the run in progress is then parked (:mod:`locviz.parking`), committed with
    ``commit_shipped``, and the next start, on this checkout or a fresh one, goes on from that epoch."""
    if only is not None and only not in {r.name for r in plan.runs}:
        raise InputError(f"{plan.path} has no run named {only!r}; runs: {', '.join(r.name for r in plan.runs)}")
    if hours is not None and not hours > 0:
        raise InputError(f"--hours must be a positive number of hours, got {hours}")
    deadline = None if hours is None else time.time() + hours * 3600 - PARK_SECONDS
    plan.runs_dir.mkdir(parents=True, exist_ok=True)
    (plan.runs_dir / "campaign.pid").write_text(str(os.getpid()))
    progress = True
    while progress:
        progress = False
        for run in plan.runs:
            if result_of(plan, run) is not None or (only is not None and run.name != only):
                continue
            ready = resolved(plan, run)
            if ready is None:
                continue
            stop = plan.runs_dir / "STOP"
            if stop.exists():  # `touch runs/campaign/STOP`: end cleanly between runs (never mid-ship)
                stop.unlink()
                log(f"STOP file found: stopping before {run.name}; the next start goes on from there")
                return 2
            log(format_status(status_rows(plan, running=run.name)))
            (plan.runs_dir / "running.txt").write_text(run.name)
            winner = reusable(plan, run)
            if deadline is not None and winner is not None and time.time() + SHIP_SECONDS > deadline:
                log(f"--hours: no time left to ship {run.name}; the next start does")
                return 2
            if winner is not None:
                log(f"{run.name}: the stage winner {winner.name} is this member with these settings; shipping it")
                source = run_dir(plan, winner)
                outcome = {**result_of(plan, winner), "run": run.name, "reused": winner.name}
            else:
                if run.ship_if_better:
                    shipped_accuracy(run, int(run.validation_fold))  # refuse now, not after hours of training
                if run.replaces is not None:
                    replaced_member(run, load_bundle(run.ship, device="cpu"), int(run.validation_fold))
                stop_at = None
                if deadline is not None:
                    stop_at = Deadline(deadline, epoch_seconds(plan)[_pace_key(run)], SHIP_SECONDS if run.ship else 0.0)
                try:
                    outcome = train_run(plan, ready, log, stop_at)
                except Paused as paused:
                    park_run(plan, ready, paused.epoch, commit_shipped, log)  # as trained: the stage winner's settings
                    return 2
                source = run_dir(plan, run)
            paths = [result_path(plan, run), *parking.discard(parked_dir(plan), run.name)]
            kept = shipped_is_better(run, outcome) if run.ship_if_better else None
            if run.replaces is not None:
                kept = replacement_is_worse(run, outcome)
            if kept is not None:
                outcome["not_shipped"] = kept
                log(f"{run.name}: not shipped: {kept}")
            if run.ship and kept is None:
                card_path = ship_member(plan, ready, source, log)
                stem = card_path.with_suffix("")
                paths += sorted(p for p in stem.parent.glob(stem.name + ".*") if p.is_file())
            plan.results_dir.mkdir(parents=True, exist_ok=True)
            result_path(plan, run).write_text(json.dumps(outcome, indent=1) + "\n")
            if commit_shipped:
                figures = outcome["validation"]
                shipped = f" shipped into {run.ship}" if run.ship and kept is None else ""
                commit(paths, f"campaign: {run.name} finished{shipped} (val acc {figures['accuracy']:.4f}, "
                       f"MCC {figures['gorodkin_mcc']:.4f})", log)  # fmt: skip
            progress = True
            break
    log(format_status(status_rows(plan)))
    waiting = [r.name for r in plan.runs if result_of(plan, r) is None and only in (None, r.name)]
    if only is not None and waiting:
        log(f"{only} waits for {waits_for(plan, next(r for r in plan.runs if r.name == only))}")
    return 0 if not waiting else 1


def park_run(plan: Plan, run: Run, epoch: int, commit_parked: bool, log: Callable[[str], None] = print) -> None:
    """Park ``run``'s checkpoint (after ``epoch``) for the next checkout and, with ``commit_parked``, commit it."""
    if not (run_dir(plan, run) / parking.CHECKPOINT).is_file():
        log(f"--hours: no time for an epoch of {run.name}; nothing to park, the next start begins it")
        return
    epochs = int(run.settings.get("epochs", TrainConfig.epochs))
    paths = parking.park(run_dir(plan, run), parked_dir(plan), run.name, run.settings)
    log(f"--hours: {run.name} parked after epoch {epoch} of {epochs} in {parked_dir(plan)}; the next start goes on")
    if commit_parked:
        commit(paths, f"campaign: {run.name} parked after epoch {epoch} of {epochs} (resumes on the next start)", log)


def running_pid(plan: Plan) -> int | None:
    """The pid of a live campaign on this plan's runs folder, if any."""
    path = plan.runs_dir / "campaign.pid"
    if not path.is_file():
        return None
    pid = int(path.read_text().strip() or 0)
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def main_status(plan: Plan) -> str:
    pid = running_pid(plan)
    marker = plan.runs_dir / "running.txt"
    running = marker.read_text().strip() if pid is not None and marker.is_file() else None
    header = f"campaign {plan.path} (pid {pid} running)" if pid else f"campaign {plan.path} (not running)"
    return header + "\n" + format_status(status_rows(plan, running))


if __name__ == "__main__":  # pragma: no cover - use `locviz campaign`
    sys.exit("use: locviz campaign PLAN.toml")
