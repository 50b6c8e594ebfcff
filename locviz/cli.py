"""The ``locviz`` command: train, ensemble, evaluate, predict, motifs, app.

Each sub-command is a small function over the ``locviz`` API; errors a user
can fix are printed as one clear line and exit with status 2 (usage) or 1.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from locviz.datasets import TEST_FOLD, DatasetError, load_dataset
from locviz.encoding import ENCODINGS, LengthPolicy
from locviz.metrics import classification_report, format_report
from locviz.model import Ensemble, ModelConfig
from locviz.train import TrainConfig, encode_records, fit, predict_probabilities, train_config_dict
from locviz.weights import BundleError, load_bundle, resolve_device, save_bundle, write_card


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), PyTorch {torch.__version__}"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads, PyTorch {torch.__version__}"


def command_line() -> str:
    return "locviz " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ----------------------------------------------------------------------------- train
def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one ConvLSTM on a data set's folds (one ensemble member)")
    p.add_argument("--dataset", required=True, choices=("multiloc", "deeploc"))
    p.add_argument("--data", required=True, help="folder of the data set, e.g. ../shared/data/multiloc")
    p.add_argument("--val-fold", type=int, required=True, help="fold used for early stopping")
    p.add_argument("--train-folds", type=int, nargs="*", help="default: every fold but the validation and test folds")
    p.add_argument("--out", required=True, help="run folder: log, checkpoint, member bundle")
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--no-progress", action="store_true")
    defaults_t, defaults_m = TrainConfig(), ModelConfig(n_classes=1)
    p.add_argument("--epochs", type=int, default=defaults_t.epochs)
    p.add_argument("--batch-size", type=int, default=defaults_t.batch_size)
    p.add_argument("--lr", type=float, default=defaults_t.learning_rate)
    p.add_argument("--weight-decay", type=float, default=defaults_t.weight_decay)
    p.add_argument("--patience", type=int, default=defaults_t.patience)
    p.add_argument("--seed", type=int, default=defaults_t.seed)
    p.add_argument("--time-budget", type=float, help="seconds; no epoch starts that would overrun it")
    p.add_argument("--max-length", type=int, default=defaults_t.max_length, help="0 keeps whole sequences")
    p.add_argument("--encoding", choices=ENCODINGS, default=defaults_m.encoding)
    p.add_argument("--filters-per-width", type=int, default=defaults_m.filters_per_width)
    p.add_argument("--conv2-channels", type=int, default=defaults_m.conv2_channels)
    p.add_argument("--lstm-hidden", type=int, default=defaults_m.lstm_hidden)
    p.add_argument("--input-dropout", type=float, default=defaults_m.input_dropout)
    p.add_argument("--hidden-dropout", type=float, default=defaults_m.hidden_dropout)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    data = load_dataset(args.dataset, args.data)
    test_fold = TEST_FOLD.get(args.dataset)
    all_folds = sorted(set(data.folds.tolist()))
    if args.val_fold == test_fold:
        raise CliError(f"fold {test_fold} is {args.dataset}'s test fold: never validate or select on it")
    train_folds = args.train_folds or [f for f in all_folds if f not in (args.val_fold, test_fold)]
    if test_fold in train_folds:
        raise CliError(f"fold {test_fold} is {args.dataset}'s test fold: never train on it")
    if args.val_fold in train_folds:
        raise CliError("the validation fold is also a training fold")
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
    )
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
    card = {
        "classes": list(data.classes),
        "length_policy": policy.to_dict(),
        "encoding": model_config.encoding,
        "training": [
            {
                "dataset": args.dataset,
                "data_files_sha256": data.files,
                "train_folds": train_folds,
                "validation_fold": args.val_fold,
                "n_train": int(len(train_idx)),
                "n_validation": int(len(val_idx)),
                "train_config": train_config_dict(train_config),
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
                "validation": result.best_validation,
                "history": result.history,
                "seconds": round(result.seconds, 1),
                "hardware": hardware_description(device),
                "command": command_line(),
            }
        ],
    }
    card_path = save_bundle(Path(args.out) / "member", Ensemble([result.model.cpu()]), card)
    print(f"best epoch {result.best_epoch}: validation accuracy {result.best_validation['accuracy']:.4f}")
    print(f"wrote {card_path}")
    return 0


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
            if b.card[key] != first.card[key]:
                raise CliError(f"{b.card_path} differs from {first.card_path} in {key!r}; members must match")
    members = [m for b in bundles for m in b.model.members]
    if not 0 <= args.motif_member < len(members):
        raise CliError(f"--motif-member must be between 0 and {len(members) - 1}")
    card = {
        "classes": first.card["classes"],
        "length_policy": first.card["length_policy"],
        "encoding": first.card["encoding"],
        "training": [t for b in bundles for t in b.card["training"]],
        "ensemble_command": command_line(),
        "metrics": {},
    }
    card_path = save_bundle(args.out, Ensemble(members, args.motif_member), card)
    print(f"wrote {card_path} with {len(members)} members")
    return 0


# -------------------------------------------------------------------------- evaluate
def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy, MCC and confusion matrix of a bundle on data-set folds")
    p.add_argument("--model", required=True, help="multiloc, deeploc or a bundle path")
    p.add_argument("--dataset", required=True, choices=("multiloc", "deeploc"))
    p.add_argument("--data", required=True)
    p.add_argument("--folds", type=int, nargs="+", required=True)
    p.add_argument("--member", type=int, help="evaluate one ensemble member instead of the average")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", help="write the metrics here as JSON")
    p.add_argument("--update-card", metavar="KEY", help="store the metrics in the card under metrics[KEY]")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.model, device=args.device)
    data = load_dataset(args.dataset, args.data)
    if list(data.classes) != bundle.classes:
        raise CliError(f"the model's classes {bundle.classes} are not {args.dataset}'s {list(data.classes)}")
    idx = data.subset(args.folds)
    if len(idx) == 0:
        raise CliError(f"no proteins in folds {args.folds}; {args.dataset} has folds {sorted(set(data.folds))}")
    model = bundle.model
    if args.member is not None:
        model = Ensemble([bundle.model.members[args.member]])
    t0 = time.perf_counter()
    tokens = encode_records([data.records[i] for i in idx], bundle.length_policy)
    probs = predict_probabilities(model, tokens, bundle.device, progress=True)
    report = classification_report(data.labels[idx], probs.argmax(1), data.classes)
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
        bundle.card.setdefault("metrics", {})[args.update_card] = report
        write_card(bundle.card_path, bundle.card)
        print(f"stored under metrics[{args.update_card!r}] in {bundle.card_path}")
    return 0


# ------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="locviz", description="Protein subcellular localisation with a ConvLSTM.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (add_train, add_ensemble, add_evaluate):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    np.set_printoptions(suppress=True)
    try:
        return int(args.func(args) or 0)
    except (CliError, DatasetError, BundleError) as exc:
        print(f"locviz {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
