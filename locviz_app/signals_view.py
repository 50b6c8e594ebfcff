"""The known-signal track of the Predict page: rule-based sorting signals under the attention, and conflicts.

Glue only: :func:`locviz.signals.find_signals` finds the signals (documented, cited rules, not a
trained model), :func:`locviz.whatif_figures.signal_track` draws them, and every sentence of
:func:`locviz.signals.disagreements` (the call contradicts a signal) becomes a warning.
"""

from __future__ import annotations

import streamlit as st

from locviz.prediction import Prediction
from locviz.signals import KINDS, Signal, disagreements, find_signals
from locviz.whatif_figures import KIND_NAMES, signal_track
from locviz_app import charts
from locviz_app.layout import escape_markdown


def _name(signal: Signal) -> str:
    kind = KIND_NAMES.get(signal.kind, signal.kind)
    return kind if signal.label.lower() == kind.lower() else f"{kind} {signal.label}"


def signals_summary(signals: list[Signal]) -> str:
    """One caption line: what the rules found, with positions (1-based), or that nothing matched."""
    if not signals:
        rules = ", ".join(KIND_NAMES[k] for k in KINDS)
        return f"Known sorting signals: none of the rules ({rules}) matched this protein."
    found = ", ".join(f"{_name(s)} ({s.start}-{s.end})" for s in signals[:8])
    more = f" and {len(signals) - 8} more" if len(signals) > 8 else ""
    return (f"Known sorting signals found by textbook rules (not a trained model; `locviz.signals` gives each "
            f"rule and its paper): {found}{more}. Hover a bar for what the rule saw.")  # fmt: skip


def signal_section(pred: Prediction) -> None:
    """The signal track with its downloads, a caption naming each hit, and one warning per disagreement."""
    key = (pred.model_name, pred.id, pred.sequence)
    signals = find_signals(pred.sequence)  # about a millisecond per 1,000 residues
    fig = charts.cached_figure("signal-track", key, lambda: signal_track(signals, pred.length, pred.id, pred.seen))
    charts.chart(fig, pred, "known-signals", "signals")
    st.caption(signals_summary(signals))
    for sentence in disagreements(pred, signals):
        st.warning(escape_markdown(sentence[0].upper() + sentence[1:] + "."), icon=":material/warning:")
