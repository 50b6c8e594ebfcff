"""The ``locviz`` command: predict, train, ensemble, evaluate, motifs, app, calibrate, scan, mutate, reference.

Each sub-command is a small function over the ``locviz`` API; errors a user
can fix (any :class:`locviz.errors.LocvizError`) are printed as one clear line
and exit with status 2 (usage, from argparse) or 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from tqdm import tqdm

from locviz import batching, campaign, homology, pipeline, signals, table, whatif
from locviz.card import MemberTraining, ModelCard, MotifsInfo
from locviz.cluster import commands as cluster_commands
from locviz.datasets import DATASETS, TEST_FOLD, LabelledSet, load_dataset, sha256_of
from locviz.encoding import ENCODINGS, LengthPolicy
from locviz.errors import InputError, LocvizError
from locviz.metrics import classification_report, format_report
from locviz.model import Ensemble, ModelConfig
from locviz.motifs import MotifSet, bundle_motifs_path, compute, match_summary, save_motifs
from locviz.organisms import ORGANISMS
from locviz.predict import Predictor, load_model
from locviz.prediction import Prediction
from locviz.sequences import (
    ParseIssue,
    ProteinRecord,
    checked_stdin,
    iter_record_texts,
    open_fasta,
    take_chunk,
)
from locviz.train import TrainConfig, encode_records, fit, train_config_dict
from locviz.weights import (
    ENSEMBLES,
    STUDENTS,
    ModelBundle,
    load_bundle,
    read_card,
    resolve_device,
    save_bundle,
    update_card,
)

MODEL_HELP = (f"{', '.join(ENSEMBLES)} (ensembles), {', '.join(STUDENTS.values())} (their fast students) "
              "or a bundle path")


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), PyTorch {torch.__version__}"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, PyTorch {torch.__version__}"


_ARGV: list[str] | None = None  # the arguments main() was given, for command_line()


def command_line() -> str:
    """The running command as typed (recorded in model cards), also when main() is called with arguments."""
    argv = sys.argv[1:] if _ARGV is None else _ARGV
    return "locviz " + " ".join(shlex.quote(a) for a in argv)


# ----------------------------------------------------------------------------- train
def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one ConvLSTM on a data set's folds (one ensemble member)")
    p.add_argument("--dataset", required=True, choices=("multiloc", "deeploc"))
    p.add_argument("--data", required=True, help="folder of the data set, e.g. ../shared/data/multiloc")
    p.add_argument("--val-fold", type=int, help="fold used for early stopping (with --init-from: the member's own)")
    p.add_argument("--train-folds", type=int, nargs="*", help="default: every fold but the validation and test folds")
    p.add_argument("--out", required=True, help="run folder: log, checkpoint, member bundle")
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true")
    defaults_t, defaults_m = TrainConfig(), ModelConfig(n_classes=1)
    p.add_argument("--epochs", type=int, default=defaults_t.epochs, help="most epochs to run (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=defaults_t.batch_size,
                   help="proteins per training step (default: %(default)s)")  # fmt: skip
    p.add_argument("--lr", type=float, default=defaults_t.learning_rate,
                   help="learning rate of the Adam optimiser (default: %(default)s)")  # fmt: skip
    p.add_argument("--weight-decay", type=float, default=defaults_t.weight_decay,
                   help="L2 weight decay (default: %(default)s)")  # fmt: skip
    p.add_argument("--patience", type=int, default=defaults_t.patience,
                   help="stop after this many epochs without a better validation loss (default: %(default)s)")
    p.add_argument("--seed", type=int, default=defaults_t.seed, help="random seed (default: %(default)s)")
    p.add_argument("--time-budget", type=float, help="seconds; no epoch starts that would overrun it")
    p.add_argument("--max-length", type=int, default=defaults_t.max_length, help="0 keeps whole sequences")
    p.add_argument("--encoding", choices=ENCODINGS, default=defaults_m.encoding,
                   help="residue encoding: %(choices)s (default: %(default)s)")  # fmt: skip
    p.add_argument("--filters-per-width", type=int, default=defaults_m.filters_per_width,
                   help="first-layer convolution filters per filter width (default: %(default)s)")  # fmt: skip
    p.add_argument("--conv2-channels", type=int, default=defaults_m.conv2_channels,
                   help="channels of the second convolution (default: %(default)s)")  # fmt: skip
    p.add_argument("--lstm-hidden", type=int, default=defaults_m.lstm_hidden,
                   help="BiLSTM units per direction, also the attention and dense sizes (default: %(default)s)")
    p.add_argument("--input-dropout", type=float, default=defaults_m.input_dropout,
                   help="dropout on the encoded input (default: %(default)s)")  # fmt: skip
    p.add_argument("--hidden-dropout", type=float, default=defaults_m.hidden_dropout,
                   help="dropout on hidden layers (default: %(default)s)")  # fmt: skip
    p.add_argument("--init-from", metavar="BUNDLE",
                   help="fine-tune a shipped member (needs --member): its folds, architecture and length policy; "
                   "fresh optimiser, cosine decay from --lr, weights averaged over the last --average-last epochs")
    p.add_argument("--member", type=int, help="with --init-from: which member to fine-tune")
    p.add_argument("--attention", nargs="*", default=[], metavar="SIGNAL=WEIGHT",
                   help="signal supervision of the attention, e.g. signal_peptide=1 pts1=2 er_retention=2 "
                   "(annotations: DATA/../signals/deeploc_train_signals.tsv and label-gated C-terminal rules)")
    p.add_argument("--deletion", nargs="*", default=[], metavar="SIGNAL=WEIGHT",
                   help="train signal-deleted copies away from their class (the call must depend on the signal), "
                   "e.g. signal_peptide=1 pts1=4 er_retention=4")
    p.add_argument("--insertion", nargs="*", default=[], metavar="SIGNAL=WEIGHT",
                   help="train copies of cytosolic proteins with SKL appended toward the peroxisome, of secreted "
                   "ones with KDEL appended toward the ER, e.g. pts1=1 er_retention=1")
    p.add_argument("--label-smoothing", type=float, default=0.0, help="(default: %(default)s)")
    p.add_argument("--logit-adjustment", type=float, default=0.0,
                   help="tau of logit-adjusted cross-entropy for rare classes (default: %(default)s)")
    p.add_argument("--average-last", type=int, help="average the weights of the last N epochs (fine-tune default 3)")
    p.set_defaults(func=cmd_train)


def _signal_weights(items: list[str], option: str) -> dict[str, float]:
    """``SIGNAL=WEIGHT`` items of ``--attention`` / ``--deletion`` / ``--insertion`` (names checked by the run)."""
    weights = {}
    for item in items:
        kind, _, value = item.partition("=")
        try:
            weights[kind] = float(value)
        except ValueError:
            raise InputError(f"{option} {item!r}: give SIGNAL=WEIGHT, e.g. pts1=2") from None
    return weights


def cmd_finetune(args: argparse.Namespace) -> int:
    """``locviz train --init-from BUNDLE --member K``: one campaign run, outside a plan."""
    if args.member is None:
        raise InputError("--init-from needs --member (which member of the bundle to fine-tune)")
    _, card = read_card(args.init_from)
    if not 0 <= args.member < len(card.training):
        raise InputError(f"{args.init_from} records training for members 0-{len(card.training) - 1}, not {args.member}")
    own = card.training[args.member].validation_fold
    if args.val_fold is not None and args.val_fold != own:
        raise InputError(f"member {args.member} was validated on fold {own} and trained on fold {args.val_fold}: a "
                         "fine-tune keeps its member's folds; a member for a new fold starts from scratch")  # fmt: skip
    out = Path(args.out)
    settings = {"epochs": args.epochs if args.epochs != TrainConfig.epochs else 6, "schedule": "cosine",
                "learning_rate": args.lr if args.lr != TrainConfig.learning_rate else 2e-4,
                "min_learning_rate": 1e-5, "average_last": 3 if args.average_last is None else args.average_last,
                "patience": 10_000, "batch_size": args.batch_size, "seed": args.seed,
                "label_smoothing": args.label_smoothing, "logit_adjustment": args.logit_adjustment,
                "attention": _signal_weights(args.attention, "--attention"),
                "deletion": _signal_weights(args.deletion, "--deletion"),
                "insertion": _signal_weights(args.insertion, "--insertion")}  # fmt: skip
    run = campaign.Run(name=out.name, kind="finetune", dataset=args.dataset, model=args.init_from,
                       member=args.member, settings=settings)  # fmt: skip
    campaign.check_run(run, "locviz train")
    data_root = Path(args.data).parent
    plan = campaign.Plan(Path("(locviz train)"), data_root, out.parent, out.parent, args.device, [run])
    outcome = campaign.train_run(plan, run, log=lambda line: print(line, flush=True))
    (out / "result.json").write_text(json.dumps(outcome, indent=1) + "\n")
    print(f"wrote {out / 'member.json'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.init_from:
        return cmd_finetune(args)
    if args.val_fold is None:
        raise InputError("give --val-fold (the fold used for early stopping), or --init-from and --member")
    data = load_dataset(args.dataset, args.data)
    test_fold = TEST_FOLD.get(args.dataset)
    all_folds = sorted(set(data.folds.tolist()))
    if args.val_fold == test_fold:
        raise InputError(f"fold {test_fold} is {args.dataset}'s test fold: never validate or select on it")
    train_folds = args.train_folds or [f for f in all_folds if f not in (args.val_fold, test_fold)]
    if test_fold in train_folds:
        raise InputError(f"fold {test_fold} is {args.dataset}'s test fold: never train on it")
    if args.val_fold in train_folds:
        raise InputError("the validation fold is also a training fold")
    device = resolve_device(args.device)
    hidden = args.lstm_hidden
    model_config = ModelConfig(
        n_classes=len(data.classes),
        encoding=args.encoding,
        filters_per_width=args.filters_per_width,
        conv2_channels=args.conv2_channels,
        lstm_hidden=hidden,
        attention_hidden=hidden,
        dense_hidden=hidden,
        input_dropout=args.input_dropout,
        hidden_dropout=args.hidden_dropout,
    )
    train_config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        seed=args.seed,
        max_length=args.max_length or None,
        max_seconds=args.time_budget,
        label_smoothing=args.label_smoothing,
        logit_adjustment=args.logit_adjustment,
        average_last=args.average_last or 0,
    )
    if args.attention or args.deletion or args.insertion:
        raise InputError("--attention, --deletion and --insertion are for fine-tunes (--init-from) and campaign "
                         "runs; see weights/campaign.toml")  # fmt: skip
    policy = LengthPolicy(train_config.max_length)
    tokens = encode_records(data.records, policy)
    train_idx, val_idx = data.subset(train_folds), data.subset([args.val_fold])
    print(
        f"{args.dataset}: {len(train_idx)} training proteins (folds {train_folds}), "
        f"{len(val_idx)} validation (fold {args.val_fold}); device {device}",
        flush=True,
    )
    result = fit(
        model_config, train_config, tokens, data.labels, train_idx, val_idx, data.classes,
        args.out, device, resume=args.resume, progress=not args.no_progress,
    )
    member = MemberTraining(
        dataset=args.dataset,
        data_files_sha256=dict(data.files),
        train_folds=tuple(train_folds),
        validation_fold=args.val_fold,
        n_train=int(len(train_idx)),
        n_validation=int(len(val_idx)),
        train_config=train_config_dict(train_config),
        best_epoch=result.best_epoch,
        epochs_run=len(result.history),
        validation=result.best_validation,
        history=tuple(result.history),
        seconds=round(result.seconds, 1),
        hardware=hardware_description(device),
        command=command_line(),
    )
    card = ModelCard(tuple(data.classes), model_config, policy, training=(member,))
    card_path = save_bundle(Path(args.out) / "member", Ensemble([result.model.cpu()]), card)
    print(f"best epoch {result.best_epoch}: validation accuracy {result.best_validation['accuracy']:.4f}")
    print(f"wrote {card_path}")
    return 0


# -------------------------------------------------------------------------- campaign
def add_campaign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "campaign",
        help="run a training plan (fine-tunes, new members) that resumes after every interruption",
        description="Reads PLAN.toml, skips finished runs, resumes the unfinished one from its checkpoint and goes "
        "on; finished members go into the shipped bundle the plan names. Start it in the background: "
        "nohup nice -n 10 python3 -m locviz campaign weights/campaign.toml --commit >> runs/campaign.log 2>&1 &",
    )
    p.add_argument("plan", help="the plan, e.g. weights/campaign.toml")
    p.add_argument("--status", action="store_true", help="print the status table and exit")
    p.add_argument("--data", help="folder holding deeploc/, multiloc/ and signals/ (default: the plan's 'data')")
    p.add_argument("--commit", action="store_true",
                   help="git-commit each bundle as soon as a member is shipped, and a parked run (--hours)")
    p.add_argument("--only", metavar="RUN", help="run just this run of the plan (what a member's card records)")
    p.add_argument("--hours", type=float, metavar="H",
                   help="the machine is left for H hours (its runs/ folder does not outlive it): before time runs "
                   "out, the run in progress pauses at an epoch boundary and is parked in the plan's results folder "
                   "(committed with --commit); the next start, on any checkout, goes on from that epoch")  # fmt: skip
    p.set_defaults(func=cmd_campaign)


def cmd_campaign(args: argparse.Namespace) -> int:
    plan = campaign.read_plan(args.plan, args.data)
    if args.status:
        print(campaign.main_status(plan))
        return 0
    pid = campaign.running_pid(plan)
    if pid is not None and pid != os.getpid():
        raise InputError(f"a campaign on {plan.runs_dir} is already running (pid {pid}); see --status")
    return campaign.run_campaign(plan, commit_shipped=args.commit, log=lambda line: print(line, flush=True),
                                 only=args.only, hours=args.hours)  # fmt: skip


# -------------------------------------------------------------------------- ensemble
def add_ensemble(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="merge trained members (run folders) into one shipped bundle")
    p.add_argument("runs", nargs="+", help="run folders written by 'locviz train'")
    p.add_argument("--out", required=True, help="bundle stem, e.g. weights/multiloc")
    p.add_argument("--motif-member", type=int, default=0, help="member whose filters the app shows")
    p.set_defaults(func=cmd_ensemble)


def cmd_ensemble(args: argparse.Namespace) -> int:
    bundles = [load_bundle(Path(run) / "member", device="cpu") for run in args.runs]
    first = bundles[0]
    for b in bundles[1:]:
        for key in ("classes", "model", "length_policy"):
            if getattr(b.card, key) != getattr(first.card, key):
                raise InputError(f"{b.card_path} differs from {first.card_path} in {key!r}; members must match")
    members = [m for b in bundles for m in b.model.members]
    if not 0 <= args.motif_member < len(members):
        raise InputError(f"--motif-member must be between 0 and {len(members) - 1}")
    card = ModelCard(
        first.card.classes, first.card.model, first.card.length_policy,
        training=tuple(t for b in bundles for t in b.card.training), ensemble_command=command_line(),
    )  # fmt: skip
    card_path = save_bundle(args.out, Ensemble(members, args.motif_member), card)
    print(f"wrote {card_path} with {len(members)} members")
    return 0


# -------------------------------------------------------------------------- evaluate
def bundle_and_folds(args: argparse.Namespace) -> tuple[ModelBundle, LabelledSet, np.ndarray]:
    """The bundle, the data set and the indices of ``args.folds``, checked against each other."""
    bundle = load_bundle(args.model, device=args.device)
    if args.member is not None and not 0 <= args.member < len(bundle.model.members):
        raise InputError(f"--member must be between 0 and {len(bundle.model.members) - 1}")
    data = load_dataset(args.dataset, args.data)
    if list(data.classes) != bundle.classes:
        raise InputError(f"the model's classes {bundle.classes} are not {args.dataset}'s {list(data.classes)}")
    idx = data.subset(args.folds)
    if len(idx) == 0:
        has = sorted(set(data.folds.tolist()))
        raise InputError(f"no proteins in folds {args.folds}; {args.dataset} has folds {has}")
    return bundle, data, idx


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy, MCC and confusion matrix of a bundle on data-set folds")
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--dataset", required=True, choices=("multiloc", "deeploc"))
    p.add_argument("--data", required=True)
    p.add_argument("--folds", type=int, nargs="+", required=True)
    p.add_argument("--member", type=int, help="evaluate one ensemble member instead of the average")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", help="write the metrics here as JSON")
    p.add_argument("--update-card", metavar="KEY", help="store the metrics in the card under metrics[KEY]")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from locviz import calibration

    bundle, data, idx = bundle_and_folds(args)
    model = bundle.model
    if args.member is not None:
        model = Ensemble([bundle.model.members[args.member]])
    t0 = time.perf_counter()
    tokens = encode_records([data.records[i] for i in idx], bundle.length_policy)
    with tqdm(total=len(tokens), desc="evaluate", unit="protein") as bar:
        members = batching.member_probabilities(model, tokens, bundle.device, callback=bar.update)
    calibrator = calibration.calibrator_of(bundle.card)
    if args.member is not None:  # one member: its own temperature, as the ensemble would calibrate it
        probs = calibrator.single(members[0], args.member)
    else:
        probs = calibrator.ensemble(members)
    labels = data.labels[idx]
    report = classification_report(labels, probs.argmax(1), data.classes)
    fitted = calibration.fitted_folds(bundle.card) & set(args.folds)
    report["calibration"] = {"ece": round(calibration.expected_calibration_error(probs, labels), 4),
                             "ece_uncalibrated": round(calibration.expected_calibration_error(
                                 members.mean(axis=0), labels), 4),
                             "mean_confidence": round(float(probs.max(1).mean()), 4),
                             "calibrated": not calibrator.is_identity, "calibrator": calibrator.describe()}  # fmt: skip
    if fitted and not calibrator.is_identity:
        report["calibration"]["note"] = (f"fold(s) {', '.join(map(str, sorted(fitted)))} are where the card's "
                                         "temperatures were fitted: this ECE is not out of sample")  # fmt: skip
    report.update(
        {
            "dataset": args.dataset,
            "folds": args.folds,
            "member": args.member,
            "model": bundle.name,
            "seconds": round(time.perf_counter() - t0, 1),
            "hardware": hardware_description(bundle.device),
            "command": command_line(),
        }
    )
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.update_card:
        update_card(bundle.card_path, lambda card: card.with_metrics(args.update_card, report))
        print(f"stored under metrics[{args.update_card!r}] in {bundle.card_path}")
    return 0


# --------------------------------------------------------------------------- predict
PREDICT_CHUNK = pipeline.CHUNK
"""Records read, predicted and written at a time, so a huge FASTA never sits in memory (2,048: length buckets
pad 3 % more than sorting a whole 11,085-protein file, 256 padded 12 % more)."""



def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the location of every protein in a FASTA file",
        description="Predict every record of INPUT (FASTA, or one raw sequence) and write one row per protein: "
        "id, length, prediction, confidence, then p_<class> per class (the ensemble's mean, calibrated as the "
        "card says and restricted to --organism), the support verdict (high/medium/low) and its reasons, "
        "member_agreement and member_spread (how many members make the call, the range of its probability over "
        "them), known_location (the training data's location when the model was trained on this very protein), "
        "the known sorting signals (type:start-end of each rule's hit, the app's track), attended_regions (up to 3 "
        "most-attended 9-residue windows, each above uniform attention), signal_conflicts (each signal the call "
        "contradicts), the organism applied and notes (residues cleaned, a long protein cut). "
        "Text that cannot be a protein, mostly unknown residues, nucleotides and bad characters are reported and "
        "skipped; exit status 0 when everything was predicted, 3 when some records were skipped, 1 when the run "
        "failed.",
    )
    p.add_argument("input", metavar="INPUT", help="FASTA file (or a file with one raw sequence); '-' reads stdin")
    p.add_argument("--model", default="multiloc", help=f"{MODEL_HELP} (default: multiloc)")
    p.add_argument("--out", required=True, help="output file; '-' writes to stdout")
    p.add_argument(
        "--format", choices=table.PREDICTION_FORMATS,
        help="default: from the --out suffix (.csv, .json, .gff3; tsv for .tsv, .tab, .txt, no suffix and '-'; any "
        "other suffix is refused); gff3 writes one feature per call "
        "and one per known sorting signal (as SignalP 6 and TargetP 2 do)",
    )  # fmt: skip
    p.add_argument("--attention", metavar="ATT_PATH", help="also write per-residue attention as a long TSV")
    p.add_argument("--with-attention", action="store_true",
                   help="JSON only: each protein's record also holds its sequence, its attention per residue (null "
                   "where the model did not look) and every member's probabilities (the app's 'Predictions + "
                   "attention' download; locviz.write_table(..., with_attention=True))")  # fmt: skip
    p.add_argument(
        "--signals", metavar="SIG_PATH",
        help="also write the known sorting signals, one row per signal: id, type, start, end, label, rule, "
        "evidence (TSV; .csv or .json by suffix)",
    )  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--chunk-size", type=int, default=PREDICT_CHUNK, help="records read and predicted at a time")
    p.add_argument("--stop-on-error", action="store_true", help="stop at the first bad record (exit status 1)")
    p.add_argument(
        "--organism", choices=ORGANISMS, default="any",
        help="zero the compartments this organism cannot have (plastids outside plants; the animal lysosome vs the "
        "plant/fungal vacuole: see the model card) and renormalise; a protein that had more than half of its "
        "probability there gets support low and a warning. Default any (no restriction)",
    )  # fmt: skip
    p.add_argument(
        "--neighbours", action="store_true",
        help="search the model's reference set of annotated proteins (DIAMOND) and add the columns nearest_id, "
        "nearest_identity, nearest_coverage, nearest_evalue, nearest_location, combined (model and the best hit "
        "weighed by its identity, and by its query coverage where the card's combination was fitted with it) and "
        "combined_confidence; a protein's own reference entry is named but never counted as support",
    )  # fmt: skip
    p.add_argument(
        "--search-mode", choices=homology.SENSITIVITIES, default=None,
        help="with --neighbours: DIAMOND's sensitivity. Default: the mode the card's combined call was fitted with "
        "(mid-sensitive for the shipped models); the app searches in 'default' mode (about 3x faster for one "
        "protein, fewer distant hits), so '--search-mode default' writes the app's table",
    )  # fmt: skip
    p.add_argument(
        "--hits", metavar="HITS_PATH",
        help="with --neighbours: also write every hit the search found (the app's hits list; the table keeps the "
        f"best), one row per hit, best first, up to {homology.MAX_HITS} a protein: id, rank, accession, location, "
        "identity, coverage, evalue, bitscore, fold, uniprot (TSV; .csv or .json by suffix)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    cluster_commands.add_predict_options(p)
    p.set_defaults(func=cmd_predict)


def count_records(path: Path) -> int | None:
    """Number of FASTA headers, for the progress bar's total (one pass over the file, gzip or not).

    Raises:
        InputError: the file is not UTF-8 or its gzip stream is damaged: said before any protein is predicted.
    """
    try:
        with open_fasta(path) as handle:
            return sum(line.startswith(">") for line in handle) or 1
    except OSError:
        return None


def cmd_predict(args: argparse.Namespace) -> int:
    if args.search_mode is not None and not args.neighbours:
        raise InputError("--search-mode sets how --neighbours searches; add --neighbours, or leave --search-mode out")
    if args.hits and not args.neighbours:
        raise InputError("--hits writes what --neighbours finds; add --neighbours, or leave --hits out")
    if args.cluster:  # the same command over a Dask cluster: Parquet parts in the --out folder (locviz/cluster/)
        return cluster_commands.cmd_predict_cluster(args)
    if args.batch_size < 1 or args.chunk_size < 1:
        raise InputError("--batch-size and --chunk-size must be at least 1")
    source = args.input
    if source != "-":
        path = Path(source)
        if not path.exists():
            raise InputError(f"input file {source} does not exist")
        if not path.is_file():
            raise InputError(f"{source} is not a file; give a FASTA file")
        open_fasta(path).close()  # a compressed, binary or flat file is refused before the model loads
    fmt = table.format_for(args.out, args.format, table.PREDICTION_FORMATS)
    if args.with_attention and fmt != "json":
        raise InputError(f"--with-attention adds per-residue lists, which only JSON holds, not {fmt}: write "
                         "--out FILE.json (or --format json), or use --attention FILE for a long per-residue "
                         "table")  # fmt: skip
    attention_fmt = table.format_for(args.attention, allowed=table.ATTENTION_FORMATS) if args.attention else None
    signals_fmt = table.format_for(args.signals) if args.signals else None
    hits_fmt = table.format_for(args.hits) if args.hits else None
    table.check_distinct_outputs({"--out": args.out, "--attention": args.attention, "--signals": args.signals,
                                  "--hits": args.hits})  # fmt: skip
    for target in (args.out, args.attention, args.signals, args.hits):
        if target:
            table.check_output_path(target, reads=source)
    predictor = load_model(args.model, device=args.device, batch_size=args.batch_size)
    reference = None
    if args.neighbours:  # before any output is opened: no aligner, no empty .partial files left behind
        reference = homology.Reference.for_search(predictor.bundle, sensitivity=args.search_mode)
    total = count_records(Path(source)) if source != "-" else None
    in_handle = checked_stdin() if source == "-" else open_fasta(source)
    out_handle = table.open_pending(args.out)
    att_handle = table.open_pending(args.attention) if args.attention else None
    sig_handle = table.open_pending(args.signals) if args.signals else None
    hits_handle = table.open_pending(args.hits) if args.hits else None
    extra_columns = pipeline.extra_columns(neighbours=reference is not None)
    writer = table.writer_for(out_handle, fmt, predictor.classes, model=predictor.name, extra_columns=extra_columns,
                              with_attention=args.with_attention)  # fmt: skip
    attention_writer = table.AttentionWriter(att_handle, attention_fmt) if att_handle else None
    hits_writer = None
    if hits_handle is not None:
        hits_writer = table.RowWriter(hits_handle, hits_fmt, homology.HIT_COLUMNS, meta={"model": predictor.name},
                                      rows_key="hits")  # fmt: skip
    signal_writer = None
    if sig_handle is not None:
        signal_writer = table.RowWriter(sig_handle, signals_fmt, signals.TRACK_COLUMNS,
                                        meta={"model": predictor.name}, rows_key="signals")  # fmt: skip
    bar = tqdm(total=total, unit="protein", disable=args.no_progress, file=sys.stderr, desc="predict")
    counts = {"predicted": 0, "skipped": 0, "cropped": 0, "warned": 0, "excluded": 0, "known": 0}
    tally = pipeline.CallTally()
    seen_ids: set[str] = set()
    pending: list[ProteinRecord] = []
    where = "stdin" if source == "-" else source

    def write_hits(predictions: list[Prediction], hits: list[list[homology.Hit]]) -> None:
        hits_writer.write(row for p, found in zip(predictions, hits, strict=True)
                          for row in homology.hit_rows(p.id, found))  # fmt: skip

    def flush() -> None:
        if not pending:
            return
        predictions = pipeline.predict_chunk(predictor, pending, organism=args.organism, reference=reference,
                                             on_hits=write_hits if hits_writer is not None else None)  # fmt: skip
        writer.write(predictions)
        if attention_writer is not None:
            attention_writer.write(predictions)
        if signal_writer is not None:
            signal_writer.write(row for p in predictions for row in signals.track_rows(p))
        counts["predicted"] += len(predictions)
        tally.add_predictions(predictions)
        for p in predictions:
            for flag in pipeline.flagged(p):
                counts[flag] += 1
        bar.update(len(predictions))
        pending.clear()

    def report(line: int, issue: ParseIssue) -> None:
        tqdm.write(f"{where}, line {line}: {issue}", file=sys.stderr)

    stopped = finished = False
    try:
        for number, (line, text) in enumerate(iter_record_texts(in_handle), start=1):
            chunk = take_chunk(text, number, seen_ids)
            for issue in chunk.notes:
                tqdm.write(f"{where}, line {line}: note: {issue.message}", file=sys.stderr)
            for issue in chunk.errors:
                report(chunk.line_of(issue, line), issue)
            if chunk.errors:
                counts["skipped"] += chunk.bad_record + chunk.preamble
                bar.update(int(chunk.bad_record))
                if args.stop_on_error:
                    stopped = True
                    break
            for record in chunk.records:
                counts["warned"] += chunk.warned
                pending.append(record)
            if len(pending) >= args.chunk_size:
                flush()
        flush()
        finished = True
    finally:
        bar.close()
        writer.close()
        for extra_writer in (signal_writer, hits_writer):
            if extra_writer is not None:
                extra_writer.close()
        for handle in (in_handle, out_handle, att_handle, sig_handle, hits_handle):
            if handle is not None and handle not in (sys.stdin, sys.stdout):
                handle.close()
        outputs = (args.out, args.attention, args.signals, args.hits)
        for note in table.settle_pending(outputs, finished, empty=counts["predicted"] == 0):
            print(f"note: {note}", file=sys.stderr)
    return predict_summary(args, predictor, counts, stopped, tally)


def predict_summary(
    args: argparse.Namespace, predictor: Predictor, counts: dict, stopped: bool, tally: pipeline.CallTally
) -> int:
    """Notes, the calls by compartment and support, and the final line on stderr; the exit status (0 all, 3 some
    skipped, 1 failed)."""
    for line in pipeline.run_notes(counts, predictor.bundle.length_policy, args.organism, predictor.name):
        print(line, file=sys.stderr)
    for line in tally.lines():
        print(line, file=sys.stderr)
    predicted, skipped = counts["predicted"], counts["skipped"]
    written = "stdout" if args.out == "-" else args.out
    wrote = f"wrote {written}"
    if args.attention:
        wrote += f" and {'stdout' if args.attention == '-' else args.attention} (attention per residue)"
    if args.signals:
        wrote += f" and {'stdout' if args.signals == '-' else args.signals} (known sorting signals)"
    if args.hits:
        wrote += f" and {'stdout' if args.hits == '-' else args.hits} (homology hits)"
    if predicted == 0:
        why = "stopped at the first bad record (--stop-on-error)" if stopped else f"{skipped} skipped"
        earlier = " (the file there is from an earlier run)" if Path(args.out).exists() else ""
        nothing = "" if args.out == "-" else f"; {args.out} was not written{earlier}"
        print(f"locviz predict: error: no record could be predicted ({why}){nothing}", file=sys.stderr)
        return 1
    if stopped:
        print(
            f"locviz predict: error: stopped at the first bad record (--stop-on-error); {written} holds "
            f"the {predicted} record(s) before it",
            file=sys.stderr,
        )
        return 1
    if skipped:
        print(
            f"predicted {predicted} records with {predictor.name}; "
            f"{skipped} skipped (see the messages above); {wrote}",
            file=sys.stderr,
        )
        return 3
    print(f"predicted {predicted} records with {predictor.name}; {wrote}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- motifs
def add_motifs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("motifs", help="precompute filter logos (NAME.motifs.npz) from a data set's training folds")
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data", required=True, help="folder of the data set, e.g. ../shared/data/multiloc")
    p.add_argument("--folds", type=int, nargs="+", required=True, help="training folds to take the windows from")
    p.add_argument("--top-k", type=int, default=100, help="windows per filter (default 100)")
    p.add_argument("--max-per-protein", type=int, default=1, help="windows per protein and filter (default 1)")
    p.add_argument("--member", type=int, help="ensemble member (default: the card's motif member)")
    p.add_argument("--out", help="default: NAME.motifs.npz next to the model card")
    p.add_argument(
        "--no-mask", action="store_true",
        help="keep low-complexity windows (poly-E, Ser-rich ...) eligible as top windows (default: masked, SEG-like)",
    )  # fmt: skip
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_motifs)


def cmd_motifs(args: argparse.Namespace) -> int:
    if args.top_k < 1 or args.max_per_protein < 1:
        raise InputError("--top-k and --max-per-protein must be at least 1")
    test_fold = TEST_FOLD.get(args.dataset)
    if test_fold in args.folds:
        raise InputError(f"fold {test_fold} is {args.dataset}'s test fold: take motifs from training folds only")
    bundle, data, idx = bundle_and_folds(args)
    reference = (
        f"{len(idx)} {args.dataset} proteins of folds {', '.join(map(str, args.folds))} (training data); "
        f"top {args.top_k} windows per filter, at most {args.max_per_protein} per protein, activation > 0"
        + ("" if args.no_mask else ", low-complexity windows masked")
    )
    t0 = time.perf_counter()
    motif_set = compute(
        bundle, [data.records[i] for i in idx], labels=data.labels[idx], classes=data.classes,
        top_k=args.top_k, max_per_protein=args.max_per_protein, member=args.member,
        progress=not args.no_progress, reference=reference, mask_low_complexity=not args.no_mask,
    )
    out = Path(args.out) if args.out else bundle_motifs_path(bundle)
    save_motifs(motif_set, out)
    info = MotifsInfo(
        file=os.path.relpath(out.resolve(), bundle.card_path.parent.resolve()),
        sha256=sha256_of(out),
        reference=reference,
        member=motif_set.member,
        command=command_line(),
    )
    update_card(bundle.card_path, lambda card: card.replace(motifs=info))
    print_motif_summary(motif_set, time.perf_counter() - t0)
    print(f"wrote {out} and updated {bundle.card_path}")
    return 0


def print_motif_summary(motif_set: MotifSet, seconds: float) -> None:
    """Per width: how informative the logos are; then the filters most specific to one class."""
    motifs = motif_set.motifs
    firing = sum(1 for m in motifs if m.top_windows)
    print(f"{len(motifs)} filters of member {motif_set.member} ({firing} fire in the reference set), {seconds:.0f}s")
    print(f"reference: {motif_set.reference}")
    for width in sorted({m.width for m in motifs}):
        group = [m for m in motifs if m.width == width]
        bits = np.mean([m.information_content / width for m in group])
        print(f"  width {width:2d}: {len(group):3d} filters, logos hold {bits:.2f} bits per position on average")
    ranked = sorted(
        (m for m in motifs if m.class_association), key=lambda m: -max(m.class_association.values())
    )[:5]
    if ranked:
        print("filters most specific to one class (z-score of class means):")
    for m in ranked:
        best = max(m.class_association, key=m.class_association.get)
        print(
            f"  filter {m.index:3d} (width {m.width:2d}) {m.consensus:<21} {best} z {m.class_association[best]:+.2f}"
        )
    led = sum(1 for m in motifs if m.low_complexity_share >= 0.5)
    print(f"low complexity: {'masked' if motif_set.masking_method else 'not masked'}; {led} filters had at least half "
          f"of their strongest windows in low-complexity segments; {sum(m.composition_only for m in motifs)} "
          "flagged composition-only")  # fmt: skip
    matched = [m for m in motifs if m.best_match is not None]
    print(f"known motifs: {match_summary(motif_set)}")
    for m in sorted(matched, key=lambda m: -m.best_match.score)[:10]:
        print(f"  filter {m.index:3d} (width {m.width:2d}) {m.consensus:<21} {m.best_match.describe(m.width)}")


# ------------------------------------------------------------------------- calibrate
def add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the member and ensemble temperatures and the support thresholds; store them in the card",
        description="Each member predicts its own validation fold (from the card's training records; never a "
        "test fold) and gets its own temperature, applied to its logits before the members are averaged. With "
        "--calibration-fold F, the members that never trained on fold F predict it together and an ensemble "
        "temperature is fitted on their average (averaging makes an ensemble softer than its members); without "
        "one the ensemble temperature is 1. A member's temperature can reorder a near-tie, so a call can change; "
        "locviz evaluate scores the calibrated call. Prints ECE before/after (cross-fitted) and the CV accuracy "
        "per support level.",
    )
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data", required=True, help="folder of the data set, e.g. ../shared/data/deeploc")
    p.add_argument("--device", default="auto")
    p.add_argument("--calibration-fold", type=int, metavar="F",
                   help="fit the ensemble temperature on fold F, predicted by the members that never trained on it "
                   "(default: the fold the card's calibration used before, if any)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the figures, leave the card as it is")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from locviz import calibration

    bundle = load_bundle(args.model, device=args.device)
    data = load_dataset(args.dataset, args.data)
    total = sum(len(data.subset([f])) for f in calibration.validation_folds(bundle, args.dataset))
    fold = args.calibration_fold
    if fold is None and bundle.card.calibration is not None:
        fold = bundle.card.calibration.calibration_fold
    if fold is not None:
        calibration.check_calibration_fold(bundle.card, args.dataset, fold)  # before minutes of predictions
        total += len(data.subset([fold]))
    with tqdm(total=total, desc="out-of-fold", unit="protein", disable=args.no_progress) as bar:
        result = calibration.fit(bundle, data, callback=bar.update, calibration_fold=fold)
    print(calibration.summary(result))
    if not args.dry_run:
        section = result.section(command_line(), bundle.card.weights_sha256)
        update_card(bundle.card_path, lambda card: card.replace(calibration=section))
        print(f"stored the calibration section in {bundle.card_path}")
    return 0


# ------------------------------------------------------------------------ scan, mutate
@dataclass
class WhatifInput:
    """The input of ``scan``, ``mutate`` and ``attribute``: the records to use and what was skipped, as
    ``locviz predict`` counts it (bad records and text before the first header)."""

    records: list[ProteinRecord]
    skipped: int
    skipped_ids: list[str]  # names of the refused records (``mutate`` says so when an item names one)


def _whatif_records(path: str) -> WhatifInput:
    """The good records of a FASTA file (``-``: stdin) for ``scan``, ``mutate`` and ``attribute``: a bad record is
    reported with its line, as ``locviz predict`` reports it, and the rest are used.

    Raises:
        InputError: the file is missing or not FASTA text, or no record can be used.
    """
    if path != "-" and not Path(path).is_file():
        raise InputError(f"input file {path} does not exist or is not a file")
    where = "stdin" if path == "-" else path
    found = WhatifInput([], 0, [])
    seen_ids: set[str] = set()
    with checked_stdin() if path == "-" else open_fasta(path) as handle:
        for number, (line, text) in enumerate(iter_record_texts(handle), start=1):
            chunk = take_chunk(text, number, seen_ids)
            for issue in chunk.notes:
                print(f"{where}, line {line}: note: {issue.message}", file=sys.stderr)
            for issue in chunk.errors:
                print(f"{where}, line {chunk.line_of(issue, line)}: {issue}", file=sys.stderr)
                if issue.record_id is not None and issue.kind != "preamble":
                    found.skipped_ids.append(issue.record_id)
            found.skipped += int(chunk.bad_record) + int(chunk.preamble)
            found.records.extend(chunk.records)
    if not found.records:
        raise InputError(f"no record of {where} can be used (see the messages above)" if found.skipped else
                         f"{where} holds no protein record")  # fmt: skip
    return found


def _whatif_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="FASTA", help="FASTA file (or a file with one raw sequence); '-' reads stdin; a "
                   "bad record is reported with its line and skipped (exit status 3)")
    p.add_argument("--model", default="multiloc", help=f"{MODEL_HELP} (default: multiloc)")
    p.add_argument("--out", required=True, help="output table; '-' writes to stdout")
    p.add_argument("--format", choices=table.FORMATS, help="the --out table's format; default: from the --out "
                   "suffix (.csv, .json; tsv for .tsv, .tab, .txt, no suffix and '-'; any other suffix is refused). "
                   "A second table (--attention, --curves) takes its format from its own suffix, or from --format "
                   "when it goes to '-'")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda ...")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="in-silico saturation mutagenesis: every substitution in a window, Δ of each class probability",
        description="For every protein of FASTA, change each residue of START..END (1-based, at most "
        f"{whatif.MAX_SCAN_WINDOW}) to each other residue and write one row per (position, substitute): "
        "id, position, wt, mut, dp_<class> (p(mutant) - p(wild type)), organism; 19 rows per position (20 at an "
        "unknown residue X, which every standard residue replaces). Without "
        f"--start/--end the {whatif.DEFAULT_SCAN_WIDTH}-residue window with the most attention is scanned.",
    )
    _whatif_options(p)
    p.add_argument("--start", type=int, help="first position (1-based)")
    p.add_argument("--end", type=int, help="last position (1-based, inclusive)")
    p.add_argument("--rescore-with", metavar="MODEL",
                   help="predict the strongest cells again with this model (e.g. scan with --model deeploc-fast, "
                   "re-score with deeploc); adds rescored_by and full_dp_<class> columns. The default window and "
                   "class are then this model's (its attention, its call), as on the app's What if page")  # fmt: skip
    p.add_argument("--rescore-top", type=int,
                   help=f"how many of the strongest cells to re-score (default {whatif.RESCORE_TOP})")  # fmt: skip
    p.add_argument("--rescore-class", metavar="CLASS",
                   help="re-score the strongest cells for this class id (as p_<class> without p_; default: each "
                   "protein's call by --rescore-with), as the app's What if page does for the class it shows")
    _organism_option(p)
    p.set_defaults(func=cmd_scan)


def _organism_option(p: argparse.ArgumentParser) -> None:
    """``--organism`` of scan and mutate: the wild type and every mutant restricted alike, as the What if page does
    for the organism its prediction was made for."""
    p.add_argument("--organism", choices=ORGANISMS, default="any",
                   help="compare the probabilities this organism allows (see locviz predict --organism); default "
                   "any: all the model's compartments")  # fmt: skip


def cmd_scan(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if (args.start is None) != (args.end is None):
        raise InputError("give both --start and --end, or neither (the most-attended window)")
    fmt = table.format_for(args.out, args.format)
    table.check_output_path(args.out, reads=args.input)
    if args.start is not None:  # wrong for every protein: said once, before anything is read
        whatif.check_window_shape(args.start, args.end)
    found = _whatif_records(args.input)
    records, skipped = found.records, found.skipped
    if args.start is not None:  # a window that does not fit a protein skips that protein, as a bad record is
        fits = []
        for record in records:
            try:
                whatif.check_window(args.start, args.end, len(record.sequence))
                fits.append(record)
            except InputError as exc:
                print(f"record '{record.id}' ({len(record.sequence)} aa): {exc}; skipped", file=sys.stderr)
        skipped += len(records) - len(fits)
        if not fits:
            raise InputError(f"the window {args.start}-{args.end} fits none of the proteins (see above)")
        records = fits
    if args.rescore_top is not None and (args.rescore_top < 1 or not args.rescore_with):
        raise InputError("--rescore-top must be at least 1" if args.rescore_with else "--rescore-top "
                         f"{args.rescore_top}: it says how many cells --rescore-with predicts again; add "
                         "--rescore-with MODEL")  # fmt: skip
    rescore_top = whatif.RESCORE_TOP if args.rescore_top is None else args.rescore_top
    predictor = load_model(args.model, device=args.device, batch_size=args.batch_size)
    full = load_model(args.rescore_with, device=args.device, batch_size=args.batch_size) if args.rescore_with else None
    if full is not None:  # before any output is opened
        whatif.check_same_classes(full.name, full.classes, predictor.name, predictor.classes)
    if args.rescore_class is not None and (full is None or args.rescore_class not in predictor.classes):
        raise InputError(f"--rescore-class {args.rescore_class!r}: " + (
            "it chooses the cells --rescore-with predicts again; add --rescore-with MODEL" if full is None else
            f"not a class of {predictor.name}; choose one of {', '.join(predictor.classes)}"))  # fmt: skip
    handle = table.open_pending(args.out)
    columns = whatif.scan_columns(predictor.classes, rescored=full is not None)
    writer = whatif.delta_writer(handle, fmt, columns, model=predictor.name, kind="scan")
    bar = tqdm(unit="mutant", disable=args.no_progress, file=sys.stderr, desc="scan")
    rows = 0
    finished = False
    try:
        for record in records:
            if full is None:
                scan = whatif.saturation_scan(predictor, record, args.start, args.end, callback=bar.update,
                                              organism=args.organism)  # fmt: skip
            else:
                scan = whatif.fast_scan(predictor, full, record, args.start, args.end, cls=args.rescore_class,
                                        top=rescore_top, callback=bar.update, organism=args.organism)  # fmt: skip
                tqdm.write(f"{record.id}: {whatif.rescore_summary(scan)}", file=sys.stderr)
                disagreement = whatif.rescore_warning(scan)
                if disagreement:
                    tqdm.write(f"warning: {record.id}: {disagreement}; scan with --model {args.rescore_with} to "
                               "draw every cell with it", file=sys.stderr)  # fmt: skip
            scan_rows = list(scan.rows())
            writer.write(scan_rows)
            rows += len(scan_rows)
            if args.start is None:
                tqdm.write(f"{record.id}: scanned residues {int(scan.positions[0])}-{int(scan.positions[-1])}, the "
                           f"{len(scan.positions)} with the most attention", file=sys.stderr)  # fmt: skip
            if not scan.seen.all():
                tqdm.write(f"note: {record.id}: {int((~scan.seen).sum())} position(s) of the window are not seen by "
                           "the model (long-sequence policy); their Δ is 0", file=sys.stderr)
        finished = True
    finally:
        bar.close()
        _close_outputs([writer], [handle], [args.out], finished)
    written = "stdout" if args.out == "-" else args.out
    print(f"scanned {len(records)} protein(s) with {predictor.name}: {rows} rows"
          + (f"; {skipped} skipped (see the messages above)" if skipped else "") + f"; wrote {written}",
          file=sys.stderr)  # fmt: skip
    return 3 if skipped else 0


def _second_table_format(path: str, chosen: str | None) -> str:
    """A what-if command's second table (--attention, --curves) is written as its own suffix says, as predict's side
    files are; on standard output, which has none, as --format says."""
    return table.format_for(path, chosen if path == "-" else None)


def _close_outputs(writers: Sequence[Any], handles: Sequence[IO[str]], paths: Sequence[str | None],
                   finished: bool) -> None:  # fmt: skip
    """Close a what-if command's tables and name each PATH only when the run finished; otherwise leave
    PATH.partial and say so, as locviz predict does: an interrupted run never leaves a table that looks complete."""
    for writer, handle in zip(writers, handles, strict=True):
        writer.close()
        if handle is not sys.stdout:
            handle.close()
    for note in table.settle_pending(paths, finished):
        print(f"note: {note}", file=sys.stderr)


def add_mutate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mutate",
        help="predict variants (K128T, del1-20, ins45:AAA, HGVS p.Lys128Thr) beside the wild type, Δ of each class "
        "probability",
        description="Write one row per mutant: id, variant (as given; HGVS text with the change it was read as), "
        "prediction_wt, prediction_mut, confidence_wt, confidence_mut, support_mut, signal_conflicts_mut, "
        "dp_<class> (p(mutant) - p(wild type)), organism. An item is ID:VARIANTS, all in wild-type coordinates: "
        "commas separate mutants (P1:del505-508,L7R is two mutants, two rows, each against the wild type), + joins "
        "changes into one mutant (P1:del505-508+L7R), --combine makes one mutant of each item; ID may be left out "
        "when FASTA holds one record. HGVS protein notation is read too (p.Lys128Thr, p.K128T, p.(Lys128Thr), "
        "p.Ala5_Leu9del, p.Lys128_Ala129insGly). A residue the variant names that is not there is refused.",
    )
    _whatif_options(p)
    p.add_argument(
        "--variants", nargs="+", required=True, metavar="ID:VARIANTS", help="e.g. P07237:K128T P07237:p.Lys505Thr"
    )
    p.add_argument("--combine", action="store_true",
                   help="apply every change of an item to one mutant (default: commas separate mutants)")  # fmt: skip
    p.add_argument("--attention", metavar="ATT_PATH",
                   help="also write where the attention moved (the What if page's Δ-attention track): one row per "
                   "residue of each wild type / mutant alignment: id, variant, position, wt, mutant_position, mut, "
                   "attention_wt, attention_mut, delta_attention (deleted or inserted residues have one side empty; "
                   "attention is empty where that model did not look)")  # fmt: skip
    _organism_option(p)
    p.set_defaults(func=cmd_mutate)


def cmd_mutate(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    fmt = table.format_for(args.out, args.format)
    attention_fmt = _second_table_format(args.attention, args.format) if args.attention else None
    for path in (args.out, args.attention):
        if path:
            table.check_output_path(path, reads=args.input)
    table.check_distinct_outputs({"--out": args.out, "--attention": args.attention})
    found = _whatif_records(args.input)
    records, skipped = {r.id: r for r in found.records}, found.skipped
    jobs = []
    for item in args.variants:  # named among every record of the file: an item without a name needs a one-record file
        rid, mutants = whatif.target_mutants(item, [*records, *found.skipped_ids], combine=args.combine)
        if rid not in records:
            raise InputError(f"{item!r}: record '{rid}' was skipped (see the message above); mend it to mutate it")
        for variants in mutants:
            try:
                whatif.apply_variants(records[rid], variants)  # refuse every bad item before the model loads
            except InputError as exc:
                raise InputError(f"record '{rid}': {exc}") from exc
        jobs.append((records[rid], mutants))
    predictor = load_model(args.model, device=args.device, batch_size=args.batch_size)
    handles = [table.open_pending(args.out)]
    writers = [whatif.delta_writer(handles[0], fmt, whatif.mutate_columns(predictor.classes), model=predictor.name,
                                   kind="mutate")]  # fmt: skip
    if args.attention:
        handles.append(table.open_pending(args.attention))
        writers.append(whatif.delta_writer(handles[1], attention_fmt, whatif.ATTENTION_CHANGE_COLUMNS,
                                           model=predictor.name, kind="attention_change"))  # fmt: skip
    n_mutants = sum(len(mutants) for _, mutants in jobs)
    bar = tqdm(total=n_mutants, unit="mutant", disable=args.no_progress, file=sys.stderr, desc="mutate")
    finished = False
    try:
        for record, mutants in jobs:
            comparisons = whatif.compare_mutants(predictor, record, mutants, organism=args.organism)
            writers[0].write([c.row() for c in comparisons])
            if args.attention:
                writers[1].write(row for c in comparisons for row in c.attention_rows())
            bar.update(len(mutants))
            if warning := comparisons[0].wild.extra.get("organism_warning"):  # as locviz predict warns
                tqdm.write(f"warning: {record.id} (wild type): {warning}", file=sys.stderr)
        finished = True
    finally:
        bar.close()
        _close_outputs(writers, handles, [args.out, args.attention], finished)
    written = " and ".join("stdout" if path == "-" else path for path in (args.out, args.attention) if path)
    print(f"predicted {n_mutants} mutant(s) with {predictor.name}"
          + (f"; {skipped} record(s) of the input skipped (see the messages above)" if skipped else "")
          + f"; wrote {written}", file=sys.stderr)  # fmt: skip
    return 3 if skipped else 0


def add_attribute(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attribute",
        help="which residues carry the call: attention, occlusion and gradients per residue, with deletion curves",
        description="The What if page's attribution cross-check for every protein of FASTA. --out gets one row per "
        "residue: id, position, residue, target, then one score per method (attention, occlusion, gradxinput and, "
        "with --integrated-gradients, integrated_gradients; empty where the model did not look; larger = more "
        "support for the target). --curves gets each method's deletion curve: P(target) with its top-k residues "
        f"replaced by X against k random ones (k = {', '.join(map(str, whatif.DELETION_KS))}, up to "
        f"{whatif.DELETION_MAX_SHARE:.0%} of the residues seen), and whether the method is faithful: at the "
        f"largest k, its top residues lower P(target) by at least {whatif.FAITHFUL_SHARE:.0%} of the wild type's "
        "P(target) more than the random ones (mean of 5 draws). All compartments are read (organism 'any'), as "
        "the gradients are.",
    )
    _whatif_options(p)
    p.add_argument("--curves", metavar="OUT", help="also write the deletion curves here ('-': stdout)")
    p.add_argument("--target", metavar="CLASS",
                   help="score this class id (as p_<class> without p_; default: each protein's call)")  # fmt: skip
    p.add_argument("--integrated-gradients", action="store_true",
                   help=f"add integrated gradients ({whatif.IG_STEPS} steps: slower)")  # fmt: skip
    p.set_defaults(func=cmd_attribute)


def cmd_attribute(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    fmt = table.format_for(args.out, args.format)
    curves_fmt = _second_table_format(args.curves, args.format) if args.curves else None
    for path in (args.out, args.curves):
        if path:
            table.check_output_path(path, reads=args.input)
    table.check_distinct_outputs({"--out": args.out, "--curves": args.curves})
    found = _whatif_records(args.input)
    records, skipped = found.records, found.skipped
    predictor = load_model(args.model, device=args.device, batch_size=args.batch_size)
    if args.target is not None and args.target not in predictor.classes:
        raise InputError(f"--target {args.target!r} is not a class of {predictor.name}; choose one of "
                         f"{', '.join(predictor.classes)}")  # fmt: skip
    methods = whatif.cross_check_methods(args.integrated_gradients)
    meta = {"table": "attribution", "model": predictor.name}
    handles = [table.open_pending(args.out)]
    writers = [table.RowWriter(handles[0], fmt, whatif.attribution_columns(methods), meta=meta)]
    if args.curves:
        handles.append(table.open_pending(args.curves))
        writers.append(table.RowWriter(handles[1], curves_fmt, whatif.DELETION_COLUMNS,
                                 meta={"table": "deletion_curve", "model": predictor.name}))  # fmt: skip
    faithful = dict.fromkeys(methods, 0)  # proteins whose deletion curve reads faithful, per method
    bar = tqdm(unit="window", disable=args.no_progress, file=sys.stderr, desc="attribute (occlusion)")
    finished = False
    try:
        for record in records:
            attributions, curves = whatif.cross_check(predictor, record, args.target,
                                                      integrated_gradients=args.integrated_gradients,
                                                      callback=bar.update)  # fmt: skip
            writers[0].write(whatif.attribution_rows(attributions))
            if args.curves:
                writers[1].write(whatif.deletion_rows(curves, record.id))
            for curve in curves:
                faithful[curve.method] += curve.faithful
        finished = True
    finally:
        bar.close()
        _close_outputs(writers, handles, [args.out, args.curves], finished)
    written = " and ".join("stdout" if path == "-" else path for path in (args.out, args.curves) if path)
    readings = ", ".join(f"{whatif.METHOD_NAMES.get(m, m)} {n} of {len(records)}" for m, n in faithful.items())
    print(f"attributed {len(records)} protein(s) with {predictor.name}; faithful by its deletion curve: {readings}"
          + (f"; {skipped} skipped (see the messages above)" if skipped else "") + f"; wrote {written}",
          file=sys.stderr)  # fmt: skip
    return 3 if skipped else 0


# ------------------------------------------------------------------------------- app
APP_PACKAGE = "locviz_dashboard"
"""The installed name of the repository's app files (``dashboard.py``, ``pages/``, ``.streamlit/``): pyproject.toml
maps it onto the top of the checkout, so a wheel carries the app while a clone keeps its layout."""


def dashboard_path() -> Path:
    """The Streamlit entry point: in the installed app files, else next to the package (an uninstalled checkout)."""
    spec = importlib.util.find_spec(APP_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        if (Path(folder) / "dashboard.py").is_file():
            return Path(folder) / "dashboard.py"
    return Path(__file__).resolve().parent.parent / "dashboard.py"


def add_app(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "app", help="start the web app (Streamlit) and open it in the browser",
        description="Start the locviz web app. This process becomes the server: stop it with Ctrl-C or by its "
        "PID and the server stops with it. The default model is loaded while the server starts.",
    )  # fmt: skip
    p.add_argument("--port", type=int, help="port to serve on (default: Streamlit's, 8501)")
    p.add_argument("--address", help="address to listen on (default: all interfaces; 127.0.0.1 for this machine only)")
    p.add_argument("--headless", action="store_true", help="do not open a browser (servers, containers)")
    p.set_defaults(func=cmd_app)


def app_command(path: Path, args: argparse.Namespace) -> list[str]:
    """The server's command line: ``python -m locviz_app DASHBOARD`` plus Streamlit's options."""
    cmd = [sys.executable, "-m", "locviz_app", str(path)]
    if args.port is not None:
        cmd += ["--server.port", str(args.port)]
    if args.address:
        cmd += ["--server.address", args.address]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return cmd


def cmd_app(args: argparse.Namespace) -> int:
    path = dashboard_path()
    if not path.is_file():
        raise InputError(
            f"the app's entry point {path} is missing; reinstall locviz (pip install .) or run from a source "
            "checkout (git clone, then bash scripts/install.sh)"
        )
    if args.port is not None and not 1 <= args.port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {args.port}")
    cmd = app_command(path, args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)  # this process becomes the server: its PID is the one to stop
    return 0  # not reached


# ------------------------------------------------------------------------- reference
def add_reference(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reference",
        help="write the reference set of annotated training proteins (homology evidence) and fit the combined call",
        description="Writes every protein of --folds (the model's training data; never a test fold) as a gzip FASTA "
        "(>ACCESSION location=... dataset=... fold=N), fits the combined call on out-of-fold calls (each member's "
        "own validation fold, searched without that fold) and stores file, sha256 and parameters in the card's "
        "'reference' section.",
    )
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data", required=True, help="folder of the data set, e.g. ../shared/data/multiloc")
    p.add_argument("--folds", type=int, nargs="+", help="default: every fold the card's members trained on")
    p.add_argument("--out", help=f"default: NAME{homology.REFERENCE_SUFFIX} next to the model card")
    p.add_argument("--no-fit", action="store_true", help="only write the reference set (no combined call)")
    p.add_argument("--sensitivity", choices=homology.SENSITIVITIES, default=homology.DEFAULT_SENSITIVITY,
                   help=f"DIAMOND mode the combined call is fitted with and searches use (default "
                   f"{homology.DEFAULT_SENSITIVITY})")  # fmt: skip
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_reference)


def cmd_reference(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.model, device=args.device)
    data = load_dataset(args.dataset, args.data)
    folds = args.folds or list(bundle.card.data_folds())
    if not folds:
        raise InputError(f"{bundle.card_path} records no training folds; give --folds")
    out = Path(args.out) if args.out else bundle.sibling(homology.REFERENCE_SUFFIX)
    with tqdm(desc="out-of-fold", unit="protein", disable=args.no_progress or args.no_fit) as bar:
        reference, section, cv = homology.build(
            bundle, data, folds, out, command_line(), fit=not args.no_fit, sensitivity=args.sensitivity,
            callback=bar.update,
        )
    update_card(bundle.card_path, lambda card: card.replace(reference=section))
    print(f"wrote {out}: {len(reference)} proteins of {args.dataset} folds {folds}, sha256 {section.sha256[:12]}...")
    if cv is not None and reference.combination is not None:
        c = reference.combination
        print(f"combined call: w(identity) = 1 / (1 + exp(-{c.slope:g} (identity - {c.midpoint:g})))")
        print(
            f"cross-validation ({cv['n']} out-of-fold proteins, {cv['with_hit']:.1%} with a hit, E <= "
            f"{homology.MAX_EVALUE:g}): model {cv['model']:.4f}, homology {cv['homology']:.4f} (model where no hit), "
            f"combined {cv['combined']:.4f} ({cv['combined_note']})"
        )
    print(f"stored the reference section in {bundle.card_path}")
    return 0


# ------------------------------------------------------------------------------ main
COMMON_HELP = {
    "--device": "auto (CUDA when present, else CPU), cpu, cuda, cuda:1 … (default: %(default)s)",
    "--dataset": "data set whose layout and classes to read: %(choices)s",
    "--data": "folder of the data set, e.g. ../shared/data/multiloc",
    "--folds": "data-set folds to use (MultiLoc fold 0 is the test fold)",
    "--no-progress": "no progress bar on stderr",
    "--batch-size": "proteins per forward pass (default: %(default)s); lower it if memory runs out",
    "--model": MODEL_HELP,
}
"""Help of the options several sub-commands share, said the same way everywhere (an option's own help wins)."""


def _fill_common_help(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _fill_common_help(sub)
        elif not action.help:
            action.help = next((COMMON_HELP[o] for o in action.option_strings if o in COMMON_HELP), None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="locviz", description="Protein subcellular localisation with a ConvLSTM.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        add_predict, add_train, add_campaign, add_ensemble, add_evaluate, add_motifs, add_app, add_calibrate,
        add_scan, add_mutate, add_attribute, add_reference, cluster_commands.add_merge,
    ):
        add(sub)
    _fill_common_help(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    global _ARGV
    parser = build_parser()
    args = parser.parse_args(argv)
    _ARGV = list(argv) if argv is not None else None
    np.set_printoptions(suppress=True)
    try:
        return int(args.func(args) or 0)
    except LocvizError as exc:
        print(f"locviz {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `locviz predict x.fasta --out - | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a file that exists but cannot be read or written (permissions, a full disk)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"locviz {args.command}: error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
