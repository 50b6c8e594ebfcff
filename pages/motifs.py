"""Filter motifs: what every first-layer convolution filter learnt, as a sequence logo.

Logos come from the precomputed ``NAME.motifs.npz`` next to the model card (no
data set at run time). PNGs of the logos are cached per process, and the
gallery is paginated and drawn in a fragment, so the page stays fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from locviz import export, figures
from locviz.card import display_name
from locviz.motifs import FilterMotif, MotifError, MotifSet
from locviz.regions import filter_hits
from locviz_app import support as ui

LOGOS_PER_PAGE = 12
GALLERY_COLUMNS = 2
DETAIL_SCALE = 1.5
SORTS = {  # total bits first: per position, every width-1 filter is a perfect (and trivial) single letter
    "information content (total bits)": "ic",
    "information content per position": "ic_per_position",
    "filter index": "index",
}


@st.cache_data(show_spinner=False, max_entries=2000)
def logo_png(model_name: str, device: str, motifs_key: str, index: int, scale: float = 1.0) -> bytes:
    """PNG of one filter's logo; ``motifs_key`` (file and mtime) makes a recomputed file redraw."""
    del motifs_key
    motif = ui.get_motifs(model_name, device).motifs[index]
    return export.figure_bytes(figures.sequence_logo(motif), "png", scale=scale)


def motifs_key(model_name: str, device: str) -> str:
    from locviz.motifs import bundle_motifs_path

    path = bundle_motifs_path(ui.get_predictor(model_name, device).bundle)
    return f"{path}:{path.stat().st_mtime_ns}"


def filter_table(motif_set: MotifSet) -> pd.DataFrame:
    """One row per filter: width, information content, consensus, best window, class association."""
    rows = []
    for m in motif_set.motifs:
        row = {
            "filter": m.index,
            "width": m.width,
            "IC (bits)": m.information_content,
            "IC per position": m.information_content / m.width,
            "consensus": m.consensus if m.top_windows else "",
            "windows": len(m.top_windows),
            "best window": m.top_windows[0] if m.top_windows else "",
        }
        if m.class_association:
            best = max(m.class_association, key=m.class_association.get)
            row["strongest class"] = best
        for c in motif_set.classes:
            row[f"assoc. {c}"] = m.class_association.get(c, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def sort_order(motif_set: MotifSet, how: str) -> list[int]:
    """Filter indices in the chosen order (highest first)."""
    motifs = motif_set.motifs
    if how == "index":
        return [m.index for m in motifs]
    if how == "ic":
        return [m.index for m in sorted(motifs, key=lambda m: -m.information_content)]
    if how == "ic_per_position":
        return [m.index for m in sorted(motifs, key=lambda m: -m.information_content / m.width)]
    cls = how.removeprefix("class:")
    return [m.index for m in sorted(motifs, key=lambda m: -m.class_association.get(cls, -np.inf))]


def png_width(png: bytes) -> int:
    """Pixel width from a PNG header (IHDR)."""
    return int.from_bytes(png[16:20], "big")


def filter_detail(motif: FilterMotif, model_name: str, device: str) -> None:
    """Logo, numbers, top windows, class association and hits in the current protein for one filter."""
    st.markdown(f"### Filter {motif.index} · width {motif.width}")
    png = logo_png(model_name, device, motifs_key(model_name, device), motif.index, DETAIL_SCALE)
    st.image(png, width=int(png_width(png) / DETAIL_SCALE * 1.2))
    with st.container(horizontal=True, gap="small"):
        ui.figure_downloads(
            lambda: figures.sequence_logo(motif), f"filter{motif.index}", model_name, "logo", f"logo-{motif.index}"
        )
        ui.table_download(
            "Logo matrix (CSV)", lambda: export.logo_csv(motif),
            export.export_filename(f"filter{motif.index}", model_name, "logo", "csv"), f"logo-csv-{motif.index}",
        )  # fmt: skip
    info_col, assoc_col = st.columns([2, 3])
    with info_col:
        c1, c2 = st.columns(2)
        c1.metric("Information content", f"{motif.information_content:.1f} bits")
        c2.metric("Windows in logo", len(motif.top_windows))
        if motif.top_windows:
            st.markdown(f"Consensus: `{motif.consensus}`")
        else:
            st.warning("This filter never fired (activation > 0) in the reference proteins; its logo is flat.")
    with assoc_col:
        if motif.class_association:
            assoc = pd.DataFrame(
                {"class": [display_name(c) for c in motif.class_association],
                 "association": list(motif.class_association.values())}
            ).sort_values("association", ascending=False)
            st.markdown("**Class association** (z-score; positive: fires more in that class)")
            st.bar_chart(assoc, x="class", y="association", horizontal=True, height=90 + 30 * len(assoc),
                         sort="-association")  # fmt: skip
    if motif.top_windows:
        with st.expander(f"Top {len(motif.top_windows)} activating windows in the reference set"):
            st.dataframe(
                pd.DataFrame({"window": motif.top_windows, "activation": motif.top_activations}),
                hide_index=True, width="stretch",
            )  # fmt: skip
    current_protein_hits(motif, ui.get_predictor(model_name, device).name)


def current_protein_hits(motif: FilterMotif, model_name: str) -> None:
    """Where this filter fires in the protein last predicted on the Predict page.

    ``model_name`` is the bundle's own name, as predictions carry it.
    """
    pred = st.session_state.get("prediction")
    st.markdown("#### In the current protein")
    if pred is None:
        st.caption("Predict a protein on the Predict page to see where this filter fires in it.")
        return
    if pred.model_name != model_name or pred.filter_activations is None:
        st.caption(f"The last prediction ({pred.id}) was made with model {pred.model_name}; predict it with "
                   f"{model_name} to see this filter in it.")  # fmt: skip
        return
    hits = filter_hits(pred, motif.index, motif.width, n=10)
    if not hits:
        st.caption(f"Filter {motif.index} does not fire (activation > 0) anywhere in {pred.id}.")
        return
    peak = np.nanmax(np.asarray(pred.filter_activations[motif.index], dtype=float))
    reference = f" (highest in the reference set: {motif.top_activations[0]:.2f})" if motif.top_activations else ""
    st.caption(f"{pred.id} ({pred.length} aa, predicted {pred.label}): top {len(hits)} non-overlapping windows; "
               f"peak activation here {peak:.2f}{reference}.")  # fmt: skip
    st.dataframe(
        pd.DataFrame(
            [(h.start, h.end, h.score, h.subsequence) for h in hits], columns=["start", "end", "activation", "window"]
        ), hide_index=True, width="stretch"
    )


@st.fragment
def gallery(motif_set: MotifSet, order: list[int], model_name: str, device: str) -> None:
    """All logos, a page at a time (drawn once per process, then served from cache)."""
    n_pages = max(1, -(-len(order) // LOGOS_PER_PAGE))
    page = st.pagination(n_pages, key="logo_page") if n_pages > 1 else 1
    key = motifs_key(model_name, device)
    chosen = order[(page - 1) * LOGOS_PER_PAGE : page * LOGOS_PER_PAGE]
    st.caption(f"Logos {(page - 1) * LOGOS_PER_PAGE + 1}–{(page - 1) * LOGOS_PER_PAGE + len(chosen)} of "
               f"{len(order)}, in the order of the table's sort choice.")  # fmt: skip
    cols = st.columns(GALLERY_COLUMNS)
    for k, index in enumerate(chosen):
        with cols[k % GALLERY_COLUMNS]:
            png = logo_png(model_name, device, key, index)
            st.image(png, width=png_width(png))  # natural size (narrow filters are not blown up)


def main() -> None:
    settings = ui.sidebar_settings()
    st.title("Filter motifs")
    if settings is None:
        return
    model_name, device = settings
    predictor = ui.get_predictor(model_name, device)
    try:
        motif_set = ui.get_motifs(model_name, device)
    except MotifError as exc:
        st.error(str(exc))
        return
    members = predictor.bundle.card.members
    st.markdown(
        f"Each first-layer convolution filter of **ensemble member {motif_set.member}** (of {members}) of model "
        f"**{model_name}** as a sequence logo: the residues of the windows where it fires most in the reference "
        "proteins, stacked by information content. Filters differ between ensemble members, so logos always "
        "come from this one member."
    )
    st.caption(f"Reference: {motif_set.reference or 'not recorded'}.")
    if motif_set.association_method:
        st.caption(f"Class association: {motif_set.association_method}")

    by_class = {f"association with {display_name(c)}": f"class:{c}" for c in motif_set.classes}
    sort_options = [*SORTS, *by_class]
    how = st.selectbox("Sort filters by", sort_options, key="motif_sort")
    code = SORTS.get(how) or by_class[how]
    order = sort_order(motif_set, code)

    table = filter_table(motif_set).set_index("filter").loc[order].reset_index()
    by_index = {m.index: m for m in motif_set.motifs}
    if "motif_filter" in st.session_state:  # sent from the Predict page's filter track
        wanted = int(st.session_state.pop("motif_filter"))
        if wanted in by_index:
            st.session_state["motif_pick"] = wanted
    if st.session_state.get("motif_pick") not in by_index:
        st.session_state["motif_pick"] = order[0]

    def follow_table() -> None:
        rows = st.session_state["motif_table"].selection.rows
        if rows:
            st.session_state["motif_pick"] = int(table.iloc[int(rows[0])]["filter"])

    st.markdown(f"#### All {len(motif_set.motifs)} filters — click a row (or pick below) to open one")
    assoc_cols = {c: st.column_config.NumberColumn(format="%.2f") for c in table.columns if c.startswith("assoc.")}
    st.dataframe(
        table, key="motif_table", on_select=follow_table, selection_mode="single-row", hide_index=True,
        width="stretch", height=320,
        column_config={"IC (bits)": st.column_config.NumberColumn(format="%.2f"),
                       "IC per position": st.column_config.NumberColumn(format="%.2f"), **assoc_cols},
    )  # fmt: skip
    ui.table_download(
        "Filter table (CSV)", lambda: table.to_csv(index=False).encode("utf-8"),
        export.export_filename("filters", model_name, "table", "csv"), "filter-table",
    )  # fmt: skip
    index = st.selectbox(
        "Filter", order, key="motif_pick",
        format_func=lambda i: f"filter {i} · width {by_index[i].width} · {by_index[i].information_content:.1f} bits"
        + (f" · {by_index[i].consensus}" if by_index[i].top_windows else " · never fired"),
    )  # fmt: skip
    filter_detail(by_index[index], model_name, device)

    st.divider()
    st.markdown("### All logos")
    gallery(motif_set, order, model_name, device)

    with st.expander("Filter–class association, all filters (heatmap)"):
        if any(m.class_association for m in motif_set.motifs):
            heat = ui.cached_figure("assoc", (model_name, motifs_key(model_name, device)),
                                    lambda: figures.class_association_heatmap(motif_set))  # fmt: skip
            st.plotly_chart(heat, width="content", key="assoc-heatmap", theme=None)
            ui.figure_downloads(heat, "filters", model_name, "class-association", "assoc")
        else:
            st.caption("This motifs file has no class association (computed without labels).")


ui.guarded(main)
