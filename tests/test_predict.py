"""Predictor: order, padding invariance, long-sequence mapping, filters, devices, threads, top regions."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import GFP, HISTONE_H4, HUMAN_INSULIN, UBIQUITIN

import locviz
from locviz.encoding import tokenize
from locviz.errors import InputError
from locviz.predict import Predictor, load_model
from locviz.prediction import Prediction
from locviz.regions import AttentionRegion, times_uniform, top_regions
from locviz.sequences import ProteinRecord
from locviz.weights import BundleError

# Real UniProt sequences: ubiquitin (P0CG48, one repeat), histone H4 (P62805), GFP (P42212, 238 aa).


@pytest.fixture(scope="module")
def predictor(tiny_card: Path) -> Predictor:
    return load_model(str(tiny_card), device="cpu")


def records() -> list[ProteinRecord]:
    return [
        ProteinRecord("insulin", HUMAN_INSULIN),
        ProteinRecord("gfp", GFP),
        ProteinRecord("ubiquitin", UBIQUITIN),
        ProteinRecord("h4", HISTONE_H4, notes=("a parser note",)),
    ]


def test_properties_and_input_order(predictor: Predictor) -> None:
    assert predictor.name == "multiloc"
    assert len(predictor.classes) == 11
    assert predictor.device == torch.device("cpu")
    preds = predictor.predict(records())
    assert [p.id for p in preds] == ["insulin", "gfp", "ubiquitin", "h4"]
    for pred, rec in zip(preds, records(), strict=True):
        assert pred.sequence == rec.sequence
        assert pred.model_name == "multiloc"
        assert pred.probabilities.shape == (11,)
        assert np.isclose(pred.probabilities.sum(), 1.0, atol=1e-5)
        assert pred.member_probabilities.shape == (2, 11)
        np.testing.assert_allclose(pred.member_probabilities.mean(0), pred.probabilities, atol=1e-6)
        assert pred.label == pred.classes[int(np.argmax(pred.probabilities))]
    assert preds[3].notes == ["a parser note"]
    assert predictor.predict([]) == []


def test_padding_invariance(predictor: Predictor) -> None:
    """A protein alone and in a batch with longer ones gets the same numbers."""
    alone = predictor.predict([ProteinRecord("insulin", HUMAN_INSULIN)], with_filters=True)[0]
    batched = Predictor(predictor.bundle, batch_size=8).predict(records(), with_filters=True)[0]
    assert batched.id == "insulin"
    np.testing.assert_allclose(batched.probabilities, alone.probabilities, atol=1e-5)
    np.testing.assert_allclose(batched.attention, alone.attention, atol=1e-5)
    np.testing.assert_allclose(batched.filter_activations, alone.filter_activations, atol=1e-5)
    one_by_one = Predictor(predictor.bundle, batch_size=1).predict(records())
    for a, b in zip(one_by_one, Predictor(predictor.bundle, batch_size=8).predict(records()), strict=True):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)


def test_matches_direct_forward(predictor: Predictor) -> None:
    """Mapping back to residues is an identity for a protein the policy keeps whole."""
    pred = predictor.predict([ProteinRecord("ub", UBIQUITIN)], with_filters=True)[0]
    tokens = torch.from_numpy(tokenize(UBIQUITIN).astype(np.int64))[None]
    with torch.no_grad():
        out = predictor.bundle.model(tokens, torch.tensor([len(UBIQUITIN)]), return_filters=True)
    np.testing.assert_allclose(pred.probabilities, out.probabilities[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(pred.attention, out.attention[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(pred.filter_activations, out.filter_activations[0].numpy(), atol=1e-6)


def test_long_protein_attention_and_filters(predictor: Predictor) -> None:
    policy = predictor.bundle.length_policy
    assert len(GFP) > policy.max_length  # the tiny bundle keeps 200 residues
    pred = predictor.predict([ProteinRecord("gfp", GFP, notes=("cleaned",))], with_filters=True)[0]
    head = policy.max_length // 2
    tail = policy.max_length - head
    expected_seen = np.zeros(len(GFP), dtype=bool)
    expected_seen[:head] = True
    expected_seen[len(GFP) - tail :] = True
    np.testing.assert_array_equal(pred.seen, expected_seen)
    assert pred.attention.shape == (len(GFP),)
    assert np.isnan(pred.attention[~pred.seen]).all()
    assert np.isfinite(pred.attention[pred.seen]).all()
    assert abs(pred.attention[pred.seen].sum() - 1.0) < 1e-5
    n_filters = predictor.bundle.config.n_filters
    assert pred.filter_activations.shape == (n_filters, len(GFP))
    assert np.isnan(pred.filter_activations[:, ~pred.seen]).all()
    config = predictor.bundle.config
    for f in range(n_filters):  # a window across the cut reads both ends: no activation is drawn for it there
        half = config.filter_width(f) // 2
        near_cut = np.zeros(len(GFP), dtype=bool)
        near_cut[head - half : head] = near_cut[len(GFP) - tail : len(GFP) - tail + half] = True
        row = pred.filter_activations[f]
        assert np.isnan(row[near_cut]).all() and (row[pred.seen & ~near_cut] >= 0).all(), f
    assert pred.filter_member == predictor.bundle.model.motif_member
    assert pred.notes[0] == "cleaned"
    assert "not seen by the model" in pred.notes[1]


def test_without_filters(predictor: Predictor) -> None:
    pred = predictor.predict([ProteinRecord("insulin", HUMAN_INSULIN)])[0]
    assert pred.filter_activations is None
    assert pred.filter_member is None
    assert pred.seen.all()
    assert abs(pred.attention.sum() - 1.0) < 1e-5


def test_predict_text(predictor: Predictor) -> None:
    text = f">ins human insulin\n{HUMAN_INSULIN}\n>bad\nMKV1LLA!QQQQQQQQ\n>ub\n{UBIQUITIN}\n"
    parsed, preds = predictor.predict_text(text)
    assert [p.id for p in preds] == ["ins", "ub"]
    assert len(parsed.errors) == 1 and parsed.errors[0].record_id == "bad"
    parsed, preds = predictor.predict_text(text, max_records=2)
    assert preds == [] and "at most 2" in str(parsed.errors[0])


def test_text_given_to_predict_is_refused_with_the_way_to_parse_it(predictor: Predictor) -> None:
    """A user found predict("MALW...") ending in AttributeError: it is an InputError that names predict_text."""
    from locviz.errors import InputError

    with pytest.raises(InputError, match="predict takes parsed records, not text; parse text first: predictor"):
        predictor.predict("MALWMRLLPLLALLALWGPDPAAA")
    with pytest.raises(InputError, match="record 2 is a str, not a ProteinRecord"):
        predictor.predict([ProteinRecord("a", "MALWMRLLPLL"), "MALWMRLLPLL"])


def test_a_finished_prediction_is_not_calibrated_twice(predictor: Predictor) -> None:
    (done,) = predictor.predict([ProteinRecord("ins", HUMAN_INSULIN)])
    with pytest.raises(InputError, match="calibrated already: finish\\(\\) takes the raw prediction"):
        predictor.finish(done)


def test_thread_safety(predictor: Predictor) -> None:
    """One Predictor shared by threads gives each the same answer as a lone call."""
    expected = predictor.predict(records())
    results: dict[int, list[Prediction]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = predictor.predict(records()[i % 4 :] + records()[: i % 4])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    by_id = {p.id: p for p in expected}
    for preds in results.values():
        for p in preds:
            np.testing.assert_allclose(p.probabilities, by_id[p.id].probabilities, atol=1e-5)


def test_load_model_devices(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCVIZ_WEIGHTS", str(tiny_weights_dir))
    assert load_model("multiloc", device="cpu").device.type == "cpu"
    auto = load_model("deeploc")
    assert auto.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert len(auto.classes) == 10
    if torch.cuda.is_available():
        assert load_model("multiloc", device="cuda").device.type == "cuda"
    else:
        with pytest.raises(BundleError, match="no CUDA GPU"):
            load_model("multiloc", device="cuda")
    with pytest.raises(BundleError, match="no model card"):
        load_model(str(tiny_weights_dir / "nonexistent"))


def test_checksum_failure(tiny_weights_dir: Path, tmp_path: Path) -> None:
    for suffix in (".json", ".safetensors"):
        shutil.copy(tiny_weights_dir / f"multiloc{suffix}", tmp_path / f"multiloc{suffix}")
    weights = tmp_path / "multiloc.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum"):
        load_model(str(tmp_path / "multiloc"), device="cpu")


def test_package_exports() -> None:
    assert set(locviz.__all__) >= {"load_model", "Predictor", "Prediction", "parse", "ProteinRecord"}
    assert locviz.load_model is load_model
    assert locviz.parse(HUMAN_INSULIN).records[0].sequence == HUMAN_INSULIN


def synthetic(attention: np.ndarray, seen: np.ndarray | None = None) -> Prediction:
    seq = (HUMAN_INSULIN * 3)[: len(attention)]
    seen = np.ones(len(attention), dtype=bool) if seen is None else seen
    att = np.where(seen, attention, np.nan)
    return Prediction("x", seq, ["a", "b"], np.array([0.5, 0.5]), att, seen, "tiny")


def test_top_regions_finds_peaks() -> None:
    attention = np.full(60, 0.1)
    attention[10:13] = 5.0  # residues 11-13
    attention[40] = 8.0  # residue 41
    attention /= attention.sum()
    regions = top_regions(synthetic(attention), n=3, window=5)
    assert all(isinstance(r, AttentionRegion) for r in regions)
    assert len(regions) == 3
    first, second = regions[0], regions[1]
    assert first.start <= 11 and first.end >= 13 and first.end - first.start + 1 == 5
    assert second.start <= 41 <= second.end and second.peak_position == 41
    assert 11 <= first.peak_position <= 13
    sums = [r.score for r in regions]
    assert sums == sorted(sums, reverse=True)
    assert abs(first.score - attention[first.start - 1 : first.end].sum()) < 1e-12
    for r in regions:
        assert r.subsequence == synthetic(attention).sequence[r.start - 1 : r.end]
    spans = sorted((r.start, r.end) for r in regions)
    assert all(a_end < b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    uniform = synthetic(np.full(60, 1 / 60))  # uniform attention: every window holds its length's share
    assert times_uniform(top_regions(uniform, n=1, window=5)[0], uniform) == pytest.approx(1.0)
    assert times_uniform(first, synthetic(attention)) == pytest.approx(first.score * 60 / 5)


def test_top_regions_skips_unseen_and_short() -> None:
    attention = np.full(80, 1.0)
    seen = np.ones(80, dtype=bool)
    seen[30:50] = False
    attention[30:50] = 100.0  # ignored: not seen
    attention[seen] /= attention[seen].sum()
    regions = top_regions(synthetic(attention, seen), n=20, window=9)
    assert regions and len(regions) < 20  # 60 seen residues hold at most 6 disjoint windows
    for r in regions:
        assert seen[r.start - 1 : r.end].all()
    short = top_regions(synthetic(np.full(6, 1 / 6)), n=3, window=9)
    assert len(short) == 1 and (short[0].start, short[0].end) == (1, 6)
    assert abs(short[0].score - 1.0) < 1e-12
