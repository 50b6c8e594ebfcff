"""The lever table of the training campaign, from its committed results (``weights/campaign/*.json``).

Every row is one finished run on one member's own validation fold (cross-validation, never a test fold):
accuracy and Gorodkin MCC of the member as shipped before the run and after it, the per-class MCC of the
rare classes, the median attention AUROC on annotated signals of validation proteins, how often deleting
a validation protein's signal moves its call (where the run measured it), and CPU minutes.

    python benchmarks/campaign_levers.py                  # markdown table (what weights/README.md holds)
    python benchmarks/campaign_levers.py --plan weights/campaign.toml --stage levers-deeploc
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import campaign  # noqa: E402
from locviz.card import recipe_text  # noqa: E402
from locviz.metrics import gorodkin_mcc  # noqa: E402
from locviz.supervision import SIGNAL_TYPES as SIGNALS  # noqa: E402
from locviz.weights import read_card  # noqa: E402

RARE = {"deeploc": ("Lysosome/Vacuole", "Peroxisome"), "multiloc": ("lysosomal", "peroxisomal", "vacuolar")}


def lever_text(run: campaign.Run) -> str:
    """The run's recipe in words (a plan's ``attention``, ``deletion``, ``insertion``: TrainConfig's ``*_weights``)."""
    terms = {f"{term}_weights": run.settings.get(term, {}) for term in ("attention", "deletion", "insertion")}
    return recipe_text({**run.settings, "kind": run.kind, **terms})


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def row(plan: campaign.Plan, run: campaign.Run) -> str | None:
    result = campaign.result_of(plan, run)
    if result is None:
        return None
    after, before = result["validation"], result.get("before") or {}
    last = result["history"][-1] if result.get("history") else {}
    rare = " ".join(
        f"{c.split('/')[0][:4]} {fmt(before.get('per_class_mcc', {}).get(c))}→{fmt(after['per_class_mcc'].get(c))}"
        for c in RARE[run.dataset]
    )
    attention = " / ".join(
        f"{fmt(before.get('auroc_' + k))}→{fmt(result['attention'].get('auroc_' + k))}" for k in SIGNALS
    )
    moved = " / ".join(
        f"{fmt(before.get('deletion_' + k))}→{fmt(result.get('deletion', {}).get('deletion_' + k))}" for k in SIGNALS
    ) if "deletion" in result else "–"  # fmt: skip
    reused = f" (= {result['reused']})" if result.get("reused") else ""
    reused += " (not shipped)" if result.get("not_shipped") else ""  # lost to what was shipped on the same fold
    return (
        f"| {run.name}{reused} | {lever_text(campaign.resolved(plan, run) or run)} | "
        f"{run.dataset} {result['validation_fold']} | "
        f"{fmt(before.get('accuracy'))} → {fmt(after['accuracy'])} | "
        f"{fmt(before.get('gorodkin_mcc'))} → {fmt(after['gorodkin_mcc'])} | "
        f"{fmt(last.get('val_accuracy'))} | {rare} | {attention} | {moved} | {result['seconds'] / 60:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default=str(REPO / "weights" / "campaign.toml"))
    parser.add_argument("--stage", help="only this stage's runs")
    args = parser.parse_args()
    plan = campaign.read_plan(args.plan)
    print("| run | lever | data, fold | accuracy before → after | MCC before → after | last epoch alone (no "
          "averaging) | rare-class MCC | attention AUROC SP / PTS1 / KDEL | call moves when SP / PTS1 / KDEL is "
          "deleted | wall minutes (shared) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for run in plan.runs:
        if args.stage and run.stage != args.stage:
            continue
        line = row(plan, run)
        if line:
            print(line)
    for stage in sorted({r.stage for r in plan.runs if r.stage}):
        winner = campaign.stage_winner(plan, stage)
        text = f"winner {winner.name} ({lever_text(winner)})" if winner else "not finished"
        if winner and "deletion" in (campaign.result_of(plan, winner) or {}):
            if not campaign.meets_deletion_target(campaign.result_of(plan, winner)):
                text += f"; no run meets the deletion target ({campaign.DELETION_TARGET:.0%} of each signal type)"
        print(f"\n{stage}: {text}")
    print()
    for bundle in sorted({r.ship for r in plan.runs if r.ship and r.kind != "student"}):
        print(pooled_line(bundle))


def pooled_line(bundle: str) -> str:
    """The shipped bundle's cross-validation figure: every member's confusion matrix on its own validation fold
    (the card's ``cv_memberK_foldF`` metrics, written by the ship's ``locviz evaluate --member K``), added up."""
    _, card = read_card(bundle)
    reports = [r for k, r in card.metrics.items() if k.startswith("cv_member") and r.get("confusion_matrix")]
    if len(reports) != card.members:
        return f"{bundle}: {len(reports)} of {card.members} members have a cross-validation figure on the card"
    matrix = sum(np.asarray(r["confusion_matrix"]) for r in reports)
    return (f"{bundle}: cross-validation, {card.members} members each on its own validation fold, pooled: "
            f"{int(matrix.sum())} proteins, accuracy {np.trace(matrix) / matrix.sum():.4f}, "
            f"Gorodkin MCC {gorodkin_mcc(matrix):.4f}")


if __name__ == "__main__":
    main()
