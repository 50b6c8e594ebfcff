"""Model card: what the model was trained on, how well it does, and how to reproduce it.

Everything here is read from the bundle's JSON card (``weights/NAME.json``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from locviz import figures
from locviz.encoding import LengthPolicy
from locviz_app import support as ui

METRIC_HELP = {
    "accuracy": "fraction of proteins whose predicted compartment is the annotated one",
    "gorodkin_mcc": "multi-class Matthews correlation (Gorodkin 2004): 1 perfect, 0 chance",
}


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


def data_section(card: dict) -> None:
    st.markdown("### Data")
    training = card.get("training") or []
    if not training:
        st.caption("The card records no training runs.")
        return
    rows = []
    for k, t in enumerate(training):
        rows.append(
            {
                "member": k,
                "data set": t.get("dataset", ""),
                "training folds": ", ".join(str(f) for f in t.get("train_folds", [])),
                "validation fold": t.get("validation_fold"),
                "training proteins": t.get("n_train"),
                "validation proteins": t.get("n_validation"),
                "best epoch": t.get("best_epoch"),
                "epochs run": t.get("epochs_run"),
                "validation accuracy": (t.get("validation") or {}).get("accuracy"),
                "minutes": round(t["seconds"] / 60, 1) if t.get("seconds") is not None else None,
                "hardware": t.get("hardware", ""),
            }
        )
    st.dataframe(
        pd.DataFrame(rows), hide_index=True, width="stretch",
        column_config={"validation accuracy": st.column_config.NumberColumn(format="%.3f")},
    )  # fmt: skip
    with st.expander("Data files (sha256, as used for training)"):
        files = training[0].get("data_files_sha256") or {}
        st.dataframe(pd.DataFrame({"file": list(files), "sha256": list(files.values())}), hide_index=True,
                     width="stretch")  # fmt: skip


def metrics_section(card: dict, model_name: str) -> None:
    st.markdown("### Metrics")
    metrics = card.get("metrics") or {}
    if not metrics:
        st.info("The card holds no evaluation yet. Evaluate with `locviz evaluate --model ... --update-card KEY`.")
        return
    summary = pd.DataFrame(
        [
            {
                "evaluation": key,
                "data set": r.get("dataset", ""),
                "folds": ", ".join(str(f) for f in r.get("folds", []) or []),
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
        fig = ui.cached_figure("confusion", (model_name, key, str(metrics[key].get("n"))),
                               lambda: figures.confusion_heatmap(metrics[key], model_name))  # fmt: skip
        st.plotly_chart(fig, width="content", key="confusion-chart", theme=None)
        ui.figure_downloads(fig, key, model_name, "confusion-matrix", "confusion")


def reproduce_section(card: dict) -> None:
    st.markdown("### How to reproduce")
    lines = []
    for k, t in enumerate(card.get("training") or []):
        if t.get("command"):
            lines.append(f"# member {k}\n{t['command']}")
    if card.get("ensemble_command"):
        lines.append(f"# merge the members into one bundle\n{card['ensemble_command']}")
    for key, r in (card.get("metrics") or {}).items():
        if r.get("command"):
            lines.append(f"# evaluation '{key}'\n{r['command']}")
    if card.get("motifs_command"):
        lines.append(f"# filter logos for the app\n{card['motifs_command']}")
    if lines:
        st.code("\n\n".join(lines), language="bash", wrap_lines=True)
    else:
        st.caption("The card records no commands.")
    if card.get("provenance"):
        st.caption(card["provenance"])


def main() -> None:
    settings = ui.sidebar_settings()
    if settings is None:
        st.title("Model card")
        return
    model_name, device = settings
    bundle = ui.get_predictor(model_name, device).bundle
    card = bundle.card
    st.title(f"Model card: {model_name}")
    if card.get("note"):
        st.warning(card["note"])
    config = bundle.config
    n_params = sum(p.numel() for p in bundle.model.parameters())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Compartments", len(bundle.classes))
    c2.metric("Ensemble members", int(card.get("members", 1)))
    c3.metric("Parameters", f"{n_params / 1e6:.2f} M")
    test = next((r for k, r in (card.get("metrics") or {}).items() if "test" in k), None)
    if test is not None:
        c4.metric("Test accuracy", f"{test['accuracy']:.3f}", help=describe_metrics_key("test", test))
    st.markdown(
        f"**Classes:** {', '.join(c.replace('_', ' ') for c in bundle.classes)}  \n"
        f"**Architecture:** ConvLSTM — convolution filters of widths {', '.join(map(str, config.conv_widths))} "
        f"({config.filters_per_width} each)"
        + (f", second convolution {config.conv2_channels} channels" if config.conv2_channels else "")
        + f", BiLSTM {config.lstm_hidden} per direction, attention, dense {config.dense_hidden}.  \n"
        f"**Input encoding:** {card.get('encoding', config.encoding)}.  \n"
        f"**Long proteins:** {LengthPolicy.from_dict(card['length_policy']).describe()}.  \n"
        f"**Weights:** `{card.get('weights_file')}` (sha256 `{card.get('weights_sha256', '')[:16]}…`), "
        f"filters shown in the app from member {card.get('motif_member', 0)}."
    )
    data_section(card)
    metrics_section(card, model_name)
    st.markdown("### Training curves")
    curves = ui.cached_figure("curves", (model_name, card.get("weights_sha256")),
                              lambda: figures.training_curves(card, model_name))  # fmt: skip
    st.plotly_chart(curves, width="stretch", key="curves-chart", theme=None)
    ui.figure_downloads(curves, "training", model_name, "training-curves", "curves")
    reproduce_section(card)
    ui.table_download(
        "Model card (JSON)", lambda: bundle.card_path.read_bytes(), bundle.card_path.name, "card-json"
    )


ui.guarded(main)
