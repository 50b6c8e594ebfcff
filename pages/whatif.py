"""What if: change the protein and see whether the call changes.

Three tools on the protein chosen on the Predict page (the session's last run):
saturation mutagenesis of a window, variants or an isoform side by side, and an
attribution cross-check (attention against occlusion and gradients, with deletion
curves that say whether attention is faithful here). The science is
:mod:`locviz.whatif` and :mod:`locviz.whatif_figures`; this page lays out widgets,
keeps each result per (model, sequence, settings) in the session so reruns never
recompute, and offers every figure as PNG/SVG/PDF and its numbers as CSV.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd
import streamlit as st

from locviz import whatif
from locviz import whatif_figures as wf
from locviz.card import display_name
from locviz.errors import LocvizError
from locviz.export import export_filename
from locviz.predict import Predictor
from locviz.prediction import Prediction
from locviz.sequences import ProteinRecord, parse
from locviz_app import charts, downloads, evidence, layout, models, runs

SCAN_TAB = "Saturation mutagenesis"
VARIANT_TAB = "Variants side by side"
ATTRIBUTION_TAB = "Attribution cross-check"
VARIANTS_MODE = "Variants (K128T, del1-20, ins45:AAA)"
ISOFORM_MODE = "A second sequence (isoform)"
# Results kept per session (scans, comparisons, cross-checks); a scan of 100 residues is 100 × 20 × C floats.
CACHED_RESULTS = 24


# ------------------------------------------------------------------ session state
def _results() -> OrderedDict:
    return st.session_state.setdefault("_whatif", OrderedDict())


def cached(key: Hashable) -> object | None:
    """The result stored under ``key`` in this session, if any (most recently used kept longest)."""
    store = _results()
    if key in store:
        store.move_to_end(key)
        return store[key]
    return None


def remember(key: Hashable, value: object) -> object:
    store = _results()
    store[key] = value
    while len(store) > CACHED_RESULTS:
        store.popitem(last=False)
    return value


def sticky(widget: Callable, label: str, key: str, store_key: Hashable, default: object, **kwargs) -> object:
    """A widget whose value survives page switches (Streamlit drops a widget's state when its page is left).

    The value lives under ``store_key`` (per protein), the widget under the fixed ``key``.
    """
    store = st.session_state.setdefault("_whatif_inputs", {})
    if store_key not in store:
        store[store_key] = default
    st.session_state[key] = store[store_key]

    def keep() -> None:
        store[store_key] = st.session_state[key]

    return widget(label, key=key, on_change=keep, **kwargs)


def result_key(pred: Prediction, device: str, *settings: Hashable) -> tuple:
    """Model (card file and version), device, the exact sequence and the tool's settings."""
    return (runs.text_key(pred.model_name, device, pred.sequence), *settings)


# ------------------------------------------------------------------ the protein
def current_run(model_name: str, device: str) -> runs.Run | None:
    """The Predict page's last run, predicted again with this model if the sidebar's model was changed since."""
    text = st.session_state.get("submitted")
    if not text:
        return None
    run = runs.get_run(model_name, device, text)
    if run is None:
        with st.spinner(f"Predicting the Predict page's input with model {model_name}…"):
            run = runs.run_prediction(model_name, device, text)
    return run if run.predictions else None


def pick_protein(run: runs.Run) -> int:
    """Index of the protein to work on: the one shown on the Predict page, until another is picked here.

    The picker's state is dropped whenever the user leaves this page (Streamlit forgets the widgets of a
    page not shown), so on every arrival it starts again from the Predict page's choice.
    """
    preds = run.predictions
    if len(preds) == 1:
        return 0
    if "whatif_protein" not in st.session_state or st.session_state["whatif_protein"] >= len(preds):
        shown = st.session_state.get("prediction")
        st.session_state["whatif_protein"] = next(
            (i for i, p in enumerate(preds) if shown is not None and p.id == shown.id and p.sequence == shown.sequence),
            0,
        )
    return st.selectbox(
        f"Protein ({len(preds)} in the Predict page's input; starts on the one shown there)",
        list(range(len(preds))), key="whatif_protein",
        format_func=lambda i: f"{preds[i].id} — {display_name(preds[i].label)} ({preds[i].confidence:.0%}), "
        f"{preds[i].length} aa",
    )  # fmt: skip


def empty_state() -> None:
    st.info(
        "No protein yet. Predict one on the Predict page (paste a sequence or pick an example protein); "
        "this page then works on the protein shown there.",
        icon=":material/info:",
    )
    st.page_link(layout.PREDICT_PAGE, label="Go to Predict", icon=":material/biotech:")


def protein_header(pred: Prediction, predictor: Predictor, organism: str) -> None:
    """The protein's call as on the Predict page (restricted to the sidebar's organism), and what Δ below is of."""
    shown = predictor.for_organism(dataclasses.replace(pred, extra=dict(pred.extra)), organism)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Protein", pred.id)
    c2.metric("Predicted compartment", display_name(shown.label))
    averaged = "mean over the ensemble members, " if len(predictor.bundle.model.members) > 1 else ""
    c3.metric("Probability", f"{shown.confidence:.1%}",
              help=f"{averaged}calibrated as on the Predict page (organism {organism})")
    c4.metric("Length", f"{pred.length} aa")
    if organism != "any":
        st.caption(f"Organism **{organism}** restricts this call as on the Predict page. The changes below (Δ) "
                   "are of the model's own probabilities over all its compartments, before any restriction.")
    if shown.extra.get("organism_warning"):
        st.warning(layout.escape_markdown(evidence.readable(shown.extra["organism_warning"], pred.classes)),
                   icon=":material/warning:")  # fmt: skip
    if not np.all(pred.seen):
        st.caption(
            f"The model sees {int(np.sum(pred.seen))} of {pred.length} residues (its long-sequence policy): "
            "changing an unseen residue changes nothing, and those residues are not run."
        )


def progress_counter(total: int, what: str) -> tuple[Callable[[int], None], object]:
    """A progress bar and the ``callback(n)`` the what-if tools report finished predictions to."""
    bar = st.progress(0.0, text=f"0 of {total} {what}…")
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done} of {total} {what}…")

    return advance, bar


def seconds(t: float) -> str:
    return f"{t * 1000:.0f} ms" if t < 1 else f"{t:.1f} s"


# ------------------------------------------------------------------ saturation mutagenesis
def scan_section(predictor: Predictor, record: ProteinRecord, pred: Prediction, device: str) -> None:
    length = len(record.sequence)
    first, last = whatif.default_window(pred)
    st.caption(
        f"Every residue of a window changed to each of the other 19, and each class probability predicted "
        f"again: Δp = p(mutant) − p(wild type). The window starts on the {last - first + 1} residues with the "
        f"most attention ({first}-{last}); at most {whatif.MAX_SCAN_WINDOW} residues per scan."
    )
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1.3], vertical_alignment="bottom")
    with c1:
        start = sticky(st.number_input, "Start (1-based)", "scan_start", ("scan_start", pred.sequence), first,
                       min_value=1, max_value=length, step=1)  # fmt: skip
    with c2:
        end = sticky(st.number_input, "End (inclusive)", "scan_end", ("scan_end", pred.sequence), last,
                     min_value=1, max_value=length, step=1)  # fmt: skip
    with c3:
        cls = sticky(
            st.selectbox,
            "Class shown",
            "scan_class",
            ("scan_class", pred.model_name, pred.sequence),
            pred.label,
            options=pred.classes,
            format_func=display_name,
            help="Δ of this class's probability; every class is in the CSV. Default: the predicted class.",
        )
    with c4:
        pressed = st.button("Run the scan", type="primary", key="scan_run", width="stretch")
    student = models.student_of(pred.model_name)
    fast = bool(student) and sticky(
        st.toggle, f"Fast: draw with {student}, re-score the {whatif.RESCORE_TOP} strongest cells with "
        f"{pred.model_name}", "scan_fast", ("scan_fast", pred.model_name), True,
        help=f"{student} is one small ConvLSTM distilled from {pred.model_name}: it draws the heatmap in seconds. "
        f"The cells that matter most are then predicted again by {pred.model_name} itself, and both Δs are shown. "
        f"Off: every cell by {pred.model_name} (slower).",
    )  # fmt: skip
    try:
        whatif.check_window(int(start), int(end), length)
    except LocvizError as exc:
        st.error(f"{layout.escape_markdown(exc)}.")
        return
    start, end = int(start), int(end)
    key = result_key(pred, device, "scan", start, end, *((student,) if fast else ()))
    scan = cached(key)
    n_mutants = 19 * int(np.sum(pred.seen[start - 1 : end]))
    if scan is None and pressed:
        advance, bar = progress_counter(n_mutants, "mutants predicted")
        t0 = time.perf_counter()
        if fast:
            drawer = models.get_predictor(student, device)
            scan = whatif.saturation_scan(drawer, record, start, end, callback=advance, organism=pred.organism)
        else:
            scan = whatif.saturation_scan(predictor, record, start, end, wild=pred, callback=advance)
        bar.empty()
        remember(key, scan)
        remember((*key, "seconds"), time.perf_counter() - t0)
    if scan is not None and fast:  # the strongest cells of the class shown, by the full model (10 passes; per class)
        rescored = cached((*key, "rescored", cls))
        if rescored is None:
            with st.spinner(f"Re-scoring the strongest cells with {pred.model_name}…"):
                rescored = whatif.rescore(scan, predictor, record, cls=cls, full_wild=pred)
            remember((*key, "rescored", cls), rescored)
        scan = rescored
    if scan is None:
        who = f"{student} (then {whatif.RESCORE_TOP} by {pred.model_name})" if fast else pred.model_name
        st.info(f"Press **Run the scan** to predict the {n_mutants} single mutants of residues {start}-{end} "
                f"with {who} (each one a full prediction of the {length}-residue protein).")  # fmt: skip
        return
    took = cached((*key, "seconds"))
    done = f"{n_mutants} mutants" + (f", predicted in {seconds(took)} on {device.upper()}. " if took else ". ")
    if scan.rescored_by is not None:
        done += layout.escape_markdown(whatif.rescore_summary(scan, cls)) + " "
    st.caption(done + strongest(scan, cls))
    disagreement = whatif.rescore_warning(scan)
    if disagreement:
        st.warning(f"{layout.escape_markdown(disagreement)}. Turn off **Fast** above to draw every cell with "
                   f"{pred.model_name} itself.")  # fmt: skip
    fig = charts.cached_figure("whatif-scan", (key, cls), lambda: wf.scan_heatmap(scan, cls))
    charts.chart(fig, pred, f"saturation-{start}-{end}-{cls}", "scan")
    downloads.table_download(
        f"Every substitution, residues {start}-{end}, all classes (CSV)", lambda: whatif.scan_table_bytes([scan]),
        export_filename(pred.id, pred.model_name, f"saturation-{start}-{end}", "csv"), "scan-csv",
    )  # fmt: skip
    rescore = f" --rescore-with {pred.model_name} --rescore-class {cls}" if scan.rescored_by is not None else ""
    organism = f" --organism {pred.organism}" if pred.organism != "any" else ""
    command_caption(f"locviz scan protein.fasta --model {scan.model} --start {start} --end {end}{rescore}{organism} "
                    "--format csv --out scan.csv")  # fmt: skip


def command_caption(command: str, tables: int = 1) -> None:
    """The command that writes the same table(s) (the protein saved as ``protein.fasta``): what the page does, from
    a shell."""
    st.caption(f"The same {'table' if tables == 1 else 'tables'} from the command line, with this protein in "
               f"`protein.fasta`: `{command}`")  # fmt: skip


def strongest(scan: whatif.SaturationScan, cls: str) -> str:
    """The substitutions that lower and raise the class most (or that none matters), and how to read the colours."""
    limit = wf.scale_limit(float(np.abs(scan.heatmap(cls)).max()))
    return (f"{whatif.scan_summary(scan, cls)} Red raises the class probability, blue lowers it, on a fixed scale of "
            f"±{limit:g} ({100 * limit:g} points); dots mark the wild type.")  # fmt: skip


# ------------------------------------------------------------------ variants
def variant_example(sequence: str) -> str:
    """A variant text valid for this protein, to show the syntax with its own residues."""
    pos = min(10, len(sequence))
    wt = sequence[pos - 1]
    new = "A" if wt != "A" else "G"
    parts = [f"{wt}{pos}{new}"]
    if len(sequence) >= 40:
        parts.append("del1-20")
    parts.append(f"ins{min(45, len(sequence))}:AAA")
    return ", ".join(parts)


def variant_section(predictor: Predictor, record: ProteinRecord, pred: Prediction, device: str) -> None:
    st.caption("Both proteins predicted; Δ = p(variant) − p(wild type) per class, and where the attention moved "
               "on the wild type's residues.")  # fmt: skip
    mode = sticky(st.radio, "Compare the protein with", "variant_mode", ("variant_mode",), VARIANTS_MODE,
                  options=[VARIANTS_MODE, ISOFORM_MODE], horizontal=True)  # fmt: skip
    combine = False
    if mode == VARIANTS_MODE:
        text_col, combine_col = st.columns([4, 1.3], vertical_alignment="bottom")
        with text_col:
            text = sticky(
                st.text_input, "Variants, in the wild type's numbering (1-based): commas separate mutants, + joins "
                "changes into one", "variant_text", ("variant_text", pred.sequence), "",
                placeholder=f"e.g. {variant_example(pred.sequence)}",
                help=whatif.VARIANT_HELP[0].upper() + whatif.VARIANT_HELP[1:] + ". All positions refer to the wild "
                f"type; {whatif.MUTANTS_HELP}.",
            )  # fmt: skip
        with combine_col:
            combine = bool(sticky(st.toggle, "Combine into one mutant", "variant_combine", ("variant_combine",), False,
                                  help="Apply every change to one mutant instead of comparing each one with the "
                                  "wild type."))  # fmt: skip
    else:
        text = sticky(st.text_area, "Second sequence (raw or FASTA; aligned to the wild type)", "variant_isoform",
                      ("variant_isoform", pred.sequence), "", height=120,
                      placeholder="Paste the isoform or the mutant made elsewhere…")  # fmt: skip
    pressed = st.button("Compare", type="primary", key="variant_run")
    text = (text or "").strip()
    key = result_key(pred, device, "compare", mode, text, combine)
    outcome = cached(key)
    if outcome is None and pressed:
        outcome = remember(key, run_comparison(predictor, record, mode, text, combine, pred))
    if outcome is None:
        st.info("Write the variants (or paste a second sequence) and press **Compare**.")
        return
    if isinstance(outcome, str):  # the input was refused: the module's message says where and how to fix it
        st.error(layout.escape_markdown(outcome))
        return
    if len(outcome) == 1:
        show_comparison(outcome[0], pred)
    else:
        show_comparisons(outcome, pred)
    if mode == VARIANTS_MODE:  # a second sequence has no command-line form
        item = shlex.quote(f"{pred.id}:{text}")
        command_caption(f"locviz mutate protein.fasta --model {pred.model_name} --variants {item}"
                        + (" --combine" if combine else "")
                        + " --format csv --out variants.csv --attention variants-attention.csv", tables=2)  # fmt: skip


def run_comparison(
    predictor: Predictor, record: ProteinRecord, mode: str, text: str, combine: bool, pred: Prediction
) -> list[whatif.VariantComparison] | str:
    """One comparison per mutant (the wild type predicted once), or the message saying why the input was refused."""
    try:
        if mode == VARIANTS_MODE:
            wild = pred if pred.organism == "any" else None  # the tools compare calls for any organism
            return whatif.compare_mutants(predictor, record, text, combine=combine, wild_prediction=wild)
        parsed = parse(text, max_records=1)
        if not parsed.records:
            return str(parsed.errors[0]) if parsed.errors else "Paste a second sequence first (raw or FASTA)."
        other = parsed.records[0]
        if other.id == record.id:
            other = dataclasses.replace(other, id=f"{other.id}-2")
        return [whatif.compare(predictor, record, other)]
    except LocvizError as exc:
        return f"{exc}."


def show_comparison(comparison: whatif.VariantComparison, pred: Prediction) -> None:
    wild, mutant = comparison.wild, comparison.mutant
    c1, c2, c3 = st.columns(3)
    c1.metric("Wild type", display_name(wild.label), f"p = {wild.confidence:.1%}", delta_color="off",
              delta_arrow="off")  # fmt: skip
    c2.metric(f"Variant ({comparison.label})", display_name(mutant.label), f"p = {mutant.confidence:.1%}",
              delta_color="off", delta_arrow="off")  # fmt: skip
    top = int(np.argmax(np.abs(comparison.delta)))
    c3.metric("Largest change", display_name(comparison.classes[top]), f"{comparison.delta[top]:+.3f}")
    st.caption(
        f"{len(comparison.changed)} wild-type residue{'s' if len(comparison.changed) != 1 else ''} changed or "
        f"deleted, {sum(len(r) for _, r, _ in comparison.insertions)} inserted; "
        + ("call unchanged." if wild.label == mutant.label else "**the call changes.**")
    )
    frame = pd.DataFrame({
        "compartment": [display_name(c) for c in comparison.classes],
        "wild type": 100 * np.asarray(wild.probabilities),
        "variant": 100 * np.asarray(mutant.probabilities),
        "Δ (points)": 100 * comparison.delta,
    }).sort_values("Δ (points)", key=np.abs, ascending=False)  # fmt: skip
    left, right = st.columns([1, 1])
    with left:
        fig = charts.cached_figure("whatif-cmp", (comparison.label, wild.sequence, mutant.sequence, wild.model_name),
                               lambda: wf.comparison_probabilities(comparison))  # fmt: skip
        charts.chart(fig, pred, "variant-probabilities", "cmp")
    with right:
        st.dataframe(frame, hide_index=True, width="stretch", height=38 + 35 * len(frame), column_config={
            c: st.column_config.NumberColumn(c, format="%.1f %%") for c in ("wild type", "variant")
        } | {"Δ (points)": st.column_config.NumberColumn(format="%+.1f")})  # fmt: skip
    track = charts.cached_figure("whatif-datt", (comparison.label, wild.sequence, mutant.sequence, wild.model_name),
                             lambda: wf.delta_attention_track(comparison))  # fmt: skip
    charts.chart(track, pred, "variant-attention", "datt")
    with st.container(horizontal=True, gap="small"):
        downloads.table_download(
            "Δ per class (CSV)", lambda: whatif.comparison_table_bytes([comparison]),
            export_filename(pred.id, pred.model_name, "variant", "csv"), "cmp-csv",
        )  # fmt: skip
        downloads.table_download(
            "Δ attention per residue (CSV)", lambda: whatif.attention_change_table_bytes([comparison]),
            export_filename(pred.id, pred.model_name, "variant-attention", "csv"), "datt-csv",
        )  # fmt: skip


def show_comparisons(comparisons: list[whatif.VariantComparison], pred: Prediction) -> None:
    """Several mutants, each against the same wild type: their calls, Δ per class, and one's attention."""
    wild = comparisons[0].wild
    changed = [c.label for c in comparisons if c.mutant.label != wild.label]
    st.caption(
        f"{len(comparisons)} mutants, each predicted on its own beside the wild type (**{display_name(wild.label)}**, "
        f"p = {wild.confidence:.1%}); to see them together, join the changes with + or switch on **Combine**. "
        + (f"**The call changes for {', '.join(changed)}.**" if changed else "No mutant changes the call.")
    )
    rows = []
    for c in comparisons:
        top = int(np.argmax(np.abs(c.delta)))
        rows.append({"mutant": c.label, "call": display_name(c.mutant.label), "p(call)": 100 * c.mutant.confidence,
                     "call changes": "yes" if c.mutant.label != wild.label else "",
                     "largest change": display_name(c.classes[top]), "Δ (points)": 100 * c.delta[top]})  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "p(call)": st.column_config.NumberColumn(format="%.1f %%"),
        "Δ (points)": st.column_config.NumberColumn(format="%+.1f"),
    })  # fmt: skip
    key = tuple((c.label, c.mutant.sequence) for c in comparisons) + (wild.sequence, wild.model_name)
    fig = charts.cached_figure("whatif-cmp-many", key, lambda: wf.variants_probabilities(comparisons))
    charts.chart(fig, pred, "variants-probabilities", "cmp-many")
    deltas = pd.DataFrame({"compartment": [display_name(c) for c in wild.classes]}
                          | {c.label: 100 * c.delta for c in comparisons})  # fmt: skip
    st.markdown("**Δ per class (points), each mutant against the wild type**")
    number = {c.label: st.column_config.NumberColumn(format="%+.1f") for c in comparisons}
    st.dataframe(deltas, hide_index=True, width="stretch", column_config=number, height=38 + 35 * len(deltas))
    labels = [c.label for c in comparisons]
    chosen = st.selectbox("Where the attention moved, for", labels, key="variant_track_pick")
    comparison = comparisons[labels.index(chosen)]
    track_key = (comparison.label, wild.sequence, comparison.mutant.sequence, wild.model_name)
    track = charts.cached_figure("whatif-datt", track_key, lambda: wf.delta_attention_track(comparison))
    charts.chart(track, pred, "variant-attention", "datt")
    with st.container(horizontal=True, gap="small"):
        downloads.table_download(
            "Δ per class, every mutant (CSV)", lambda: whatif.comparison_table_bytes(comparisons),
            export_filename(pred.id, pred.model_name, "variants", "csv"), "cmp-csv",
        )  # fmt: skip
        downloads.table_download(
            "Δ attention per residue, every mutant (CSV)", lambda: whatif.attention_change_table_bytes(comparisons),
            export_filename(pred.id, pred.model_name, "variants-attention", "csv"), "datt-csv",
        )  # fmt: skip


# ------------------------------------------------------------------ attribution cross-check
def attribution_section(predictor: Predictor, record: ProteinRecord, pred: Prediction, device: str) -> None:
    n_windows = len(whatif.occlusion_windows(len(record.sequence), np.asarray(pred.seen, dtype=bool),
                                             whatif.OCCLUSION_WINDOW, whatif.OCCLUSION_STRIDE))  # fmt: skip
    st.caption(
        "Attention says where the model looked; occlusion (windows of "
        f"{whatif.OCCLUSION_WINDOW} residues replaced by X every {whatif.OCCLUSION_STRIDE} residues, "
        f"{n_windows} predictions) and gradient × input say what the probability rests on. Deletion curves replace "
        f"each method's top-k residues by X beside k random ones (k up to {whatif.DELETION_MAX_SHARE:.0%} of the "
        "residues seen): a method is faithful when, at the largest k, its top residues lower the probability by at "
        f"least {whatif.FAITHFUL_SHARE:.0%} of its wild-type value more than random ones."
    )
    c1, c2, c3 = st.columns([2, 1.4, 1.3], vertical_alignment="bottom")
    with c1:
        cls = sticky(st.selectbox, "Class scored", "attr_class", ("attr_class", pred.model_name, pred.sequence),
                     pred.label, options=pred.classes, format_func=display_name,
                     help="Occlusion, gradients and deletion curves score this class's probability "
                     "(attention is the same for every class). Default: the predicted class.")  # fmt: skip
    with c2:
        with_ig = sticky(st.toggle, "Integrated gradients too", "attr_ig", ("attr_ig",), False,
                         help=f"Sundararajan et al. 2017, {whatif.IG_STEPS} steps from an all-X protein: "
                         "slower than gradient × input.")  # fmt: skip
    with c3:
        pressed = st.button("Run the cross-check", type="primary", key="attr_run", width="stretch")
    key = result_key(pred, device, "attribution", cls, bool(with_ig))
    result = cached(key)
    if result is None and pressed:
        result = remember(key, run_attributions(predictor, record, pred, cls, bool(with_ig), n_windows))
    if result is None:
        st.info("Press **Run the cross-check** to compute occlusion, gradients and the deletion curves.")
        return
    attributions, curves = result
    for curve in curves:
        mark = ":material/check_circle:" if curve.faithful else ":material/cancel:"
        st.markdown(f"{mark} {curve.reading[0].upper()}{curve.reading[1:]}.")
    for a in attributions:
        if (note := a.completeness_note()) is not None:
            st.caption(note)
    tracks = charts.cached_figure("whatif-attr", key, lambda: wf.attribution_tracks(attributions))
    charts.chart(tracks, pred, f"attributions-{cls}", "attr")
    deletion = charts.cached_figure("whatif-del", key, lambda: wf.deletion_curve_figure(
        curves, pred.id, model_name=pred.model_name, organism=pred.organism))  # fmt: skip
    charts.chart(deletion, pred, f"deletion-curves-{cls}", "del")
    with st.container(horizontal=True, gap="small"):
        downloads.table_download(
            "Scores per residue (CSV)",
            lambda: whatif.attribution_table_bytes(attributions),
            export_filename(pred.id, pred.model_name, f"attributions-{cls}", "csv"),
            "attr-csv",
        )
        downloads.table_download(
            "Deletion curves (CSV)",
            lambda: whatif.deletion_table_bytes(curves, pred.id),
            export_filename(pred.id, pred.model_name, f"deletion-curves-{cls}", "csv"),
            "del-csv",
        )
    command_caption(f"locviz attribute protein.fasta --model {pred.model_name} --target {cls}"
                    + (" --integrated-gradients" if with_ig else "") + " --format csv --out scores.csv --curves "
                    "curves.csv", tables=2)  # fmt: skip


def run_attributions(
    predictor: Predictor, record: ProteinRecord, pred: Prediction, cls: str, with_ig: bool, n_windows: int
) -> tuple[list[whatif.Attribution], list[whatif.DeletionCurve]]:
    """:func:`locviz.whatif.cross_check` with a progress bar over the occlusion windows."""
    advance, bar = progress_counter(n_windows, "occlusion windows predicted")
    try:
        with st.spinner("Occlusion, then gradients and deletion curves…"):
            return whatif.cross_check(predictor, record, cls, integrated_gradients=with_ig, wild=pred,
                                      callback=advance)  # fmt: skip
    finally:
        bar.empty()


# ------------------------------------------------------------------ page
def main() -> None:
    settings = layout.sidebar_settings()
    st.title("What if — does the call change when the sequence does?")
    st.markdown(
        "Change the protein and predict again: **saturation mutagenesis** of a window, **variants** or an "
        "isoform side by side, and an **attribution cross-check** of the attention against occlusion and "
        "gradients. Every number is an ordinary prediction of a changed sequence, so Δ = p(changed) − p(original)."
    )
    if settings is None:
        return
    model_name, device = settings
    organism = evidence.organism_setting(model_name)  # the same sidebar selector as on Predict, kept across pages
    run = current_run(model_name, device)
    if run is None:
        empty_state()
        return
    index = pick_protein(run)
    pred, record = run.predictions[index], run.records[index]
    predictor = models.get_predictor(model_name, device)
    protein_header(pred, predictor, organism)
    # Tabs render lazily: only the open one is drawn, so a finished scan is not redrawn while comparing variants.
    scan_tab, variant_tab, attribution_tab = st.tabs(
        [SCAN_TAB, VARIANT_TAB, ATTRIBUTION_TAB], key="whatif_tab", on_change="rerun"
    )
    if scan_tab.open:
        with scan_tab:
            scan_section(predictor, record, pred, device)
    if variant_tab.open:
        with variant_tab:
            variant_section(predictor, record, pred, device)
    if attribution_tab.open:
        with attribution_tab:
            attribution_section(predictor, record, pred, device)


layout.guarded(main)
