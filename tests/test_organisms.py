"""The organism switch: impossible compartments get 0, rows still sum to 1, the CLI honours it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_prediction

from locviz import cli, organisms
from locviz.datasets import DEEPLOC_CLASSES, MULTILOC_CLASSES
from locviz.errors import InputError
from locviz.examples import EXAMPLES

RNG = np.random.default_rng(7)


def test_restrict_zeroes_plastid_for_animal_and_rows_sum_to_one() -> None:
    probs = RNG.dirichlet(np.ones(len(DEEPLOC_CLASSES)), size=50)
    out = organisms.restrict(probs, DEEPLOC_CLASSES, "animal")
    plastid = DEEPLOC_CLASSES.index("Plastid")
    assert np.all(out[:, plastid] == 0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    kept = [i for i in range(len(DEEPLOC_CLASSES)) if i != plastid]
    # the allowed classes keep their ratios (Bayes with a zero prior on plastids)
    np.testing.assert_allclose(out[:, kept] / out[:, kept[0:1]], probs[:, kept] / probs[:, kept[0:1]], rtol=1e-9)


def test_a_lytic_compartment_s_probability_goes_to_the_organism_s_own() -> None:
    """Lysosome (animals) and vacuole (plants, fungi) do the same job: the excluded one's probability is moved to
    the other, not renormalised away; plastids have no counterpart and are dropped."""
    probs = RNG.dirichlet(np.ones(len(MULTILOC_CLASSES)), size=20)
    lys, vac, chl = (MULTILOC_CLASSES.index(c) for c in ("lysosomal", "vacuolar", "chloroplast"))
    fungus = organisms.restrict(probs, MULTILOC_CLASSES, "fungus")
    scale = 1 / (1 - probs[:, chl])
    np.testing.assert_allclose(fungus[:, vac], (probs[:, vac] + probs[:, lys]) * scale)
    assert np.all(fungus[:, [lys, chl]] == 0)
    animal = organisms.restrict(probs, MULTILOC_CLASSES, "animal")
    np.testing.assert_allclose(animal[:, lys], (probs[:, vac] + probs[:, lys]) * scale)
    assert organisms.excluded_text(MULTILOC_CLASSES, "plant") == (
        "lysosomal's probability moved to vacuolar (its counterpart) and the rest renormalised")
    cathepsin = np.zeros(len(MULTILOC_CLASSES))
    cathepsin[[lys, MULTILOC_CLASSES.index("extracellular")]] = 0.6, 0.4
    assert organisms.excluded_warning(cathepsin, MULTILOC_CLASSES, "fungus") is None  # moved, not lost
    assert organisms.restrict(cathepsin, MULTILOC_CLASSES, "fungus")[vac] == pytest.approx(0.6)


def test_restrict_member_axis_and_underflow() -> None:
    members = RNG.dirichlet(np.ones(len(MULTILOC_CLASSES)), size=(3, 4))  # (M, N, C)
    out = organisms.restrict(members, MULTILOC_CLASSES, "fungus")
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, atol=1e-12)
    for name in ("chloroplast", "lysosomal"):
        assert np.all(out[..., MULTILOC_CLASSES.index(name)] == 0)
    only_plastid = np.zeros(len(DEEPLOC_CLASSES))
    only_plastid[DEEPLOC_CLASSES.index("Plastid")] = 1.0
    uniform = organisms.restrict(only_plastid, DEEPLOC_CLASSES, "animal")
    np.testing.assert_allclose(uniform.sum(), 1.0)
    assert uniform[DEEPLOC_CLASSES.index("Nucleus")] == pytest.approx(1 / 9)


@pytest.mark.parametrize(
    ("organism", "classes", "excluded"),
    [
        ("animal", MULTILOC_CLASSES, {"chloroplast", "vacuolar"}),
        ("fungus", MULTILOC_CLASSES, {"chloroplast", "lysosomal"}),
        ("plant", MULTILOC_CLASSES, {"lysosomal"}),
        ("any", MULTILOC_CLASSES, set()),
        ("animal", DEEPLOC_CLASSES, {"Plastid"}),
        ("fungus", DEEPLOC_CLASSES, {"Plastid"}),
        ("plant", DEEPLOC_CLASSES, set()),
    ],
)
def test_which_compartments_each_organism_has(organism: str, classes: tuple[str, ...], excluded: set[str]) -> None:
    assert set(organisms.excluded_classes(classes, organism)) == excluded
    assert set(organisms.allowed_classes(classes, organism)) == set(classes) - excluded


def test_excluded_by_organism_table() -> None:
    table = organisms.excluded_by_organism(DEEPLOC_CLASSES)
    assert table == {"any": (), "animal": ("Plastid",), "fungus": ("Plastid",), "plant": ()}


def test_unknown_organism_is_refused_with_the_allowed_list() -> None:
    with pytest.raises(InputError) as info:
        organisms.restrict(np.full(10, 0.1), DEEPLOC_CLASSES, "human")
    message = str(info.value)
    assert "'human'" in message
    assert all(o in message for o in organisms.ORGANISMS)


def test_unknown_class_ids_only_work_with_any() -> None:
    probs = np.array([0.2, 0.8])
    np.testing.assert_allclose(organisms.restrict(probs, ("inside", "outside"), "any"), probs)
    with pytest.raises(InputError, match="'inside', 'outside'"):
        organisms.restrict(probs, ("inside", "outside"), "plant")


def test_apply_restricts_the_ensemble_and_each_member() -> None:
    pred = synthetic_prediction(seed=3)
    out = organisms.apply(pred, "animal")
    assert out.organism == "animal" and pred.organism == "any"
    for name in ("chloroplast", "vacuolar"):
        i = MULTILOC_CLASSES.index(name)
        assert out.probabilities[i] == 0 and np.all(out.member_probabilities[:, i] == 0)
    np.testing.assert_allclose(out.member_probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(out.probabilities.sum(), 1.0)
    allowed = [i for i, c in enumerate(MULTILOC_CLASSES) if c not in ("chloroplast", "vacuolar")]
    moved = pred.probabilities.copy()
    moved[MULTILOC_CLASSES.index("lysosomal")] += moved[MULTILOC_CLASSES.index("vacuolar")]
    kept = moved[allowed] / moved[allowed].sum()
    np.testing.assert_allclose(out.probabilities[allowed], kept)  # the ensemble restricted as a whole
    assert out.label == MULTILOC_CLASSES[allowed[int(np.argmax(moved[allowed]))]]
    assert any("chloroplast" in n for n in out.notes)
    assert organisms.apply(out, "animal") is out
    with pytest.raises(InputError, match="already restricted to animal"):
        organisms.apply(out, "plant")


def _predict_csv(tmp_path: Path, organism: str) -> list[dict]:
    spinach = next(e for e in EXAMPLES if e.accession == "P10871")  # Rubisco activase, chloroplastic
    fasta = tmp_path / "in.fasta"
    fasta.write_text(spinach.fasta())
    out = tmp_path / f"{organism}.csv"
    code = cli.main(["predict", str(fasta), "--model", "deeploc", "--out", str(out), "--organism", organism,
                     "--no-progress"])  # fmt: skip
    assert code == 0
    return list(csv.DictReader(out.open()))


def test_cli_organism_animal_never_answers_plastid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCVIZ_WEIGHTS", raising=False)  # the shipped deeploc model
    (plant,) = _predict_csv(tmp_path, "plant")
    (animal,) = _predict_csv(tmp_path, "animal")
    assert plant["prediction"] == "Plastid"  # the shipped model calls this chloroplast protein Plastid ...
    assert animal["prediction"] != "Plastid"  # ... and never for an animal
    assert float(animal["p_Plastid"]) == 0.0
    total = sum(float(animal[f"p_{c}"]) for c in DEEPLOC_CLASSES)
    assert total == pytest.approx(1.0, abs=1e-5)
    assert animal["support"] in ("low", "medium", "high")


def test_cli_refuses_an_unknown_organism(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.main(["predict", "x.fasta", "--out", "-", "--organism", "martian"])
    assert "animal" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("location", "organism", "read_as"),
    [
        ("vacuolar", "animal", "lysosomal"), ("lysosomal", "fungus", "vacuolar"), ("lysosomal", "animal", "lysosomal"),
        ("chloroplast", "animal", None), ("Plastid", "fungus", None), ("Plastid", "plant", "Plastid"),
        ("Lysosome/Vacuole", "animal", "Lysosome/Vacuole"), ("chloroplast", "any", "chloroplast"),
    ],
)  # fmt: skip
def test_an_annotation_is_read_as_restrict_reads_the_probabilities(location: str, organism: str, read_as) -> None:
    """The class an annotated protein's location stands for in an organism is where :func:`organisms.restrict` puts
    that class's probability (its counterpart, or nowhere)."""
    assert organisms.annotation_in(location, organism) == read_as
    classes = MULTILOC_CLASSES if location in MULTILOC_CLASSES else DEEPLOC_CLASSES
    one_hot = np.eye(len(classes))[list(classes).index(location)]
    restricted = organisms.restrict(one_hot, classes, organism)
    if read_as is None:
        assert restricted[list(classes).index(location)] == 0  # gone, the rest uniform
    else:
        assert restricted[list(classes).index(read_as)] == pytest.approx(1.0)


def test_why_an_organism_rules_classes_out_is_said_in_words() -> None:
    assert organisms.why_excluded(DEEPLOC_CLASSES, "animal") == "animals have no plastids"
    assert organisms.why_excluded(MULTILOC_CLASSES, "fungus").startswith("fungi have no chloroplasts (no plastids); no")
    assert organisms.why_excluded(MULTILOC_CLASSES, "any") == ""
