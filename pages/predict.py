"""Predict page: paste or upload proteins, see where they go and what the model looked at.

Streamlit widgets only; everything it shows comes from :mod:`locviz`
(parse → predict → figures → export).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import streamlit as st

from locviz import calibration, export, figures, homology, organisms, table
from locviz.card import display_name
from locviz.errors import LocvizError
from locviz.examples import EXAMPLES, IN_DEEPLOC_TRAINING, by_accession
from locviz.motifs import MotifError, MotifSet
from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.regions import above_uniform, times_uniform, top_regions
from locviz_app import charts, downloads, evidence, inputs, layout, models, runs
from locviz_app.signals_view import signal_section

EXAMPLE_PROMPT = "— choose a real protein —"
ATTENTION_TAB = "Attention along the sequence"
FILTER_TAB = "First-layer filters"
# Rows of the filter track at first: eight 24-px rows stay readable next to each other; more on request.
# (A comment, not a docstring: Streamlit's "magic" would draw a bare string of a page script on the page.)
SUPPORT_TEXT_COLOURS = {"high": "#1a7f37", "medium": "#b35900", "low": "#c62828"}  # badge colours, readable as text
NON_BREAKING_EXPONENT = re.compile(r"(\de)-(\d)")  # "E = 7e-262" must not wrap after its hyphen


# ------------------------------------------------------------------ input
def _use_example() -> None:
    """Callback of 'Use this example': put its FASTA in the text box and predict it."""
    accession = st.session_state.get("example_pick")
    if not accession or accession == EXAMPLE_PROMPT:
        st.session_state["input_notice"] = "Choose an example protein first."
        return
    _submit(by_accession(accession).fasta())


def _submit(text: str, into_box: bool = True) -> None:
    """Callback helper: predict ``text`` (shown in the text box unless it came from an upload)."""
    if into_box:
        st.session_state["seq_text"] = text
    st.session_state["submitted"] = text
    st.session_state.pop("over_limit", None)


def _predict_first(n: int) -> None:
    """Callback of 'Predict the first N': the first ``n`` records of the input that was over the limit."""
    text = st.session_state.pop("over_limit", "")
    st.session_state["submitted"] = "".join(inputs.record_texts(text)[:n])


def over_limit_offer() -> None:
    """One message for an input with too many records, and a button to run the first ones."""
    text = st.session_state.get("over_limit")
    if not text:
        return
    with st.container(border=True):
        st.warning(inputs.over_limit_message(len(inputs.record_texts(text))), icon=":material/playlist_remove:")
        st.button(f"Predict the first {inputs.MAX_RECORDS}", key="predict_first", type="primary",
                  on_click=_predict_first, args=(inputs.MAX_RECORDS,))  # fmt: skip


def input_section() -> None:
    """Text box, file upload, examples and the Predict button; sets ``submitted`` on Predict."""
    options = [EXAMPLE_PROMPT, *(e.accession for e in EXAMPLES)]
    labels = {e.accession: e.label for e in EXAMPLES}
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=False):  # the button keeps its one line
        st.selectbox(
            "Example proteins (real sequences from the MultiLoc data set, known location shown with the result)",
            options, key="example_pick", format_func=lambda a: labels.get(a, a), width="stretch",
        )  # fmt: skip
        st.button("Use this example", on_click=_use_example, key="use_example", width="content")
    st.text_area(
        "Protein sequence(s): one raw sequence, or FASTA with one or many records",
        key="seq_text",
        height=180,
        placeholder="Paste a protein sequence or FASTA… (or pick an example above)",
    )
    upload = st.file_uploader(
        "…or upload a FASTA file", type=["fasta", "fa", "faa", "fas", "txt", "gz"], key="upload",
        help=inputs.LIMITS_TEXT,
    )  # fmt: skip
    go_col, info_col = st.columns([1, 5], vertical_alignment="center")
    with go_col:
        pressed = st.button("Predict", type="primary", key="predict", width="stretch")
    with info_col:
        st.caption(
            f"{inputs.LIMITS_TEXT} Proteins longer than the model's input length are cut as the model card says "
            "(first and last residues kept) and the app tells you where."
        )
    notice = st.session_state.pop("input_notice", None)
    if notice:
        st.warning(layout.escape_markdown(notice))
    if pressed:
        _on_predict(upload)
    over_limit_offer()


def _on_predict(upload) -> None:
    """Predict pressed: check the input's size and record count, then submit it."""
    st.session_state.pop("over_limit", None)
    if upload is not None:
        text, problem = inputs.decode_upload(upload.getvalue(), upload.name)
        if problem:
            st.error(layout.escape_markdown(problem))
            return
        st.info(f"Predicting the uploaded file '{layout.escape_markdown(upload.name)}' (the text box is ignored "
                "while a file is uploaded).")  # fmt: skip
    else:
        text = st.session_state.get("seq_text", "")
    problem = inputs.input_size_error(text or "")
    if problem:
        st.error(layout.escape_markdown(problem))
        return
    if not (text or "").strip():
        st.error("Nothing to predict: paste a protein sequence or FASTA text, upload a file, or use an example.")
        return
    if len(inputs.record_texts(text)) > inputs.MAX_RECORDS:
        st.session_state["over_limit"] = text
        st.session_state.pop("submitted", None)
        return
    st.session_state["submitted"] = text


# ------------------------------------------------------------------ results
def pick_key(run: runs.Run) -> str:
    return f"record_pick-{run.key}"


def search_shown(run: runs.Run, index: int) -> str | None:
    """Search the reference set for the protein shown (the whole run when it is small); None, or why not."""
    small = len(run.records) <= evidence.SEARCH_ALL_UP_TO
    try:
        evidence.search_hits(run.model_name, run.records if small else [run.records[index]])
    except LocvizError as exc:  # DIAMOND missing or failed: the call is shown without its homology evidence
        return str(exc)
    return None


def accession_offers(errors: list) -> None:
    """For accessions pasted instead of sequences: a button per protein the app ships the sequence of."""
    accessions = list(dict.fromkeys(a for issue in errors for a in issue.accessions))
    known = [k for k in (evidence.known_protein(a) for a in accessions) if k is not None]
    if not accessions:
        return
    if not known:
        st.caption(
            "The app ships the sequences of its example proteins only; "
            + ", ".join(accessions[:5]) + (" is" if len(accessions) == 1 else " are") + " not among them."
        )  # fmt: skip
        return
    for k in known[:5]:
        source = f"from {k.source.split(' (')[0]}"
        about = ", ".join(part for part in (k.name, display_name(k.location), source) if part)  # no empty name
        st.button(
            layout.escape_markdown(f"Use the sequence of {k.accession} ({about})"),
            key=f"use_known_{k.accession}", on_click=_submit, args=(k.fasta(),), icon=":material/input:",
        )  # fmt: skip
    if len(known) > 1:
        st.button(f"Use all {len(known)} sequences", key="use_known_all", on_click=_submit,
                  args=("".join(k.fasta() for k in known),))  # fmt: skip


NOT_SEARCHED = "not searched yet"


def nearest_cell(call: evidence.Call) -> str | None:
    """The summary table's homology cell: nearest protein, identity and location; None when not searched."""
    ev = call.evidence
    if ev is None:
        return None
    if ev.known:
        return "itself, in the reference set"
    if not ev.hits:
        return "no hit"
    h = ev.hits[0]
    return f"{h.accession} · {calibration.percent(h.identity)} · {display_name(h.location)}"


def summary_table(run: runs.Run, calls: list[evidence.Call]) -> int:
    """Sortable table of all proteins (as restricted to the organism); returns the index of the protein to show."""
    preds = [c.prediction for c in calls]
    rows = []
    for call, p in zip(calls, preds, strict=True):
        order = np.argsort(-np.asarray(p.probabilities))
        known = p.extra.get("known_location")  # the download's column: this very sequence in the training data
        rows.append(
            {
                "id": p.id,
                "length": p.length,
                "prediction": display_name(p.label),
                "confidence": p.confidence,
                "support": call.support.level,
                "known location": display_name(known) if known else "",
                "nearest annotated protein": nearest_cell(call),
                "runner-up": (f"{display_name(p.classes[order[1]])} ({calibration.percent(p.probabilities[order[1]])})"
                              if len(order) > 1 else ""),
                "notes": table.LIST_SEPARATOR.join(call.notes),
            }
        )
    frame = pd.DataFrame(rows)
    if not frame["known location"].any():
        frame = frame.drop(columns="known location")
    if frame["nearest annotated protein"].isna().all():
        frame = frame.drop(columns="nearest annotated protein")
    else:  # a word, not a raw "None", for proteins not searched yet
        frame["nearest annotated protein"] = frame["nearest annotated protein"].fillna(NOT_SEARCHED)
    key = pick_key(run)
    table_key = f"summary-{run.key}"

    def follow_table() -> None:
        rows_selected = st.session_state[table_key].selection.rows
        if rows_selected:
            st.session_state[key] = int(rows_selected[0])

    st.markdown(f"#### {len(preds)} proteins — click a row (or pick below) to see one in detail")
    search_all_offer(run)
    colours = {level: f"color: {colour}" for level, colour in SUPPORT_TEXT_COLOURS.items()}
    st.dataframe(
        frame.style.map(lambda level: colours.get(level, ""), subset=["support"]),
        key=table_key,
        on_select=follow_table,
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(frame), 400),
        column_config={
            "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0, max_value=1),
            "length": st.column_config.NumberColumn("length (aa)"),
            "support": st.column_config.TextColumn(
                "support", help="high / medium / low: calibrated confidence, member agreement, unusual sequence, "
                "homology (when searched); the reasons are beside the protein's call below"),
            "nearest annotated protein": st.column_config.TextColumn(
                help="best DIAMOND hit in the model's training proteins: accession · identity · known location "
                f"('{NOT_SEARCHED}': use the button above; the downloads search every protein)"),
        },
    )  # fmt: skip
    return st.selectbox(
        "Protein shown below",
        list(range(len(preds))),
        key=key,
        format_func=lambda i: (f"{preds[i].id} — {display_name(preds[i].label)} "
                               f"({calibration.percent(preds[i].confidence)})"),
    )


def search_all_offer(run: runs.Run) -> None:
    """A button that searches every protein of a large run (small runs are searched whole anyway)."""
    small = len(run.records) <= evidence.SEARCH_ALL_UP_TO
    if small or models.get_reference(run.model_name) is None or evidence.all_searched(run):
        return
    if st.button(
        f"Find the nearest annotated protein for all {len(run.records)} (a few seconds)",
        key="search_all",
        icon=":material/travel_explore:",
        help="Only the protein shown below is searched until then; the downloads search them all.",
    ):
        with st.spinner(f"Searching {len(run.records)} proteins against the reference set…"):
            try:
                evidence.search_hits(run.model_name, run.records)
            except LocvizError as exc:
                st.warning(f"The homology search failed: {layout.escape_markdown(exc)}")
        st.rerun()


def prediction_header(call: evidence.Call, predictor: Predictor) -> None:
    """Predicted compartment, confidence, known location (examples, reference set), notes and what is averaged."""
    pred = call.prediction
    st.markdown(f"### {layout.escape_markdown(pred.id)}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Predicted compartment", display_name(pred.label), help="the model's own call")
    c2.metric("Probability", f"{pred.confidence:.1%}", help=probability_help(predictor, pred.organism))
    c3.metric("Length", f"{pred.length} aa")
    seen = evidence.known_location(pred, pred.model_name)
    if seen is not None and seen.example is not None:  # a built-in example: its label as one of the model's classes
        known, location = seen.example, seen.location
        agree = "✓ matches" if location == pred.label else "differs from"
        c4.metric("Known location", display_name(location))
        as_class = (f", {display_name(location)} among {pred.model_name}'s compartments"
                    if location != known.location else "")  # fmt: skip
        fold_note = (
            "in MultiLoc's test fold, so the shipped multiloc model never trained on it"
            if known.in_test_fold
            else f"in MultiLoc training fold {known.fold}, so the shipped multiloc model has seen it in training"
        )
        if not IN_DEEPLOC_TRAINING:
            fold_note += "; its accession is not in DeepLoc's training set (the deeploc model's)"
        st.caption(
            f"Known location from {known.source}: **{display_name(known.location)}**{as_class} ({agree} the "
            "prediction). "
            f"{known.accession} {known.name} ({known.organism}) is {fold_note}."
            + (f" Data-set annotation: {known.annotation}." if known.annotation else "")
        )
    elif seen is not None:  # this sequence, or its accession, in the model's training data
        agree = "✓ matches" if seen.location == pred.label else "differs from"
        c4.metric("Known location", display_name(seen.location))
        st.caption(f"Known location from {seen.source}: **{display_name(seen.location)}** ({agree} the "
                   "prediction). A protein the model trained on is no test of it.")  # fmt: skip
    for note in call.notes:
        st.info(layout.escape_markdown(note), icon=":material/info:")
    st.caption(model_caption(predictor, pred))


def model_caption(predictor: Predictor, pred: Prediction) -> str:
    """Which network(s) made the call, and whose filters are drawn."""
    card, member = predictor.bundle.card, pred.filter_member
    if card.single_network:  # a fast student: one network, distilled from its ensemble
        teacher = card.teacher
        return (f"Model **{pred.model_name}**: one network" + (f", distilled from {teacher}" if teacher else "")
                + ("; its first-layer filters are shown." if member is not None else "."))  # fmt: skip
    filter_text = f"first-layer filters shown are those of ensemble member {member}" if member is not None else ""
    return (f"Model **{pred.model_name}**: probabilities and attention are averaged over the {card.members} ensemble "
            "members" + (f"; {filter_text} (of 0–{card.members - 1})." if filter_text else "."))  # fmt: skip


def probability_help(predictor: Predictor, organism: str) -> str:
    """What the headline probability is: calibrated, averaged, restricted."""
    text = "The network's probability" if predictor.bundle.card.single_network else "Mean over the ensemble members"
    if not predictor.calibrator.is_identity:
        text += f", calibrated: {predictor.calibrator.describe()} (see the model card)"
    if organism != "any":
        text += f", restricted to the compartments organism '{organism}' has"
    return text + "."


def support_box(call: evidence.Call) -> None:
    """The verdict as a coloured badge, and its reasons as a short list."""
    level = call.support.level
    st.markdown(
        f"##### Support for this call :{evidence.SUPPORT_COLOURS[level]}-badge"
        f"[{evidence.SUPPORT_ICONS[level]} {level}]",
        help="high / medium / low, from the calibrated confidence (thresholds chosen in cross-validation so that "
        "'high' calls were at least 90 % right), agreement between the ensemble members, signs that the sequence "
        "is unlike the training proteins, and the nearest annotated protein.",
    )
    classes = call.prediction.classes
    st.markdown("\n".join(f"- {layout.escape_markdown(evidence.readable(reason, classes))}"
                           for reason in call.support.reasons))  # fmt: skip


def combined_line(call: evidence.Call, combination) -> None:
    """The combined call on its own line (the model's own call stays the headline)."""
    ev = call.evidence
    if ev is None or ev.combined is None or ev.combined_label is None:
        return
    pred = call.prediction
    p = float(np.max(ev.combined))
    same = ("same as the model" if ev.combined_label == pred.label
            else f"the model alone says {display_name(pred.label)}")  # fmt: skip
    cv = combination.metrics.get("cross_validation", {})
    measured = (f" Cross-validation ({cv['n']} proteins, each searched without its own fold, DIAMOND "
                f"{combination.sensitivity} mode): model {cv['model']:.3f}, homology {cv['homology']:.3f}, combined "
                f"{cv['combined']:.3f} accuracy."
                if {"n", "model", "homology", "combined"} <= set(cv) else "")  # fmt: skip
    mode = ("" if combination.sensitivity == models.APP_SENSITIVITY else
            f" This page searches in DIAMOND's {models.APP_SENSITIVITY} mode (faster; it finds fewer distant hits, "
            f"so the combined call leans on the model more often); `locviz predict --neighbours` searches as fitted.")
    weight = (f"1 / (1 + exp(-{combination.slope:g} (x - {combination.midpoint:g})))"
              + (" × c, with c the share of the protein the alignment covers" if combination.coverage else ""))
    st.markdown(
        f"Combined with homology: **{display_name(ev.combined_label)}** ({calibration.percent(p)}) — {same}",
        help=f"Weighs the model against the nearest protein's location by its identity x: weight {weight}, "
        f"fitted on out-of-fold calls only (`combined` column of the downloads).{measured}{mode}",
    )


def hits_table(ev) -> None:
    frame = pd.DataFrame(
        [{"accession": h.accession, "known location": display_name(h.location),
          "identity": calibration.floor_percent(h.identity), "coverage": calibration.floor_percent(h.coverage),
          "E-value": f"{h.evalue:.0e}" if h.evalue > 0 else "0", "UniProt": homology.uniprot_url(h.accession)}
         for h in ev.hits]
    )  # fmt: skip
    st.dataframe(
        frame, hide_index=True, width="stretch", height=38 + 35 * len(frame),
        column_config={
            "accession": st.column_config.TextColumn(width="small"),
            "known location": st.column_config.TextColumn(width="medium"),
            "identity": st.column_config.NumberColumn(format="%.1f %%", width="small",
                                                      help="identical residues in the alignment"),
            "coverage": st.column_config.NumberColumn(format="%.1f %%", width="small",
                                                      help="share of this protein aligned"),
            "E-value": st.column_config.TextColumn(width="small", help="DIAMOND's E-value (hits up to 1e-3 are "
                                                   "listed; 0: below the smallest number it reports)"),
            "UniProt": st.column_config.LinkColumn(display_text="entry", width="small",
                                                   help="the hit's name, organism and annotation at UniProt"),
        },
    )  # fmt: skip


def homology_box(call: evidence.Call, model_name: str, problem: str | None) -> None:
    """The plain sentence, the combined call and the best hits."""
    reference = models.get_reference(model_name)
    if reference is None:
        st.markdown("##### Nearest annotated proteins")
        st.caption(f"Model {model_name} ships no reference set, so there is no homology evidence.")
        return
    st.markdown(
        "##### Nearest annotated proteins",
        help=f"DIAMOND search (E ≤ {homology.MAX_EVALUE:g}, {models.APP_SENSITIVITY} sensitivity) of the "
        f"{len(reference):,} proteins with a known "
        f"location that model {model_name} was trained on ({reference.path.name if reference.path else ''}).",
    )
    if problem or call.evidence is None:
        st.info(f"No homology search: {layout.escape_markdown(problem or 'not searched')}", icon=":material/info:")
        return
    ev = call.evidence
    sentence = ev.sentence if ev.known else ev.sentence[:1].upper() + ev.sentence[1:]
    st.markdown(NON_BREAKING_EXPONENT.sub("\\1\u2011\\2", sentence))
    if reference.combination is not None:
        combined_line(call, reference.combination)
    if ev.hits:
        hits_table(ev)


def evidence_section(call: evidence.Call, model_name: str, problem: str | None) -> None:
    """Beside the call: the support verdict and the homology evidence."""
    left, right = st.columns([2, 3], gap="large")
    with left:
        support_box(call)
    with right:
        homology_box(call, model_name, problem)


def attention_section(pred: Prediction) -> None:
    """Heatmap along the sequence, top regions table, profile."""
    st.caption("Which residues the model weighted when it pooled the sequence into one vector (attention sums to 1 "
               "over the residues it saw). Attention shows where the model looked, not necessarily what the call "
               "rests on: the *What if* page's attribution cross-check and deletion curves test that.")  # fmt: skip
    ctl1, ctl2, ctl3 = st.columns(3)
    per_row = ctl1.select_slider("Residues per row", [30, 40, 50, 60, 80, 100], value=60, key="per_row")
    n_regions = ctl2.number_input("Top regions", 1, 20, 5, key="n_regions")
    window = ctl3.number_input("Region width (residues)", 1, 51, 9, step=2, key="region_window")
    key = (pred.model_name, pred.id, pred.sequence)
    heatmap = charts.cached_figure("heatmap", (*key, per_row), lambda: figures.attention_heatmap(pred, per_row))
    charts.chart(heatmap, pred, "attention-heatmap", "heatmap", width="content")
    signal_section(pred)  # known sorting signals (rules) on the same residues, and any conflict with the call
    best = top_regions(pred, n=int(n_regions), window=int(window))  # fewer where the protein has no room for more
    regions = [r for r in best if above_uniform(r, pred)]
    table = pd.DataFrame(
        [
            {
                "rank": k + 1,
                "start": r.start,
                "end": r.end,
                "share of attention": 100 * r.score,
                "× uniform": times_uniform(r, pred),
                "peak": r.peak_position,
                "subsequence": r.subsequence,
            }
            for k, r in enumerate(regions)
        ]
    )
    st.markdown(f"**Most-attended regions** (non-overlapping windows of {int(window)} residues, 1-based)")
    room = (f"This protein has room for {len(best)} non-overlapping window{'s' if len(best) != 1 else ''} of "
            f"{int(window)} residues. " if len(best) < int(n_regions) else "")  # fmt: skip
    if len(regions) < len(best):  # the best windows left out hold no more attention than their length's share
        count = f"Only {len(regions)}" if regions else "None"
        st.caption(f"{room}{count} of the {len(best)} best windows hold{'s' if len(regions) <= 1 else ''} more "
                   "attention than uniform attention would give them; the others are not listed or shaded: the "
                   "model did not single them out.")  # fmt: skip
    elif room:
        st.caption(room)
    if regions:
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "share of attention": st.column_config.NumberColumn(format="%.1f %%"),
                "× uniform": st.column_config.NumberColumn(format="%.1f×", help="share of attention / share of "
                                                           "length"),  # fmt: skip
                "subsequence": st.column_config.TextColumn(width="large"),
            },
        )
    profile = charts.cached_figure(
        "profile", (*key, int(n_regions), int(window)), lambda: figures.attention_profile(pred, regions)
    )
    charts.chart(profile, pred, "attention-profile", "profile")


def reference_motifs(model_name: str, device: str) -> MotifSet | None:
    """The model's motif set: its filters' strongest activations in the reference set scale the filter track (a
    filter that barely fires here then stays pale); None without a motifs file."""
    try:
        return models.get_motifs(model_name, device)
    except MotifError:
        return None


def filter_section(pred: Prediction, predictor: Predictor, motif_set: MotifSet | None = None) -> None:
    """Filter-activation track and the way to a filter's logo."""
    config = predictor.bundle.config
    widths = [config.filter_width(i) for i in range(config.n_filters)]
    st.caption(
        "Where the first-layer convolution filters fire along this protein (rows: filters, most active first; "
        "columns: residues). Open a filter to see its sequence logo on the Filter motifs page."
    )
    peak = np.nanmax(np.where(np.isfinite(pred.filter_activations), pred.filter_activations, -np.inf), axis=1)
    order = figures.filters_by_peak(pred)
    pick_key = f"track_filters-{pred.model_name}-{pred.id}"  # each protein starts from its own most active filters
    if pick_key not in st.session_state:
        st.session_state[pick_key] = order[: figures.FILTER_TRACK_TOP]
    ctl1, ctl2 = st.columns([3, 1], vertical_alignment="bottom")
    shown = ctl1.multiselect(
        "Filters shown (most active in this protein first)", order, key=pick_key,
        max_selections=figures.FILTER_TRACK_MAX,
        format_func=lambda i: f"f{i} (w={widths[i]}) · peak {peak[i]:.2f}",
    )  # fmt: skip
    scale_each = ctl2.toggle("Scale per filter", value=True, key="track_scale_each",
                             help="Colour each filter by the share of its strongest activation in the reference "
                             "proteins (without a motifs file: of its own peak in this protein, written in its "
                             "label), so weak filters' hits show as clearly as strong ones'. Off: one activation "
                             "scale.")  # fmt: skip
    if not shown:
        st.info("Choose at least one filter to draw.")
    else:
        track = charts.cached_figure(
            "track", (pred.model_name, pred.id, pred.sequence, tuple(shown), scale_each, motif_set is None),
            lambda: figures.filter_track(pred, list(shown), widths, scale_each=scale_each, motif_set=motif_set),
        )  # fmt: skip
        charts.chart(track, pred, "filter-activations", "track")
    pick_col, go_col = st.columns([4, 1], vertical_alignment="bottom")
    with pick_col:
        chosen = st.selectbox(
            "Filter to open in the motif view",
            order,
            key="track_filter_pick",
            format_func=lambda i: f"filter {i} (width {widths[i]}) · peak activation {peak[i]:.2f} here",
        )
    with go_col:
        if st.button("Open its logo", key="open_motif", width="stretch"):
            st.session_state["motif_filter"] = int(chosen)
            st.switch_page(layout.MOTIFS_PAGE)


def downloads_section(run: runs.Run, pred: Prediction, predictor: Predictor, search_problem: str | None) -> None:
    """Numbers behind the figures, for this protein and for all proteins of the run; the caption names the
    command whose table they are (without ``--neighbours`` when the homology search cannot run)."""
    st.markdown("#### Numbers (CSV / JSON)")
    name = pred.model_name
    organism = pred.organism
    n = len(run.predictions)
    every = "the protein" if n == 1 else f"all {n} proteins"
    searched = search_problem is None and models.get_reference(name) is not None
    command = f"locviz predict --organism {organism}" + (
        f" --neighbours --search-mode {models.APP_SENSITIVITY}" if searched else "")
    st.caption(f"The prediction tables are those of `{command}`: calibrated probabilities, the support verdict, "
               + ("the nearest annotated protein, " if searched else "")
               + "the signals and any conflict with the call (the JSON adds `--with-attention`: each protein's "
               "sequence, attention and member probabilities)."
               + ("" if searched else " No homology columns: " + (
                   "the search failed (see above)." if search_problem else f"model {name} ships no reference set.")))
    with st.container(horizontal=True, gap="small"):  # buttons as wide as their labels, wrapping: nothing cut off
        downloads.table_download(f"Predictions, {every} (CSV)",
                          lambda: downloads.table_download_bytes(run, predictor, organism, "csv"),
                          export.export_filename("all", name, "predictions", "csv"), "pred-csv")  # fmt: skip
        downloads.table_download(f"Predictions + attention, {every} (JSON)",
                          lambda: downloads.table_download_bytes(run, predictor, organism, "json", with_attention=True),
                          export.export_filename("all", name, "predictions", "json"), "pred-json")  # fmt: skip
        downloads.table_download(f"Attention per residue, {pred.id} (CSV)", lambda: table.attention_bytes([pred]),
                          export.export_filename(pred.id, name, "attention", "csv"), "att-csv")  # fmt: skip
        downloads.table_download(f"Filter activations, {pred.id} (CSV)", lambda: export.filters_csv(pred),
                          export.export_filename(pred.id, name, "filter-activations", "csv"), "filt-csv")  # fmt: skip


def results_section(model_name: str, device: str, organism: str) -> None:
    text = st.session_state.get("submitted")
    if not text:
        return
    run = runs.get_run(model_name, device, text)
    if run is None and text.count(">") > runs.PROGRESS_ABOVE:  # many proteins: show progress
        bar = st.progress(0.0, text="Predicting…")
        run = runs.run_prediction(model_name, device, text, progress=lambda f, msg: bar.progress(f, text=msg))
        bar.empty()
    elif run is None:  # a few proteins take well under a second: no progress widgets to draw
        run = runs.run_prediction(model_name, device, text)
    st.divider()
    inputs.show_issues(run.parsed.errors, any_predicted=bool(run.predictions))
    accession_offers(run.parsed.errors)
    if not run.predictions:
        return
    predictor = models.get_predictor(model_name, device)
    took = f"{run.seconds * 1000:.0f} ms" if run.seconds < 1 else f"{run.seconds:.1f} s"
    st.caption(
        f"{len(run.predictions)} protein{'s' if len(run.predictions) != 1 else ''} predicted in {took} "
        f"on {device.upper()} with model {model_name} (model loading not counted)."
    )
    n = len(run.predictions)
    key = pick_key(run)
    if st.session_state.get(key) not in range(n):
        st.session_state[key] = 0
    index = st.session_state[key]  # the protein shown: searched before the table, so its row has the evidence too
    problem = search_shown(run, index)
    if n > 1:
        index = summary_table(run, [evidence.call_for(run, predictor, i, organism) for i in range(n)])
    call = evidence.call_for(run, predictor, index, organism, detailed=True)
    pred = call.prediction
    st.session_state["prediction"] = pred
    prediction_header(call, predictor)
    excluded = evidence.excluded_note(pred.classes, organism)
    if pred.extra.get("organism_warning"):  # most of the probability was in the excluded compartments
        st.warning(layout.escape_markdown(evidence.readable(pred.extra["organism_warning"], pred.classes)),
                   icon=":material/warning:")  # fmt: skip
    if excluded is not None:
        st.info(excluded, icon=":material/filter_alt:")
    evidence_section(call, model_name, problem)
    left, right = st.columns([1, 1])
    with left:
        key = (pred.model_name, pred.id, pred.sequence, organism)
        bar_fig = charts.cached_figure("bar", key, lambda: figures.probability_bar(pred))
        charts.chart(bar_fig, pred, "probabilities", "bar")
    with right:
        st.markdown("**Probability of every class**" if excluded is None else
                    "**Probability of every compartment the organism has**")  # fmt: skip
        probs = pd.DataFrame(
            {"compartment": [display_name(c) for c in pred.classes], "probability": 100 * pred.probabilities}
        )
        if pred.member_probabilities is not None and len(pred.member_probabilities) > 1:
            members = 100 * np.asarray(pred.member_probabilities)
            probs["member min"] = members.min(axis=0)
            probs["member max"] = members.max(axis=0)
        probs = probs[organisms.allowed_mask(pred.classes, organism)].sort_values("probability", ascending=False)
        st.dataframe(
            probs, hide_index=True, width="stretch", height=38 + 35 * len(probs),
            column_config={c: st.column_config.NumberColumn(c, format="%.1f %%")
                           for c in ("probability", "member min", "member max")},
        )  # fmt: skip
    # Tabs render lazily: only the open one is drawn, which keeps a 1,000-residue protein under a second.
    attention_tab, filter_tab = st.tabs([ATTENTION_TAB, FILTER_TAB], key="result_tab", on_change="rerun")
    if attention_tab.open:
        with attention_tab:
            attention_section(pred)
    if filter_tab.open:
        with filter_tab:
            filter_section(pred, predictor, reference_motifs(model_name, device))
    downloads_section(run, pred, predictor, problem)


def main() -> None:
    settings = layout.sidebar_settings()
    st.title("locviz — where does this protein go, and why?")
    st.markdown(
        "Predicts the subcellular compartment of eukaryotic proteins from sequence alone with a ConvLSTM "
        "(Sønderby et al. 2015) and shows **which residues the model attended to** and **which learnt "
        "sequence motifs fired**. Pages: *What if* (does the call change when the sequence does), *Filter "
        "motifs* (what each filter learnt) and *Model card* (data, accuracy, how to reproduce)."
    )
    if settings is None:
        return
    model_name, device = settings
    organism = evidence.organism_setting(model_name)
    input_section()  # the limits are said once, beside the Predict button
    results_section(model_name, device, organism)


layout.guarded(main)
