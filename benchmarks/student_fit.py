"""How closely a distilled student follows its teacher on the proteins it trained on, and on its validation fold.

A student that matches its teacher poorly on its own training proteins is underfitting (capacity or
regularisation), not failing to generalise. Both models run in eval mode (no dropout); the teacher is the
student card's teacher bundle, all members averaged, raw probabilities (no temperature), as in training.
Printed per split: the student's soft cross-entropy to the teacher, the teacher's entropy (the floor: the
difference is the KL divergence), how often the two agree on the top class, and both accuracies.

    python benchmarks/student_fit.py --student weights/deeploc-fast --teacher weights/deeploc \\
        --data ../shared/data/deeploc
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from locviz import batching  # noqa: E402
from locviz.datasets import load_dataset  # noqa: E402
from locviz.train import encode_records  # noqa: E402
from locviz.weights import load_bundle  # noqa: E402


def entropy(p: np.ndarray, q: np.ndarray) -> float:
    """Mean cross-entropy (nats) of ``q`` under the target ``p``."""
    return float(-(p * np.log(np.clip(q, 1e-9, 1.0))).sum(1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", required=True)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--data", type=Path, required=True, help="the data set's folder, e.g. ../shared/data/deeploc")
    args = parser.parse_args()
    device = torch.device("cpu")
    student, teacher = load_bundle(args.student, device="cpu"), load_bundle(args.teacher, device="cpu")
    record = student.card.training[0]
    data = load_dataset(record.dataset, args.data)
    print(f"student {args.student} (validated on fold {record.validation_fold}), teacher {args.teacher} "
          f"({len(teacher.model.members)} members averaged); eval mode, raw probabilities")  # fmt: skip
    print(f"{'split':<22}{'proteins':>9}{'soft CE':>9}{'teacher H':>10}{'KL':>8}{'agree':>8}{'acc stud.':>10}"
          f"{'acc teach.':>11}")  # fmt: skip
    splits = {"training folds": list(record.train_folds), f"validation fold {record.validation_fold}":
              [record.validation_fold]}  # fmt: skip
    for name, folds in splits.items():
        idx = data.subset(folds)
        tokens = encode_records([data.records[i] for i in idx], student.length_policy)
        p_student = batching.probabilities(student.model.eval(), tokens, device)
        p_teacher = batching.probabilities(teacher.model.eval(), tokens, device)
        labels = data.labels[idx]
        ce, h = entropy(p_teacher, p_student), entropy(p_teacher, p_teacher)
        agree = float((p_student.argmax(1) == p_teacher.argmax(1)).mean())
        acc_s, acc_t = float((p_student.argmax(1) == labels).mean()), float((p_teacher.argmax(1) == labels).mean())
        print(f"{name:<22}{len(idx):>9}{ce:>9.4f}{h:>10.4f}{ce - h:>8.4f}{agree:>8.3f}{acc_s:>10.4f}{acc_t:>11.4f}")
    print("(the teacher's members trained on most of these proteins: its figures there are in-sample)")


if __name__ == "__main__":
    main()
