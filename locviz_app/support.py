"""Streamlit helpers shared by the app's pages: model and motif caches, prediction runs, downloads.

Only Streamlit glue lives here; the science is in :mod:`locviz`. The model is
loaded once per process and device (``st.cache_resource``), and the default one is
loaded and warmed in a background thread as soon as the server starts
(:func:`warm_up_in_background`), so the first page never waits for it and the first
Predict is as fast as the later ones. Predictions are kept per session, keyed by
model, device and the exact input text, so page reruns (moving a slider, picking
another protein) never run the model again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from locviz import calibration, homology, organisms, table
from locviz.calibration import Support
from locviz.card import ModelCard, display_name
from locviz.errors import LocvizError
from locviz.examples import EXAMPLES, Example, by_accession
from locviz.export import export_filename, figure_bytes
from locviz.motifs import MotifError, MotifSet, bundle_motifs_path, load_bundle_motifs
from locviz.predict import Predictor, load_model
from locviz.prediction import Prediction
from locviz.sequences import ParseIssue, ParseResult, ProteinRecord, iter_record_texts, parse
from locviz.weights import SHIPPED_MODELS, BundleError, read_card, weights_dir

LOG = logging.getLogger("locviz.app")

MAX_RECORDS = 500
MAX_TEXT_BYTES = 2_000_000
LIMITS_TEXT = f"At most {MAX_RECORDS} sequences and {MAX_TEXT_BYTES / 1e6:.0f} MB of text per run."
FILTERS_WITH_FIRST_PASS = 1
"""Inputs with at most this many records get filter activations in the first pass; larger inputs get
them for the protein being looked at only (n_filters floats per residue add up over 500 proteins)."""
PROGRESS_ABOVE = 32
"""Inputs with more records than this show a progress bar while they are predicted."""
CACHED_RUNS = 4
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "csv": "text/csv",
        "json": "application/json"}  # fmt: skip
EXAMPLE_BY_SEQUENCE = {e.sequence: e for e in EXAMPLES}
WARM_UP_SEQUENCE = EXAMPLES[0].sequence[:200]


# ------------------------------------------------------------------ pages
PREDICT_PAGE = "pages/predict.py"
MOTIFS_PAGE = "pages/motifs.py"
CARD_PAGE = "pages/model_card.py"
WHATIF_PAGE = "pages/whatif.py"
PAGES = (
    (PREDICT_PAGE, "Predict", ":material/biotech:"),
    (WHATIF_PAGE, "What if", ":material/science:"),
    (MOTIFS_PAGE, "Filter motifs", ":material/text_fields:"),
    (CARD_PAGE, "Model card", ":material/description:"),
)
"""(script relative to dashboard.py, title in the sidebar, icon); dashboard.py declares them with st.navigation.
Material icons ship with Streamlit, so they show on machines without an emoji font."""


def guarded(body: Callable[[], None]) -> None:
    """Run a page body; any error becomes an inline message, never a traceback.

    ``st.stop``/``st.switch_page`` raise ``BaseException`` subclasses and pass through.
    """
    try:
        body()
    except BundleError as exc:  # MotifError too
        st.error(f"The model files could not be used: {exc}")
    except LocvizError as exc:  # something the user can fix: its message says what and how
        st.error(str(exc))
    except Exception as exc:  # the page boundary: log the traceback, show a clear line
        LOG.exception("page failed")
        st.error(
            f"Something went wrong while drawing this page ({type(exc).__name__}: {exc}). "
            "The input and settings are kept; change them or reload the page. If it persists, "
            "please report it with the input that caused it."
        )


def device_options() -> list[str]:
    """GPU first when PyTorch sees one, else the CPU only."""
    return ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]


def available_models() -> list[str]:
    """Shipped models whose card is present in the weights folder."""
    return [m for m in SHIPPED_MODELS if (weights_dir() / f"{m}.json").is_file()]


def _remember(widget_key: str, store_key: str) -> None:
    st.session_state[store_key] = st.session_state[widget_key]


def _sticky_choice(label: str, options: list[str], store_key: str, **kwargs) -> str:
    """A selectbox/radio whose value survives page switches (widget state alone is dropped on a switch)."""
    if st.session_state.get(store_key) not in options:
        st.session_state[store_key] = options[0]
    widget_key = f"{store_key}_pick"
    st.session_state[widget_key] = st.session_state[store_key]
    widget = st.radio if kwargs.pop("radio", False) else st.selectbox
    return widget(label, options, key=widget_key, on_change=_remember, args=(widget_key, store_key), **kwargs)


def sidebar_settings() -> tuple[str, str] | None:
    """Model and device pickers (kept across pages); None when no model is installed."""
    models = available_models()
    with st.sidebar:
        st.markdown("### Model")
        if not models:
            st.error(
                f"No model bundle found in `{weights_dir()}` (looked for "
                f"{', '.join(m + '.json' for m in SHIPPED_MODELS)}). Put the shipped bundles there "
                "or point the environment variable LOCVIZ_WEIGHTS at a folder that holds them."
            )
            return None
        model = _sticky_choice(
            "Model", models, "model_name",
            help="multiloc: 11 compartments (MultiLoc, Höglund 2006); deeploc: 10 compartments (DeepLoc 1.0).",
        )  # fmt: skip
        devices = device_options()
        if len(devices) > 1:
            device = _sticky_choice(
                "Device", devices, "device", radio=True, horizontal=True,
                format_func=lambda d: "GPU (CUDA)" if d == "cuda" else "CPU",
            )  # fmt: skip
        else:
            device = "cpu"
            st.caption("Device: CPU (PyTorch sees no GPU)")
    return model, device


# ------------------------------------------------------------------ caches
def _predictor_key(model_name: str, device: str) -> tuple[str, str, str, int]:
    """Model, device, the card's path and modification time: a replaced bundle (or another
    LOCVIZ_WEIGHTS folder) is loaded afresh instead of served stale from the cache."""
    card = weights_dir() / f"{model_name}.json"
    stamp = card.stat().st_mtime_ns if card.is_file() else 0
    return model_name, device, str(card), stamp


_LOADED: set[tuple[str, str, str, int]] = set()
"""Keys whose predictor is in the cache (the page shows a spinner only when it will really wait)."""


def get_predictor(model_name: str, device: str) -> Predictor:
    """One shared predictor per model and device for the whole server process.

    In a page run that has to wait (the background warm-up still loading, or a model not warmed)
    a spinner says so; the warm-up thread itself runs without one.
    """
    key = _predictor_key(model_name, device)
    if key in _LOADED or get_script_run_ctx(suppress_warning=True) is None:
        return _load_predictor(*key)
    with st.spinner("Loading the model (once per server process)…"):
        return _load_predictor(*key)


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_predictor(model_name: str, device: str, card_path: str, stamp: int) -> Predictor:
    """Load and warm up: PyTorch's first forward pass sets up its kernels (about a second on a CPU),
    which belongs to loading, not to the user's first Predict. Concurrent callers wait for one load."""
    predictor = load_model(card_path, device=device)
    predictor.predict([ProteinRecord("warm-up", WARM_UP_SEQUENCE)], with_filters=True)
    _LOADED.add((model_name, device, card_path, stamp))
    return predictor


# ------------------------------------------------------------------ warm start
_WARM_STARTED: set[tuple[str, str, str]] = set()
_WARM_LOCK = threading.Lock()


def default_choice() -> tuple[str, str] | None:
    """The model and device a new session starts with (what the sidebar shows first)."""
    models = available_models()
    return (models[0], device_options()[0]) if models else None


def warm_up_in_background(model_name: str | None = None, device: str | None = None) -> threading.Thread | None:
    """Load and warm a model (default: the sidebar's first choice) in a daemon thread, once per process.

    Called when the server starts (``python -m locviz_app``, which ``locviz app`` runs) and again
    by the first page run (``streamlit run dashboard.py``, AppTest); later calls return None. The
    page never blocks on it: only a Predict (or the motifs page) waits for the model.
    """
    if model_name is None or device is None:
        choice = default_choice()
        if choice is None:
            return None
        model_name, device = model_name or choice[0], device or choice[1]
    key = (str(weights_dir()), model_name, device)
    with _WARM_LOCK:
        if key in _WARM_STARTED:
            return None
        _WARM_STARTED.add(key)
    thread = threading.Thread(target=_warm_up, args=(model_name, device), name="locviz-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up(model_name: str, device: str) -> None:
    """Load the model and draw each Predict figure once: plotly's first figure of a kind costs about a second."""
    start = time.perf_counter()
    try:
        predictor = get_predictor(model_name, device)
        import pandas  # whole, before plotly looks it up (a page importing it meanwhile is waited for)

        from locviz import figures  # the page's imports, so its first run finds them loaded
        from locviz.regions import top_regions

        pred = predictor.predict([ProteinRecord("warm-up", WARM_UP_SEQUENCE)], with_filters=True)[0]
        for fig in (
            figures.probability_bar(pred),
            figures.attention_heatmap(pred),
            figures.attention_profile(pred, top_regions(pred, n=3)),
            figures.filter_track(pred, None, None, 5),
        ):
            fig.to_json()
        from streamlit.dataframe_util import convert_pandas_df_to_arrow_bytes  # tables go to the browser as Arrow

        convert_pandas_df_to_arrow_bytes(pandas.DataFrame({"n": [1.0], "text": ["a"]}))
        reference = get_reference(model_name)  # known locations, looked up with every result
        if reference is not None:  # DIAMOND's database is built on the first search (~0.4 s): not the user's
            try:
                search_hits(model_name, [ProteinRecord("warm-up", WARM_UP_SEQUENCE)])
            except LocvizError as exc:  # no aligner: the page says so beside each call
                LOG.warning("homology search unavailable: %s", exc)
        print(f"locviz: model {model_name} loaded and warmed up on {device} in {time.perf_counter() - start:.1f} s",
              flush=True)  # fmt: skip
    except Exception:  # a broken bundle is reported on the page, where the user can act on it
        LOG.warning("warming up model %s on %s failed; the page loads it on first use", model_name, device,
                    exc_info=True)  # fmt: skip


@st.cache_resource(show_spinner=False, max_entries=4)
def _motifs_for(model_name: str, device: str, path: str, mtime: int) -> MotifSet:
    del path, mtime  # part of the cache key: a recomputed file is read again
    return load_bundle_motifs(get_predictor(model_name, device).bundle)


def get_motifs(model_name: str, device: str) -> MotifSet:
    """The model's precomputed motifs; ``MotifError`` says how to create a missing file."""
    bundle = get_predictor(model_name, device).bundle
    path = bundle_motifs_path(bundle)
    if not path.is_file():
        raise MotifError(
            f"model '{bundle.name}' has no motifs file at `{path}`. Create it once from the model's training "
            "data (no data set is needed at run time afterwards):\n\n```\n"
            f"{motifs_command(bundle.card, bundle.card_path)}\n```"
        )
    return _motifs_for(model_name, device, str(path), path.stat().st_mtime_ns)


def motifs_command(card: ModelCard, card_path: Path) -> str:
    """The ``locviz motifs`` command for a bundle, with the data set and training folds from its card."""
    dataset = card.dataset or card.name or "multiloc"
    fold_text = " ".join(str(f) for f in card.data_folds()) or "1 2 3 4"
    return (
        f"locviz motifs --model {card_path} --dataset {dataset} --data ../shared/data/{dataset} "
        f"--folds {fold_text}"
    )


# ------------------------------------------------------------------ input
def record_texts(text: str) -> list[str]:
    """The text of each record (raw text is one record), read by the one FASTA reader."""
    return [chunk for _, chunk in iter_record_texts(io.StringIO(text)) if chunk.strip()]


def over_limit_message(n_records: int) -> str:
    """Said once when an input has more records than one run takes."""
    return (
        f"{n_records} records, at most {MAX_RECORDS} per run. Predict the first {MAX_RECORDS} here, or all of "
        "them with `locviz predict FILE --out predictions.tsv` on the command line."
    )


@dataclass(frozen=True)
class KnownProtein:
    """A protein of the shipped reference data: its sequence and the location the data set gives."""

    accession: str
    name: str
    location: str
    source: str
    sequence: str

    def fasta(self) -> str:
        body = "\n".join(self.sequence[i : i + 60] for i in range(0, len(self.sequence), 60))
        return f">{self.accession} {self.location}\n{body}\n"


def known_protein(accession: str) -> KnownProtein | None:
    """The shipped protein with this accession: an app example, else a protein of a model's reference set
    (the annotated training proteins shipped in ``weights/NAME.reference.fa.gz``)."""
    try:
        e = by_accession(accession)
        return KnownProtein(e.accession, e.name, e.location, e.source, e.sequence)
    except KeyError:
        pass
    for model_name in available_models():
        reference = get_reference(model_name)
        entries = reference.known(ProteinRecord(accession, "")) if reference is not None else []
        if entries:
            entry = entries[0]
            sequence = reference.sequences[reference.entries.index(entry)]
            return KnownProtein(entry.accession, "", entry.location, _reference_source(entry), sequence)
    return None


def _reference_source(entry: object) -> str:
    data = {"multiloc": "MultiLoc", "deeploc": "DeepLoc 1.0"}.get(entry.dataset, entry.dataset)
    return f"{data} training data (fold {entry.fold})"


def known_location(record: ProteinRecord | Prediction, model_name: str) -> tuple[str, str] | None:
    """(location class id, where it comes from) when the protein is in the shipped data, else None.

    An app example is matched by sequence; any other protein by accession or exact sequence in the
    model's reference set, which holds the proteins the model was trained on (so the model has seen it).
    """
    example = known_example(record.sequence)
    if example is not None:
        return example.location, example.source
    reference = get_reference(model_name)
    entries = reference.known(record) if reference is not None else []
    if not entries:
        return None
    return entries[0].location, f"{_reference_source(entries[0])}: model {model_name} was trained on it"


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_reference(card_path: str, stamp: int) -> homology.Reference | None:
    del stamp  # cache key only
    try:
        return homology.Reference.load(card_path, sensitivity=APP_SENSITIVITY)
    except (BundleError, ValueError) as exc:  # no reference set shipped: no known locations beyond the examples
        LOG.info("no reference set for %s: %s", card_path, exc)
        return None


def get_reference(model_name: str) -> homology.Reference | None:
    """The model's reference set (:class:`locviz.homology.Reference`, read once per process), or None."""
    _, _, card, stamp = _predictor_key(model_name, "cpu")
    return _load_reference(card, stamp) if Path(card).is_file() else None


def input_size_error(text: str) -> str | None:
    """A clear message when the text is over the size limit, else None."""
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        return (
            f"The input is {size / 1e6:.1f} MB; the app takes at most {MAX_TEXT_BYTES / 1e6:.0f} MB "
            f"({MAX_RECORDS} sequences) per run. Split the file, or run `locviz predict` on the command line."
        )
    return None


def decode_upload(data: bytes, name: str) -> tuple[str | None, str | None]:
    """(text, None) for a readable upload, (None, message) otherwise."""
    if len(data) > MAX_TEXT_BYTES:
        return None, (
            f"'{name}' is {len(data) / 1e6:.1f} MB; the app takes at most {MAX_TEXT_BYTES / 1e6:.0f} MB per run. "
            "Split the file, or run `locviz predict` on the command line."
        )
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, (
            f"'{name}' is not a text file (byte {exc.start + 1} is not UTF-8). Upload a FASTA text file "
            "(.fasta, .fa, .faa, .txt), not a compressed or binary file."
        )


def text_key(model_name: str, device: str, text: str) -> str:
    """Cache key of one run: model (card file and version), device and the exact text."""
    _, _, card, stamp = _predictor_key(model_name, device)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
    return f"{card}@{stamp}|{device}|{digest}"


# ------------------------------------------------------------------ runs
@dataclass
class Run:
    """One press of Predict: what was parsed, what was predicted, how long it took."""

    key: str
    model_name: str
    device: str
    parsed: ParseResult
    predictions: list[Prediction]
    records: list[ProteinRecord]
    seconds: float
    detailed: dict[str, Prediction] = field(default_factory=dict)
    calls: dict[tuple, Call] = field(default_factory=dict)  # see call_for: per organism, protein, detail, search

    def detail(self, predictor: Predictor, index: int) -> Prediction:
        """The prediction of record ``index`` with filter activations (computed once on demand)."""
        pred = self.predictions[index]
        if pred.filter_activations is not None:
            return pred
        if pred.id not in self.detailed:
            self.detailed[pred.id] = predictor.predict([self.records[index]], with_filters=True)[0]
        return self.detailed[pred.id]


def _runs_cache() -> OrderedDict[str, Run]:
    if "_runs" not in st.session_state:
        st.session_state["_runs"] = OrderedDict()
    return st.session_state["_runs"]


def get_run(model_name: str, device: str, text: str) -> Run | None:
    """The cached run for this input, if it was predicted before in this session."""
    runs = _runs_cache()
    key = text_key(model_name, device, text)
    if key in runs:
        runs.move_to_end(key)
        return runs[key]
    return None


def run_prediction(
    model_name: str, device: str, text: str, progress: Callable[[float, str], None] | None = None
) -> Run:
    """Parse and predict ``text`` (cached per session by model, device and text)."""
    cached = get_run(model_name, device, text)
    if cached is not None:
        return cached
    predictor = get_predictor(model_name, device)  # loading is not part of a run's time
    start = time.perf_counter()
    parsed = parse(text, max_records=MAX_RECORDS)
    records = parsed.records
    with_filters = len(records) <= FILTERS_WITH_FIRST_PASS
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done / max(len(records), 1), f"Predicted {done} of {len(records)} proteins…")

    predictions = list(predictor.iter_predict(records, with_filters=with_filters, callback=advance))
    run = Run(
        key=text_key(model_name, device, text),
        model_name=model_name,
        device=device,
        parsed=parsed,
        predictions=predictions,
        records=list(records),
        seconds=time.perf_counter() - start,
    )
    runs = _runs_cache()
    runs[run.key] = run
    while len(runs) > CACHED_RUNS:
        runs.popitem(last=False)
    return run


def known_example(sequence: str) -> Example | None:
    """The built-in example with exactly this sequence, if any."""
    return EXAMPLE_BY_SEQUENCE.get(sequence)


# ------------------------------------------------------------------ organism and evidence
APP_SENSITIVITY = "default"
"""DIAMOND mode of the app's search: one protein in ~0.15 s on DeepLoc's reference (``mid-sensitive``, the CLI's
default, ~0.6 s); it finds fewer distant hits (benchmarks/homology.py)."""
SEARCH_ALL_UP_TO = homology.SMALL_QUERY_SET
"""Runs with at most this many proteins are searched whole at once (one query-indexed DIAMOND call, ~0.2 s);
larger runs search the protein being looked at, and every protein on request or for a download (~3 s for 500)."""
HITS_CACHED = 5000
SUPPORT_COLOURS = {"high": "green", "medium": "orange", "low": "red"}
SUPPORT_ICONS = {"high": ":material/verified:", "medium": ":material/help:", "low": ":material/warning:"}


@functools.lru_cache(maxsize=8)
def _card_classes(card_path: str, stamp: int) -> tuple[str, ...]:
    del stamp  # cache key only
    return tuple(read_card(card_path)[1].classes)


def model_classes(model_name: str) -> tuple[str, ...]:
    """The model's class ids, from its card (the model itself need not be loaded)."""
    _, _, card, stamp = _predictor_key(model_name, "cpu")
    return _card_classes(card, stamp)


def organism_choices(classes: tuple[str, ...]) -> list[str]:
    """The organisms the switch offers for these classes: all of them, or only ``any`` for a custom class set."""
    try:
        organisms.allowed_mask(classes, "animal")
    except LocvizError:
        return [organisms.DEFAULT_ORGANISM]
    return list(organisms.ORGANISMS)


def organism_allows(classes: tuple[str, ...], organism: str) -> str:
    """``all 10 compartments`` or ``9 of 10: all but plastid``."""
    excluded = organisms.excluded_classes(classes, organism)
    if not excluded:
        return f"all {len(classes)} compartments"
    return f"{len(classes) - len(excluded)} of {len(classes)}: all but {', '.join(map(display_name, excluded))}"


def organism_help(classes: tuple[str, ...]) -> str:
    """The selector's help: what each organism allows for this model, and that the model is not run again."""
    lines = [f"- **{o}** ({organisms.ORGANISM_DESCRIPTIONS[o]}): {organism_allows(classes, o)}"
             for o in organism_choices(classes)]  # fmt: skip
    return ("Compartments the organism cannot have get probability 0 and the rest are renormalised "
            "(the model is not run again).\n\n" + "\n".join(lines))  # fmt: skip


def organism_setting(model_name: str) -> str:
    """The sidebar's organism selector (kept across pages; default ``any``, the model's own output)."""
    classes = model_classes(model_name)
    with st.sidebar:
        return _sticky_choice("Organism", organism_choices(classes), "organism", help=organism_help(classes))


PLURAL = {"animal": "animals", "fungus": "fungi", "plant": "plants"}
WHY_NOT = {  # class id -> what the organisms that lack it have instead (the biology: locviz.organisms' docstring)
    "Plastid": "no plastids",
    "chloroplast": "no chloroplasts (no plastids)",
    "vacuolar": "no plant/fungal vacuole (their lytic compartment is the lysosome)",
    "lysosomal": "no animal lysosome (a vacuole instead)",
}


def excluded_note(classes: tuple[str, ...] | list[str], organism: str) -> str | None:
    """One sentence naming the compartments ``organism`` rules out and why, or None when none are."""
    excluded = organisms.excluded_classes(classes, organism)
    if not excluded:
        return None
    names = " and ".join(f"**{display_name(c)}**" for c in excluded)
    why = "; ".join(WHY_NOT.get(c, f"no {display_name(c)}") for c in excluded)
    its = "their probabilities are" if len(excluded) > 1 else "its probability is"
    return (f"{names} excluded for organism *{organism}*: {PLURAL.get(organism, organism)} have {why}. "
            f"Here {its} set to 0 and the rest renormalised (the model was not run again).")  # fmt: skip


_HITS: OrderedDict[tuple[str, int, str], list[homology.Hit]] = OrderedDict()
_HITS_LOCK = threading.Lock()


def _hits_key(model_name: str, sequence: str) -> tuple[str, int, str]:
    _, _, card, stamp = _predictor_key(model_name, "cpu")
    return card, stamp, sequence


def cached_hits(model_name: str, sequence: str) -> list[homology.Hit] | None:
    """The hits of an earlier search of this exact sequence (any session), or None if it was not searched."""
    with _HITS_LOCK:
        return _HITS.get(_hits_key(model_name, sequence))


def search_hits(model_name: str, records: list) -> list[list[homology.Hit]] | None:
    """Each record's hits in the model's reference set; only sequences not searched before go to DIAMOND,
    in one call. None when the model ships no reference set.

    Raises:
        SearchError: DIAMOND is missing or failed (the message says how to install it).
    """
    reference = get_reference(model_name)
    if reference is None:
        return None
    keys = [_hits_key(model_name, r.sequence) for r in records]
    with _HITS_LOCK:
        missing = {k[2]: r for k, r in zip(keys, records, strict=True) if k not in _HITS}
    found = dict(zip(missing, reference.search(list(missing.values())), strict=True)) if missing else {}
    with _HITS_LOCK:
        out = [found[k[2]] if k[2] in found else _HITS[k] for k in keys]
        for sequence, hits in found.items():
            _HITS[_hits_key(model_name, sequence)] = hits
        while len(_HITS) > HITS_CACHED:
            _HITS.popitem(last=False)
    return out


def all_searched(run: Run) -> bool:
    return all(cached_hits(run.model_name, r.sequence) is not None for r in run.records)


@dataclass(frozen=True)
class Call:
    """One protein as the Predict page shows it: restricted to the organism, with its verdict and evidence."""

    prediction: Prediction  # restricted copy; ``extra`` holds the table columns (support, nearest_*, combined)
    support: Support
    evidence: homology.Evidence | None  # None: not searched (yet), or the model has no reference set
    notes: tuple[str, ...]  # the prediction's own notes (the organism's is said on its own line)


def call_for(run: Run, predictor: Predictor, index: int, organism: str, detailed: bool = False) -> Call:
    """Protein ``index`` of ``run`` restricted to ``organism`` from the cached prediction (never a model run,
    except once for the filter activations when ``detailed``), with the homology evidence when its sequence
    was searched and the support verdict renewed with it. Cached in the run."""
    hits = cached_hits(run.model_name, run.predictions[index].sequence)
    key = (organism, index, detailed, hits is not None)
    if key in run.calls:
        return run.calls[key]
    base = run.detail(predictor, index) if detailed else run.predictions[index]
    pred = predictor.for_organism(dataclasses.replace(base, extra=dict(base.extra)), organism)  # own extra
    reference = get_reference(run.model_name) if hits is not None else None
    ev, hint = None, None
    if reference is not None:
        ev = homology.evidence(pred, reference, hits=hits)
        pred.extra.update(homology.evidence_columns(ev))
        hint = homology.homology_hint(pred)
    verdict = calibration.support_for(pred, predictor.support_thresholds, hint)
    pred.extra.update(support=verdict.level, support_reasons=verdict.text)
    call = Call(pred, verdict, ev, tuple(base.notes))
    run.calls[key] = call
    return call


def table_columns(model_name: str, searched: bool) -> tuple[str, ...]:
    """The extra columns of the downloads: those of ``locviz predict --neighbours`` (``support`` alone when the
    proteins were not searched, as plain ``locviz predict``)."""
    return ("support", *homology.COLUMNS) if searched and get_reference(model_name) is not None else ("support",)


def table_download_bytes(
    run: Run, predictor: Predictor, organism: str, fmt: str, with_attention: bool = False
) -> bytes:
    """The run's prediction table as ``locviz predict --organism O --neighbours`` writes it (made on click):
    every protein not searched yet is searched now, in one DIAMOND call (~3 s for 500)."""
    try:
        searched = search_hits(run.model_name, run.records) is not None
    except LocvizError:  # no aligner: the table without the homology columns, as plain `locviz predict`
        LOG.warning("homology search failed; downloading the table without its columns", exc_info=True)
        searched = False
    preds = [call_for(run, predictor, i, organism).prediction for i in range(len(run.predictions))]
    return table.table_bytes(preds, fmt, extra_columns=table_columns(run.model_name, searched),
                             with_attention=with_attention)  # fmt: skip


_CLASS_WORD = re.compile(r"(?<![\w.])([A-Za-z][\w./]*[\w])(?![\w])")


def readable(sentence: str, classes: tuple[str, ...] | list[str]) -> str:
    """``sentence`` with every class id as its display name (``Endoplasmic.reticulum`` → endoplasmic reticulum)."""
    known = set(classes)
    return _CLASS_WORD.sub(lambda m: display_name(m.group(1)) if m.group(1) in known else m.group(1), sentence)


# ------------------------------------------------------------------ figure cache and downloads
_PLACEHOLDER_COLOUR = re.compile(r"^#0000(?:[0-3][0-9]|40)$", re.IGNORECASE)


def _unplaceholder(colour: object) -> object:
    """``#000001``–``#000040`` → ``#010101``-ish: Streamlit's browser code swaps those exact colours for theme
    colours in every plotly figure (even with ``theme=None``), e.g. the black end of Magma became violet."""
    if isinstance(colour, str) and _PLACEHOLDER_COLOUR.match(colour):
        return "#01" + colour[3:]
    return colour


def streamlit_safe(fig: object) -> object:
    """Nudge colour-scale entries Streamlit would recolour (visually identical); returns the same figure."""
    for trace in getattr(fig, "data", ()):
        for owner in (trace, getattr(trace, "marker", None)):
            scale = getattr(owner, "colorscale", None) if owner is not None else None
            if scale and any(_PLACEHOLDER_COLOUR.match(str(c)) for _, c in scale):
                owner.colorscale = [(pos, _unplaceholder(c)) for pos, c in scale]
    return fig


def cached_figure(kind: str, key: tuple, build: Callable[[], object]) -> object:
    """Build a figure once per session and key; reruns reuse it."""
    store = st.session_state.setdefault("_figures", OrderedDict())
    full = (kind, *key)
    if full not in store:
        store[full] = streamlit_safe(build())
        while len(store) > 40:
            store.popitem(last=False)
    return store[full]


def export_bytes(fig: object, fmt: str) -> bytes:
    """Figure (or a zero-argument function that builds it) to file bytes: what the download buttons deliver."""
    if callable(fig):
        fig = fig()
    return figure_bytes(fig, fmt)


PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
"""The toolbar of every protein chart: no logo, no selection tools (no page reads a selection)."""


def chart(fig: object, pred: Prediction, name: str, key: str, width: str = "stretch") -> None:
    """A plotly figure of one protein and its PNG/SVG/PDF buttons (file names from protein, model and ``name``)."""
    st.plotly_chart(fig, width=width, config=PLOTLY_CONFIG, key=f"chart-{key}", theme=None)
    figure_downloads(fig, pred.id, pred.model_name, name, key)


def figure_downloads(fig: object, protein_id: str, model_name: str, figure: str, key: str) -> None:
    """PNG, SVG and PDF buttons for one figure; the file is made only when a button is clicked.

    ``fig`` is a plotly/matplotlib figure or a function that builds one (for figures slow to draw).
    """
    row = st.container(horizontal=True, gap="small")
    for fmt in ("png", "svg", "pdf"):
        with row:
            st.download_button(
                fmt.upper(),
                data=lambda fmt=fmt: export_bytes(fig, fmt),
                file_name=export_filename(protein_id, model_name, figure, fmt),
                mime=MIME[fmt],
                key=f"dl-{key}-{fmt}",
                on_click="ignore",
                icon=":material/download:",
                help=f"Download this figure as {fmt.upper()}",
            )


def table_download(label: str, make: Callable[[], str | bytes], file_name: str, key: str) -> None:
    """A CSV/JSON download whose content is made only on click."""
    ext = Path(file_name).suffix.lstrip(".")
    st.download_button(
        label, data=make, file_name=file_name, mime=MIME.get(ext, "application/octet-stream"),
        key=f"dl-{key}", on_click="ignore", icon=":material/download:",
    )  # fmt: skip


def show_issues(errors: list[ParseIssue], any_predicted: bool, limit: int = 20) -> None:
    """Parser errors (records left out), each naming record and position, in one box.

    Warnings about kept records (digits removed, ambiguous residues) are not repeated here: they
    travel with the record as notes, shown beside its result and in the table's notes column.
    """
    if not errors:
        return
    if len(errors) == 1 and not any_predicted:
        st.error(str(errors[0]))
        return
    lines = [f"- {issue}" for issue in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"- … and {len(errors) - limit} more")
    head = "Some input was not used" if any_predicted else "Nothing could be predicted"
    st.error(f"**{head}:**\n" + "\n".join(lines))
