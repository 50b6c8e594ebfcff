"""Model card: what the model was trained on, how well it does, and how to reproduce it.

Everything here is read from the bundle's typed card (:class:`locviz.card.ModelCard`,
``weights/NAME.json``); class ids are shown by their display names ("plasma membrane").
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from locviz import figures
from locviz.calibration import OBJECTIVE_TEXT, no_ensemble_temperature
from locviz.card import DATA_VARIABLE, ModelCard, portable_command, recipe_text
from locviz.errors import InputError
from locviz.organisms import ORGANISM_DESCRIPTIONS, ORGANISMS, allowed_classes
from locviz_app import charts, downloads, layout, models

METRIC_HELP = {
    "accuracy": "fraction of proteins whose predicted compartment is the annotated one",
    "gorodkin_mcc": "multi-class Matthews correlation (Gorodkin 2004): 1 perfect, 0 chance",
    "ece": "expected calibration error of the top-class probability (15 equal-width bins): 0 is perfect",
}
# Where the data sets sit as seen from the repository root (see the README); the commands take it as $DATA.
DATA_DEFAULT = "../shared/data"


def describe_metrics_key(key: str, report: dict) -> str:
    """Human label of one metrics entry: key, data set, folds, member."""
    parts = [key]
    if report.get("dataset"):
        parts.append(report["dataset"])
    if report.get("folds") is not None:
        parts.append("folds " + ", ".join(str(f) for f in report["folds"]))
    if report.get("member") is not None:
        parts.append(f"member {report['member']}")
    return " · ".join(parts)


def overview(card: ModelCard, n_params: int) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Compartments", len(card.classes))
    c2.metric("Ensemble members", card.members)
    c3.metric("Parameters", f"{n_params / 1e6:.2f} M")
    test = card.test_metrics()
    if test is not None:
        c4.metric("Test accuracy", f"{test[1]['accuracy']:.3f}", help=describe_metrics_key(*test))
    config = card.model
    st.markdown(
        f"**Classes:** {', '.join(card.display_names)}  \n"
        f"**Architecture:** ConvLSTM — convolution filters of widths {', '.join(map(str, config.conv_widths))} "
        f"({config.filters_per_width} each)"
        + (f", second convolution {config.conv2_channels} channels" if config.conv2_channels else "")
        + f", BiLSTM {config.lstm_hidden} per direction, attention, dense {config.dense_hidden}.  \n"
        f"**Input encoding:** {config.encoding}.  \n"
        f"**Long proteins:** {card.length_policy.describe()}.  \n"
        f"**Weights:** `{card.weights_file}` (sha256 `{card.weights_sha256[:16]}…`), "
        f"filters shown in the app from member {card.motif_member}."
    )


def data_section(card: ModelCard) -> None:
    st.markdown("### Data")
    if not card.training:
        st.caption("The card records no training runs.")
        return
    rows = [
        {
            "member": k,
            "data set": t.dataset,
            "training folds": ", ".join(str(f) for f in t.train_folds),
            "validation fold": t.validation_fold,
            "training proteins": t.n_train,
            "validation proteins": t.n_validation,
            "best epoch": t.best_epoch,
            "epochs run": t.epochs_run,
            "validation accuracy": t.validation.get("accuracy"),
            "minutes": round(t.seconds / 60, 1) if t.seconds is not None else None,
            "hardware": t.hardware,
        }
        for k, t in enumerate(card.training)
    ]
    st.dataframe(
        pd.DataFrame(rows), hide_index=True, width="stretch",
        column_config={"validation accuracy": st.column_config.NumberColumn(format="%.3f")},
    )  # fmt: skip
    recipes: dict[str, list[int]] = {}
    for k, t in enumerate(card.training):
        recipes.setdefault(recipe_text(t.train_config), []).append(k)
    st.markdown("**How each member was trained:**  \n" + "  \n".join(
        f"member{'s' if len(ks) > 1 else ''} {', '.join(map(str, ks))}: {text}" for text, ks in recipes.items()))
    files = card.training[0].data_files_sha256
    if files:
        with st.expander("Data files (sha256, as used for training)"):
            st.dataframe(pd.DataFrame({"file": list(files), "sha256": list(files.values())}), hide_index=True,
                         width="stretch")  # fmt: skip


def metrics_section(card: ModelCard, model_name: str) -> None:
    st.markdown("### Metrics")
    metrics = card.metrics
    if not metrics:
        st.info("The card holds no evaluation yet. Evaluate with `locviz evaluate --model ... --update-card KEY`.")
        return
    summary = pd.DataFrame(
        [
            {
                "evaluation": key,
                "data set": r.get("dataset", ""),
                "folds": ", ".join(str(f) for f in r.get("folds") or []),
                "proteins": r.get("n"),
                "accuracy": r.get("accuracy"),
                "Gorodkin MCC": r.get("gorodkin_mcc"),
                "member": "ensemble" if r.get("member") is None else r.get("member"),
            }
            for key, r in metrics.items()
        ]
    )
    st.dataframe(
        summary, hide_index=True, width="stretch",
        column_config={"accuracy": st.column_config.NumberColumn(format="%.3f", help=METRIC_HELP["accuracy"]),
                       "Gorodkin MCC": st.column_config.NumberColumn(format="%.3f", help=METRIC_HELP["gorodkin_mcc"])},
    )  # fmt: skip
    per_class = pd.DataFrame({key: r.get("per_class_mcc", {}) for key, r in metrics.items()})
    if not per_class.empty:
        st.markdown("**Per-class MCC** (one class against the rest; columns: evaluations above)")
        per_class.index = [card.display_name(c) for c in per_class.index]
        per_class = per_class.rename_axis("compartment").reset_index()
        values = [c for c in per_class.columns if c != "compartment"]
        styled = per_class.style.format("{:.3f}", subset=values).background_gradient(
            cmap="Blues", vmin=0, vmax=1, subset=values
        )
        st.dataframe(styled, hide_index=True, width="stretch", height=38 + 35 * len(per_class))
    keys = [k for k, r in metrics.items() if r.get("confusion_matrix")]
    if keys:
        key = st.selectbox("Confusion matrix of", keys, key="confusion_key",
                           format_func=lambda k: describe_metrics_key(k, metrics[k]))  # fmt: skip
        fig = charts.cached_figure("confusion", (model_name, key, str(metrics[key].get("n"))),
                               lambda: figures.confusion_heatmap(metrics[key], model_name))  # fmt: skip
        st.plotly_chart(fig, width="content", key="confusion-chart", theme=None)
        downloads.figure_downloads(fig, key, model_name, "confusion-matrix", "confusion")


def calibration_section(card: ModelCard, model_name: str) -> None:
    """ECE before/after and the reliability diagram, when the card has a calibration section."""
    calibration = card.calibration
    if calibration is None:
        return
    st.markdown("### Calibration")
    m = calibration.metrics
    c1, c2, c3 = st.columns(3)
    # member-level figures say so: no fold is out of sample for the whole ensemble unless one was set aside
    single = card.calibrated_as_one_network  # a fast student: nothing is averaged
    before, after = (("ECE, raw", "ECE, calibrated") if single
                     else ("Members' ECE, raw", "Members' ECE, calibrated") if calibration.member_temperatures
                     else ("ECE before", "ECE after"))  # fmt: skip
    if m.get("ece_before") is not None:
        c1.metric(before, f"{m['ece_before']:.3f}", help=METRIC_HELP["ece"])
    if m.get("ece_after") is not None:
        delta = f"{m['ece_after'] - m['ece_before']:+.3f}" if m.get("ece_before") is not None else None
        c2.metric(after, f"{m['ece_after']:.3f}", delta=delta, delta_color="inverse", help=METRIC_HELP["ece"])
    if single:
        c3.metric("Temperature", f"{calibration.member_temperatures[0]:.3g}",
                  help="probabilities are softmax(logits / T); T > 1 softens over-confident calls, T < 1 sharpens "
                  "under-confident ones")  # fmt: skip
    elif calibration.method == "temperature":
        c3.metric("Temperature", f"{calibration.temperature:.3g}",
                  help="probabilities are softmax(logits / T); T > 1 softens over-confident calls")  # fmt: skip
    elif calibration.member_temperatures:
        temps = ", ".join(f"{t:.2f}" for t in calibration.member_temperatures)
        c3.metric("Ensemble temperature", f"{calibration.temperature:.3g}",
                  help=f"each member's logits are divided by its own temperature ({temps}) before averaging; the "
                  "average is then scaled by the ensemble temperature (1 when no fold was free of every "
                  "member)")  # fmt: skip
    ensemble = m.get("ensemble") or {}
    if ensemble.get("fitted"):
        st.caption(f"Ensemble: {ensemble['measured_on']}. ECE of the plain average {ensemble['ece_raw_average']:.3f}, "
                   f"calibrated {ensemble['ece_after']:.3f} ({ensemble['n']} proteins).")  # fmt: skip
    elif single:  # from the card's shape, not the stored words (cards calibrated before this said "ensemble")
        why = no_ensemble_temperature(1)
        st.caption(f"{why[0].upper()}{why[1:]}.")
    elif ensemble.get("why"):
        st.caption(f"Ensemble temperature not fitted: {ensemble['why']}.")
    what = f"**Method:** {calibration.method}"
    if calibration.fitted_on:
        what += f"; fitted on {calibration.fitted_on}"
    if m.get("n") and "proteins" not in calibration.fitted_on:  # newer sections name the count themselves
        what += f" ({m['n']} proteins)"
    if "temperature_objective" not in m:  # sections written before the objective was recorded: fitted by NLL
        what += f"; temperatures fitted {OBJECTIVE_TEXT['nll']}"
    st.markdown(what + ".")
    if m.get("measured_on"):
        st.caption(f"Measured on {m['measured_on']}.")
    if calibration.reliability("before") or calibration.reliability("after"):
        fig = charts.cached_figure("reliability", (model_name, card.weights_sha256, repr(calibration)),
                               lambda: figures.reliability_diagram(card))  # fmt: skip
        st.plotly_chart(fig, width="content", key="reliability-chart", theme=None)
        downloads.figure_downloads(fig, "calibration", model_name, "reliability", "reliability")
    else:
        st.caption("The calibration section holds no reliability table, so there is no diagram to draw.")


def reference_section(card: ModelCard) -> None:
    """The shipped reference set of annotated proteins, when the card has one."""
    reference = card.reference
    if reference is None:
        return
    st.markdown("### Reference set (nearest annotated proteins)")
    sources = "; ".join(reference.sources) or "not recorded"
    st.markdown(
        f"**{reference.n_proteins:,} proteins** with a known location, from {sources}.  \n"
        f"**File:** `{reference.file}`" + (f" (sha256 `{reference.sha256[:16]}…`)" if reference.sha256 else "")
    )
    if reference.combination:
        with st.expander("How the model and the nearest hit are combined"):
            st.json(reference.combination)


def organisms_section(card: ModelCard) -> None:
    """Which compartments each organism choice allows (the organism switch of Predict and ``--organism``)."""
    st.markdown("### Compartments per organism")
    try:
        allowed = {o: set(allowed_classes(card.classes, o)) for o in ORGANISMS}
    except InputError as exc:  # a custom class set the organism switch has no biology for
        st.caption(f"Only 'any' applies to this model: {exc}")
        return
    frame = pd.DataFrame(
        {"compartment": list(card.display_names)}
        | {o: ["✓" if c in allowed[o] else "—" for c in card.classes] for o in ORGANISMS}
    )
    st.dataframe(frame, hide_index=True, width="content", height=38 + 35 * len(frame),  # every row, none cut
                 column_config={"compartment": st.column_config.TextColumn(width="medium")}
                 | {o: st.column_config.TextColumn(o, help=ORGANISM_DESCRIPTIONS[o]) for o in ORGANISMS})  # fmt: skip
    st.caption("With an organism chosen, compartments marked — get probability 0 (a lytic compartment's goes to its "
               "counterpart, lysosome ↔ vacuole) and the rest are renormalised.")


def reproduce_section(card: ModelCard) -> None:
    st.markdown("### How to reproduce")
    steps = card.commands()
    if not steps:
        st.caption("The card records no commands.")
    else:
        lines = [
            f"# {DATA_VARIABLE}: the folder holding multiloc/ and deeploc/ ({DATA_DEFAULT} seen from the "
            "repository root)\n"
            f"{DATA_VARIABLE}={DATA_DEFAULT}"
        ]
        lines += [f"# {what}\n{portable_command(command)}" for what, command in steps]
        st.code("\n\n".join(lines), language="bash", wrap_lines=True)
        with st.expander("Commands as recorded (paths as on the machine that ran them)"):
            st.code("\n\n".join(f"# {what}\n{command}" for what, command in steps), language="bash",
                    wrap_lines=True)  # fmt: skip
    if card.provenance:
        st.caption(card.provenance)


def main() -> None:
    settings = layout.sidebar_settings()
    if settings is None:
        st.title("Model card")
        return
    model_name, device = settings
    bundle = models.get_predictor(model_name, device).bundle
    card = bundle.card
    st.title(f"Model card: {model_name}")
    if card.note:
        st.warning(layout.escape_markdown(card.note))
    overview(card, sum(p.numel() for p in bundle.model.parameters()))
    data_section(card)
    metrics_section(card, model_name)
    calibration_section(card, model_name)
    reference_section(card)
    organisms_section(card)
    st.markdown("### Training curves")
    curves = charts.cached_figure("curves", (model_name, card.weights_sha256),
                              lambda: figures.training_curves(card, model_name))  # fmt: skip
    st.plotly_chart(curves, width="stretch", key="curves-chart", theme=None)
    downloads.figure_downloads(curves, "training", model_name, "training-curves", "curves")
    reproduce_section(card)
    downloads.table_download(
        "Model card (JSON)", lambda: bundle.card_path.read_bytes(), bundle.card_path.name, "card-json"
    )


layout.guarded(main)
