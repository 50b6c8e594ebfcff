"""The model card, typed: what a bundle is, how it was made and how well it does.

A card is the JSON file beside a bundle's weights (``weights/NAME.json``).
:class:`ModelCard` is its one in-memory form; :func:`ModelCard.from_dict` is the
door every card comes through, and it checks each field's type and the facts that
must agree with each other (class count vs model outputs, members vs training
runs, validation fold vs training folds, ...), raising :class:`BundleError` with
the file and the field (``weights/x.json: training[2].validation_fold must be an
integer, got '1'``). :meth:`ModelCard.to_dict` writes the same JSON keys the cards
have always had, less the top-level ``encoding`` (``model.encoding`` holds it), so
older readers of the files keep working.

Class ids (``plasma_membrane``, ``Cell.membrane``) stay ids in the card, table
columns and files; :func:`display_name` is the one place that turns an id into the
words a person reads ("plasma membrane", "cell membrane").

Reading and writing files is :mod:`locviz.weights`' job (``load_bundle``,
``write_card``, ``update_card``); this module never touches the disk.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from locviz.encoding import LengthPolicy
from locviz.errors import BundleError
from locviz.model import ModelConfig

__all__ = [
    "FORMAT_VERSION",
    "CalibrationCard",
    "MemberTraining",
    "ModelCard",
    "MotifsInfo",
    "RELIABILITY_KEYS",
    "ReferenceCard",
    "display_name",
    "portable_command",
]

FORMAT_VERSION = 1
"""Card format this locviz writes; a card with a higher number is refused (it was written by a newer locviz)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEEP_CASE = frozenset({"Golgi"})  # a proper name: "Golgi apparatus", never "golgi apparatus"


def display_name(class_id: str) -> str:
    """The words a person reads for a class id: ``plasma_membrane`` → "plasma membrane".

    ``_`` and ``.`` become spaces; a capitalised word is lower-cased (``Endoplasmic.reticulum``
    → "endoplasmic reticulum", ``Lysosome/Vacuole`` → "lysosome/vacuole"), while acronyms
    (``ER``) and proper names (``Golgi``) keep their case. Table columns and files keep the id.
    """
    words = [w for w in re.split(r"[_.\s]+", class_id.strip()) if w]
    return " ".join("/".join(_word(part) for part in w.split("/")) for w in words)


def _word(word: str) -> str:
    if word in _KEEP_CASE or word.isupper() or not word[:1].isupper():
        return word
    return word.lower()


SIGNAL_SHORT = {"signal_peptide": "SP", "pts1": "PTS1", "er_retention": "KDEL"}
"""The sorting signals training can supervise (``locviz.supervision.SIGNAL_TYPES``, same order), as cards name them."""


def recipe_text(config: Mapping[str, Any]) -> str:
    """How a member was trained, in a few words, from its card's ``train_config`` (plus campaign ``kind``).

    E.g. "fine-tune + signal supervision (SP 1, PTS1 4, KDEL 4) + label smoothing 0.1"; a fine-tune
    names the recipe of the member it started from (``init_recipe``) unless that was from scratch, so a chain of
    fine-tunes reads whole, and a student names its ``teacher``.
    """
    base = {"finetune": "fine-tune", "new": "new member", "student": "student"}.get(config.get("kind"), "from scratch")
    parts = []
    for key, name in (("attention_weights", "signal supervision"), ("deletion_weights", "deletion"),
                      ("insertion_weights", "insertion")):  # fmt: skip
        weights = config.get(key) or {}
        named = [f"{short} {weights[kind]:g}" for kind, short in SIGNAL_SHORT.items() if weights.get(kind)]
        if named:
            parts.append(f"{name} ({', '.join(named)})")
    if config.get("logit_adjustment"):
        parts.append(f"logit adjustment τ={config['logit_adjustment']:g}")
    if config.get("label_smoothing"):
        parts.append(f"label smoothing {config['label_smoothing']:g}")
    if config.get("teacher"):
        base += f" of {config['teacher']}"
    text = base + (" + " + " + ".join(parts) if parts else (" alone" if base == "fine-tune" else ""))
    started = config.get("init_recipe")
    if not started or started == "from scratch":  # a fine-tune of a from-scratch member: what "fine-tune" says
        return text
    return text + f", started from a member trained by: {started}"


DATA_VARIABLE = "DATA"
"""Shell variable the reproduce commands use for the data folder (``DATA=../shared/data`` in this project)."""


def portable_command(command: str, variable: str = DATA_VARIABLE) -> str:
    """``command`` with its ``--data FOLDER`` given as ``"$VARIABLE/<last part of FOLDER>"``.

    Recorded commands name the data folder as it was on the machine that ran them (for the shipped
    members a scratch copy, ``.devdata/multiloc``), which a clone does not have; with the folder as a
    variable the command runs anywhere the data sets are (``DATA=../shared/data``). Every other
    argument is left as recorded.
    """
    try:
        tokens = shlex.split(command)
    except ValueError:  # unbalanced quotes: show it as recorded rather than guess
        return command
    out: list[str] = []
    k = 0
    while k < len(tokens):
        token = tokens[k]
        if token == "--data" and k + 1 < len(tokens):
            out += [token, f'"${variable}/{PurePosixPath(tokens[k + 1].rstrip("/")).name}"']
            k += 2
            continue
        if token.startswith("--data="):
            out.append(f'--data="${variable}/{PurePosixPath(token[7:].rstrip("/")).name}"')
        else:
            out.append(shlex.quote(token))
        k += 1
    return " ".join(out)


# ----------------------------------------------------------------------------- reading helpers
class _Reader:
    """Typed access to one JSON object, raising a BundleError that names the file and the field."""

    def __init__(self, data: Any, path: Path | str | None, where: str = "") -> None:
        self.path = str(path) if path is not None else "model card"
        self.where = where
        if not isinstance(data, Mapping):
            self.fail(where or "the card", "must be a JSON object", data)
        self.data = data

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, what: str, value: Any = ...) -> None:
        got = "" if value is ... else f", got {_short(value)}"
        raise BundleError(f"{self.path}: {key} {what}{got}; fix or rewrite the card (e.g. with the locviz command "
                          "that wrote it)")  # fmt: skip

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def required(self, key: str) -> Any:
        if key not in self.data:
            self.fail(self.name(key), "is missing; it is not a complete locviz model card")
        return self.data[key]

    def str(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.required(key) if required else self.data.get(key, default)
        if not isinstance(value, str):
            self.fail(self.name(key), "must be a string", value)
        return value

    def int(self, key: str, default: int | None = None, *, required: bool = False, minimum: int | None = None) -> int:
        value = self.required(key) if required else self.data.get(key, default)
        if not _is_int(value):
            self.fail(self.name(key), "must be an integer", value)
        if minimum is not None and value < minimum:
            self.fail(self.name(key), f"must be >= {minimum}", value)
        return value

    def opt_int(self, key: str) -> int | None:
        return self.int(key) if self.has(key) else None

    def number(self, key: str, default: float | None = None, *, required: bool = False) -> float:
        value = self.required(key) if required else self.data.get(key, default)
        if not _is_number(value):
            self.fail(self.name(key), "must be a number", value)
        return value

    def opt_number(self, key: str) -> float | None:
        return self.number(key) if self.has(key) else None

    def dict(self, key: str, *, required: bool = False) -> dict:
        value = self.required(key) if required else self.data.get(key, {})
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.fail(self.name(key), "must be a JSON object", value)
        return dict(value)

    def list(self, key: str, *, required: bool = False) -> list:
        value = self.required(key) if required else self.data.get(key, [])
        if value is None:
            value = []
        if not isinstance(value, list | tuple):
            self.fail(self.name(key), "must be a list", value)
        return list(value)

    def ints(self, key: str, *, minimum: int | None = 0) -> tuple[int, ...]:
        values = self.list(key)
        for k, v in enumerate(values):
            if not _is_int(v) or (minimum is not None and v < minimum):
                self.fail(f"{self.name(key)}[{k}]", f"must be an integer >= {minimum}", v)
        return tuple(values)

    def strs(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        values = self.list(key, required=required)
        for k, v in enumerate(values):
            if not isinstance(v, str) or not v:
                self.fail(f"{self.name(key)}[{k}]", "must be a non-empty string", v)
        return tuple(values)

    def sha256(self, key: str, *, required: bool = False) -> str:
        value = self.str(key, "", required=required)
        if (required or value) and not _SHA256.match(value):
            self.fail(self.name(key), "must be a sha256 (64 lower-case hex digits)", value)
        return value

    def section(self, key: str) -> _Reader:
        return _Reader(self.data[key], self.path, self.name(key))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) and math.isfinite(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _drop_empty(data: dict) -> dict:
    """Leave out optional keys that hold nothing, so a card without a section has no empty key for it."""
    return {k: v for k, v in data.items() if v not in (None, "", (), [], {})}


# ----------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class MemberTraining:
    """How one ensemble member was trained: data, folds, settings, the run's outcome and its command."""

    dataset: str = ""
    data_files_sha256: dict[str, str] = field(default_factory=dict)
    train_folds: tuple[int, ...] = ()
    validation_fold: int | None = None  # the fold used for early stopping, hence this member's CV fold
    n_train: int | None = None
    n_validation: int | None = None
    train_config: dict[str, Any] = field(default_factory=dict)  # locviz.train.TrainConfig as run
    best_epoch: int | None = None
    epochs_run: int | None = None
    validation: dict[str, Any] = field(default_factory=dict)  # classification report of the best epoch
    history: tuple[dict[str, Any], ...] = ()  # one dict per epoch: train_loss, val_loss, val_accuracy, ...
    seconds: float | None = None
    hardware: str = ""
    command: str = ""

    @classmethod
    def from_dict(cls, data: Any, path: Path | str | None = None, where: str = "training[0]") -> MemberTraining:
        r = _Reader(data, path, where)
        files = r.dict("data_files_sha256")
        for name, digest in files.items():
            if not isinstance(digest, str) or not _SHA256.match(digest):
                r.fail(f"{r.name('data_files_sha256')}[{name!r}]", "must be a sha256", digest)
        history = r.list("history")
        for k, epoch in enumerate(history):
            if not isinstance(epoch, Mapping):
                r.fail(f"{r.name('history')}[{k}]", "must be a JSON object", epoch)
        member = cls(
            dataset=r.str("dataset", ""),
            data_files_sha256=files,
            train_folds=r.ints("train_folds"),
            validation_fold=r.opt_int("validation_fold"),
            n_train=r.opt_int("n_train"),
            n_validation=r.opt_int("n_validation"),
            train_config=r.dict("train_config"),
            best_epoch=r.opt_int("best_epoch"),
            epochs_run=r.opt_int("epochs_run"),
            validation=r.dict("validation"),
            history=tuple(dict(e) for e in history),
            seconds=r.opt_number("seconds"),
            hardware=r.str("hardware", ""),
            command=r.str("command", ""),
        )
        if member.validation_fold is not None and member.validation_fold in member.train_folds:
            r.fail(r.name("validation_fold"), f"is also one of the training folds {list(member.train_folds)}",
                   member.validation_fold)  # fmt: skip
        return member

    def to_dict(self) -> dict[str, Any]:
        data = {
            "dataset": self.dataset,
            "data_files_sha256": dict(self.data_files_sha256),
            "train_folds": list(self.train_folds),
            "validation_fold": self.validation_fold,
            "n_train": self.n_train,
            "n_validation": self.n_validation,
            "train_config": dict(self.train_config),
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "validation": dict(self.validation),
            "history": [dict(e) for e in self.history],
            "seconds": self.seconds,
            "hardware": self.hardware,
            "command": self.command,
        }
        return _drop_empty(data)


@dataclass(frozen=True)
class MotifsInfo:
    """The precomputed filter logos (``NAME.motifs.npz``): where, checksum, from what, by which command.

    Stored flat in the JSON (``motifs_file``, ``motifs_sha256``, ...), as cards always had it.
    """

    file: str  # relative to the card's folder
    sha256: str = ""
    reference: str = ""  # the proteins the windows were taken from, in words
    member: int = 0
    command: str = ""

    @classmethod
    def from_card(cls, r: _Reader, name: str) -> MotifsInfo | None:
        """The ``motifs_*`` keys of a card, or None when it has none; the file defaults to ``NAME.motifs.npz``."""
        if not any(r.has(k) for k in ("motifs_file", "motifs_sha256", "motifs_reference", "motifs_command")):
            return None
        return cls(
            file=r.str("motifs_file", f"{name}.motifs.npz"),
            sha256=r.sha256("motifs_sha256"),
            reference=r.str("motifs_reference", ""),
            member=r.int("motifs_member", 0, minimum=0),
            command=r.str("motifs_command", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "motifs_file": self.file,
            "motifs_sha256": self.sha256,
            "motifs_reference": self.reference,
            "motifs_member": self.member,
            "motifs_command": self.command,
        }


RELIABILITY_KEYS = ("confidence", "accuracy", "count")
"""Per-bin lists of a reliability table, all of one length: mean top-class probability, share right, proteins."""


@dataclass(frozen=True)
class CalibrationCard:
    """How the model's probabilities are calibrated (member and ensemble temperatures), fitted where, how well.

    ``metrics`` holds at least ``ece_before`` and ``ece_after`` (expected calibration error of the
    top-class probability) and ``n``; the reliability diagram reads ``reliability_before`` and
    ``reliability_after``, each ``{"confidence": [...], "accuracy": [...], "count": [...]}`` with one
    entry per confidence bin (``null`` confidence/accuracy for an empty bin) and optionally
    ``"edges"`` (bins + 1 numbers).
    """

    method: str  # "temperature" (one T on the averaged distribution) or "member-temperatures" (locviz.calibration)
    temperature: float = 1.0  # applied to the ensemble's averaged distribution
    fitted_on: str = ""  # which folds / proteins, in words
    metrics: dict[str, Any] = field(default_factory=dict)  # ece_before, ece_after, n, reliability bins as lists
    command: str = ""
    member_temperatures: tuple[float, ...] = ()  # one per member, applied to its logits before averaging
    calibration_fold: int | None = None  # the ensemble temperature's fold (none of its members trained on it)

    @classmethod
    def from_dict(cls, data: Any, path: Path | str | None = None, where: str = "calibration") -> CalibrationCard:
        r = _Reader(data, path, where)
        card = cls(
            method=r.str("method", required=True),
            temperature=r.number("temperature", 1.0),
            fitted_on=r.str("fitted_on", ""),
            metrics=r.dict("metrics"),
            command=r.str("command", ""),
            member_temperatures=tuple(r.list("member_temperatures")),
            calibration_fold=r.opt_int("calibration_fold"),
        )
        if card.temperature <= 0:
            r.fail(r.name("temperature"), "must be > 0", card.temperature)
        for k, value in enumerate(card.member_temperatures):
            if not _is_number(value) or value <= 0:
                r.fail(f"{r.name('member_temperatures')}[{k}]", "must be a number > 0", value)
        for key in ("ece_before", "ece_after"):
            if key in card.metrics and not _is_number(card.metrics[key]):
                r.fail(f"{r.name('metrics')}.{key}", "must be a number", card.metrics[key])
        for stage in ("before", "after"):
            table = card.metrics.get(f"reliability_{stage}")
            if table is None:
                continue
            where = f"{r.name('metrics')}.reliability_{stage}"
            if not isinstance(table, Mapping) or any(not isinstance(table.get(k), list) for k in RELIABILITY_KEYS):
                r.fail(where, f"must be an object with the lists {', '.join(RELIABILITY_KEYS)}", table)
            if len({len(table[k]) for k in RELIABILITY_KEYS}) != 1:
                r.fail(where, "must have lists of one length (one entry per bin)",
                       {k: len(table[k]) for k in RELIABILITY_KEYS})  # fmt: skip
        return card

    def reliability(self, stage: str) -> dict[str, list] | None:
        """The reliability table ``before`` or ``after`` calibration (see the class docstring), or None."""
        if stage not in ("before", "after"):
            raise ValueError(f"stage must be 'before' or 'after', got {stage!r}")
        table = self.metrics.get(f"reliability_{stage}")
        return {k: list(v) for k, v in table.items()} if table else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "temperature": self.temperature,
            "fitted_on": self.fitted_on,
            "metrics": dict(self.metrics),
            "command": self.command,
            **({"member_temperatures": list(self.member_temperatures)} if self.member_temperatures else {}),
            **({"calibration_fold": self.calibration_fold} if self.calibration_fold is not None else {}),
        }


@dataclass(frozen=True)
class ReferenceCard:
    """The shipped reference set of annotated proteins (homology evidence): file, checksum, origin."""

    file: str  # relative to the card's folder
    sha256: str = ""
    n_proteins: int = 0
    sources: tuple[str, ...] = ()  # e.g. "multiloc folds 1, 2, 3, 4"
    command: str = ""
    combination: dict[str, Any] = field(default_factory=dict)  # parameters of the model + homology call, if fitted

    @classmethod
    def from_dict(cls, data: Any, path: Path | str | None = None, where: str = "reference") -> ReferenceCard:
        r = _Reader(data, path, where)
        return cls(
            file=r.str("file", required=True),
            sha256=r.sha256("sha256"),
            n_proteins=r.int("n_proteins", 0, minimum=0),
            sources=r.strs("sources"),
            command=r.str("command", ""),
            combination=r.dict("combination"),
        )

    def to_dict(self) -> dict[str, Any]:
        data = {
            "file": self.file,
            "sha256": self.sha256,
            "n_proteins": self.n_proteins,
            "sources": list(self.sources),
            "command": self.command,
            "combination": dict(self.combination),
        }
        if not self.combination:
            del data["combination"]
        return data


# ----------------------------------------------------------------------------- the card
_KNOWN_KEYS = frozenset(
    {
        "classes", "length_policy", "encoding", "training", "ensemble_command", "metrics", "name",
        "format_version", "model", "members", "motif_member", "weights_file", "weights_sha256",
        "motifs_file", "motifs_sha256", "motifs_reference", "motifs_member", "motifs_command",
        "provenance", "calibration", "reference", "note",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ModelCard:
    """Everything a bundle says about itself. Built by ``from_dict`` (validated) or by code that trains.

    ``name``, ``model``, ``members``, ``motif_member``, ``weights_file`` and ``weights_sha256``
    describe the weights; :func:`locviz.weights.save_bundle` fills them in from the model it writes.
    """

    classes: tuple[str, ...]  # class ids in output order
    model: ModelConfig
    length_policy: LengthPolicy
    name: str = ""
    format_version: int = FORMAT_VERSION
    members: int = 1
    motif_member: int = 0  # the member whose filters the app shows
    weights_file: str = ""
    weights_sha256: str = ""
    training: tuple[MemberTraining, ...] = ()  # one per member, in member order (or none)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # evaluation key → classification report
    provenance: str = ""
    ensemble_command: str = ""
    note: str = ""  # a warning shown with the card (e.g. "tiny random test bundle")
    motifs: MotifsInfo | None = None
    calibration: CalibrationCard | None = None
    reference: ReferenceCard | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this locviz does not know, kept verbatim

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dict(cls, data: Any, path: Path | str | None = None) -> ModelCard:
        """Check and type a card read from JSON; ``path`` names the file in every error.

        Raises:
            BundleError: a field is missing or of the wrong type, or two fields disagree.
        """
        r = _Reader(data, path)
        classes = r.strs("classes", required=True)
        if not classes:
            r.fail("classes", "must list at least one class id", [])
        if len(set(classes)) != len(classes):
            r.fail("classes", "must not repeat a class id", list(classes))
        model = _model_config(r)
        r.required("length_policy")
        max_length = r.section("length_policy").opt_int("max_length")
        if max_length is not None and max_length < 1:
            r.fail("length_policy.max_length", "must be >= 1 or null (whole sequence)", max_length)
        training_data = r.list("training")
        name = r.str("name", Path(str(path)).stem if path is not None else "")
        card = cls(
            classes=classes,
            model=model,
            length_policy=LengthPolicy(max_length),
            name=name,
            format_version=r.int("format_version", FORMAT_VERSION, minimum=1),
            members=r.int("members", required=True, minimum=1),
            motif_member=r.int("motif_member", 0, minimum=0),
            weights_file=r.str("weights_file", required=True),
            weights_sha256=r.sha256("weights_sha256", required=True),
            training=tuple(MemberTraining.from_dict(t, path, f"training[{k}]") for k, t in enumerate(training_data)),
            metrics=_metrics(r),
            provenance=r.str("provenance", ""),
            ensemble_command=r.str("ensemble_command", ""),
            note=r.str("note", ""),
            motifs=MotifsInfo.from_card(r, name or "model"),
            calibration=CalibrationCard.from_dict(r.data["calibration"], path) if r.has("calibration") else None,
            reference=ReferenceCard.from_dict(r.data["reference"], path) if r.has("reference") else None,
            extra={k: v for k, v in r.data.items() if k not in _KNOWN_KEYS},
        )
        card._check(r)
        return card

    @property
    def single_network(self) -> bool:
        """One network, nothing averaged (a fast student): screens describe it as one, not as an ensemble."""
        return self.members == 1

    @property
    def calibrated_as_one_network(self) -> bool:
        """A one-network card whose calibration is its own temperature (older single-``T`` cards are not)."""
        return self.single_network and self.calibration is not None and len(self.calibration.member_temperatures) == 1

    @property
    def teacher(self) -> str | None:
        """The ensemble a distilled student learnt from, as its training recorded it (None: not a student)."""
        return self.training[0].train_config.get("teacher") if self.single_network and self.training else None

    def _check(self, r: _Reader) -> None:
        """Facts that must agree across fields."""
        if self.format_version > FORMAT_VERSION:
            r.fail("format_version", f"is newer than this locviz reads ({FORMAT_VERSION}); upgrade locviz",
                   self.format_version)  # fmt: skip
        if not self.weights_file:
            r.fail("weights_file", "must name the weights file next to the card", "")
        if self.model.n_classes != len(self.classes):
            r.fail("classes", f"lists {len(self.classes)} class ids but model.n_classes is {self.model.n_classes}")
        if "encoding" in r.data and r.data["encoding"] != self.model.encoding:
            r.fail("encoding", f"disagrees with model.encoding {self.model.encoding!r}", r.data["encoding"])
        if not self.motif_member < self.members:
            r.fail("motif_member", f"must be below members ({self.members})", self.motif_member)
        if self.training and len(self.training) != self.members:
            r.fail("training", f"has {len(self.training)} entries for {self.members} members (one per member, "
                   "or none)")  # fmt: skip
        if self.motifs is not None and not self.motifs.member < self.members:
            r.fail("motifs_member", f"must be below members ({self.members})", self.motifs.member)
        if self.motifs is not None and self.motifs.member != self.motif_member:
            r.fail("motifs_member", f"must be motif_member ({self.motif_member}): the logos must describe the filters "
                   "whose activations the app shows beside them; recompute them with locviz motifs",
                   self.motifs.member)  # fmt: skip
        temps = self.calibration.member_temperatures if self.calibration is not None else ()
        if temps and len(temps) != self.members:
            r.fail("calibration.member_temperatures", f"has {len(temps)} entries for {self.members} members "
                   "(one per member; run locviz calibrate again)")  # fmt: skip
        for key, report in self.metrics.items():
            where = f"metrics[{key!r}]"
            member = report.get("member")
            if member is not None and not (_is_int(member) and 0 <= member < self.members):
                r.fail(f"{where}.member", f"must be null (the ensemble) or a member 0-{self.members - 1}", member)
            if "classes" in report and list(report["classes"]) != list(self.classes):
                r.fail(f"{where}.classes", f"must equal the card's classes {list(self.classes)}", report["classes"])
            matrix = report.get("confusion_matrix")
            n = len(self.classes)
            if matrix is not None and (
                not isinstance(matrix, list) or len(matrix) != n or any(not isinstance(row, list) or len(row) != n
                                                                        for row in matrix)
            ):  # fmt: skip
                r.fail(f"{where}.confusion_matrix", f"must be {n} x {n} (one row and column per class)")

    # ------------------------------------------------------------------ writing
    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this card (keys in the order the shipped cards have them)."""
        data: dict[str, Any] = {
            "classes": list(self.classes),
            "length_policy": self.length_policy.to_dict(),
            "training": [t.to_dict() for t in self.training],
            "ensemble_command": self.ensemble_command,
            "metrics": {k: dict(v) for k, v in self.metrics.items()},
            "name": self.name,
            "format_version": self.format_version,
            "model": self.model.to_dict(),
            "members": self.members,
            "motif_member": self.motif_member,
            "weights_file": self.weights_file,
            "weights_sha256": self.weights_sha256,
        }
        if not self.ensemble_command:
            del data["ensemble_command"]
        if self.motifs is not None:
            data.update(self.motifs.to_dict())
        optional = {
            "provenance": self.provenance,
            "note": self.note,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "reference": self.reference.to_dict() if self.reference else None,
        }
        data.update(_drop_empty(optional))
        data.update(self.extra)
        return data

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with ``changes`` (the card is frozen; write it with ``locviz.weights.write_card``)."""
        return replace(self, **changes)

    def with_metrics(self, key: str, report: Mapping[str, Any]) -> ModelCard:
        """A copy with ``metrics[key] = report`` (added or replaced)."""
        return replace(self, metrics={**self.metrics, key: dict(report)})

    # ------------------------------------------------------------------ questions
    def display_name(self, class_id: str) -> str:
        """The words for a class id ("plasma membrane"); see :func:`display_name`."""
        return display_name(class_id)

    @property
    def display_names(self) -> tuple[str, ...]:
        """Display names of every class, in output order."""
        return tuple(display_name(c) for c in self.classes)

    def member_validation_fold(self, k: int) -> int | None:
        """The fold member ``k`` stopped early on (its cross-validation fold), or None if the card has no record."""
        if not 0 <= k < self.members:
            raise BundleError(f"{self.name or 'model'} has members 0-{self.members - 1}; there is no member {k}")
        return self.training[k].validation_fold if k < len(self.training) else None

    @property
    def dataset(self) -> str:
        """The data set the members were trained on (``multiloc``, ``deeploc``), or "" when the card has no record."""
        return next((t.dataset for t in self.training if t.dataset), "")

    def data_folds(self) -> tuple[int, ...]:
        """Every fold some member trained or stopped early on (the model's training data), sorted."""
        folds = {f for t in self.training for f in t.train_folds}
        folds.update(t.validation_fold for t in self.training if t.validation_fold is not None)
        return tuple(sorted(folds))

    def commands(self) -> list[tuple[str, str]]:
        """(what it made, command as recorded) for every step the card records, in the order to run them."""
        steps = [(f"member {k}", t.command) for k, t in enumerate(self.training) if t.command]
        if self.ensemble_command:
            steps.append(("merge the members into one bundle", self.ensemble_command))
        steps += [(f"evaluation '{key}'", r["command"]) for key, r in self.metrics.items() if r.get("command")]
        if self.motifs is not None and self.motifs.command:
            steps.append(("filter logos for the app", self.motifs.command))
        if self.calibration is not None and self.calibration.command:
            steps.append(("calibration", self.calibration.command))
        if self.reference is not None and self.reference.command:
            steps.append(("reference set of annotated proteins", self.reference.command))
        return steps

    def test_metrics(self) -> tuple[str, dict[str, Any]] | None:
        """The first evaluation whose key says ``test`` (the held-out fold: nothing is chosen on it), or None."""
        return next(((k, r) for k, r in self.metrics.items() if "test" in k), None)


def _model_config(r: _Reader) -> ModelConfig:
    r.required("model")
    m = r.section("model")
    n_classes = m.int("n_classes", required=True, minimum=1)
    widths = m.ints("conv_widths", minimum=1) if "conv_widths" in m.data else None
    for key in ("filters_per_width", "conv2_width", "lstm_hidden", "attention_hidden", "dense_hidden"):
        if key in m.data:
            m.int(key, minimum=1)
    if "conv2_channels" in m.data:
        m.int("conv2_channels", minimum=0)
    for key in ("input_dropout", "hidden_dropout"):
        if key in m.data and not 0 <= m.number(key) < 1:
            m.fail(m.name(key), "must be in [0, 1)", m.data[key])
    if "encoding" in m.data:
        m.str("encoding")
    config = ModelConfig.from_dict(dict(m.data))
    config.n_classes = n_classes
    if widths is not None:
        config.conv_widths = widths
    return config


def _metrics(r: _Reader) -> dict[str, dict[str, Any]]:
    metrics = r.dict("metrics")
    for key, report in metrics.items():
        where = f"metrics[{key!r}]"
        if not isinstance(report, Mapping):
            r.fail(where, "must be a JSON object (a classification report)", report)
        for name in ("n",):
            if name in report and not _is_int(report[name]):
                r.fail(f"{where}.{name}", "must be an integer", report[name])
        for name in ("accuracy", "gorodkin_mcc"):
            if name in report and not _is_number(report[name]):
                r.fail(f"{where}.{name}", "must be a number", report[name])
        folds = report.get("folds")
        if folds is not None and (not isinstance(folds, list) or not all(_is_int(f) and f >= 0 for f in folds)):
            r.fail(f"{where}.folds", "must be a list of fold numbers", folds)
    return {k: dict(v) for k, v in metrics.items()}
