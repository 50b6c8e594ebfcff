"""Filter motifs: what every first-layer convolution filter learnt, as a sequence logo.

Logos come from the precomputed ``NAME.motifs.npz`` next to the model card (no
data set at run time): top windows with low-complexity stretches masked, a
composition-only flag and known-motif matches are all computed there. Logos are
drawn on one scale (same bits axis, same width per column) and a page of the
gallery is one PNG, cached per process with ``st.cache_data``, so the page draws
fast and reruns reuse every image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from locviz import export, figures, motifs
from locviz.card import display_name
from locviz.known_motifs import BY_NAME as KNOWN
from locviz.known_motifs import FDR, MIN_AGREEMENT
from locviz.motifs import (
    COMPOSITION_RULE,
    FilterMotif,
    MotifError,
    MotifSet,
    bundle_motifs_path,
    match_summary,
)
from locviz.regions import filter_hits
from locviz_app import charts, downloads, layout, models

LOGOS_PER_PAGE = 8
GALLERY_COLUMNS = 2
DETAIL_SCALE = 1.5
# How the logos' bits are counted (locviz.figures._information): a logo of 20 windows overstates its
# information against one of 1,000, so the captions say what was not corrected and draw what chance reaches.
LOGO_BITS = "Letter heights are bits against a uniform background (log2 20 = 4.32), no small-sample correction"
CHANCE_LINE = (f"the dashed line is what a column of as many random windows of the reference proteins reaches in "
               f"{motifs.CHANCE_QUANTILE:.0%} of draws (their composition and the small sample)")  # fmt: skip
ASSOCIATION = "class association (strongest class)"
EVIDENCE_SORT = "evidence: known motif first"
SORTS = {  # evidence first: by association alone, long hydrophobic composition logos fill the first rows
    EVIDENCE_SORT: "evidence",
    ASSOCIATION: "assoc",
    "information content (total bits)": "ic",
    "information content per position": "ic_per_position",
    "filter index": "index",
}
EVIDENCE_HELP = (
    "Order of the default sort: known signal (matches an NLS, KDEL/HDEL, PTS1 or presequence), hydrophobic "
    "stretch (matches only a TM helix or SP h-region), no known motif, composition-only, never fired; within "
    "each, strongest class association first."
)
SORT_COLUMN = {
    "evidence": "evidence", "assoc": "strongest z", "ic": "IC (bits)", "ic_per_position": "IC per position",
    "index": "filter",
}  # fmt: skip


# ------------------------------------------------------------------ cached drawing
def motifs_key(model_name: str, device: str) -> str:
    """File and mtime of the motifs file: part of every cache key, so a recomputed file redraws."""
    path = bundle_motifs_path(models.get_predictor(model_name, device).bundle)
    return f"{path}:{path.stat().st_mtime_ns}"


@st.cache_data(show_spinner=False, max_entries=500)
def logo_png(model_name: str, device: str, key: str, indices: tuple[int, ...], scale: float = 1.0) -> bytes:
    """PNG of one logo or a grid of logos (one image, one scale), drawn once per process."""
    del key  # cache key only
    motif_set = models.get_motifs(model_name, device)
    chosen = [motif_set.motifs[i] for i in indices]
    source = figures.motif_source(motif_set)  # an exported logo says whose filter it is
    fig = (figures.sequence_logo(chosen[0], source=source, motif_set=motif_set) if len(chosen) == 1
           else figures.logo_grid(chosen, GALLERY_COLUMNS, source=source, motif_set=motif_set))  # fmt: skip
    return export.figure_bytes(fig, "png", scale=scale)


def png_width(png: bytes) -> int:
    """Pixel width from a PNG header (IHDR)."""
    return int.from_bytes(png[16:20], "big")


# ------------------------------------------------------------------ table and order
DISPLAY_COLUMNS = {"strongest_class": "strongest class", "strongest_z": "strongest z", "known_motif": "known motif",
                   "ic_bits": "IC (bits)", "ic_per_position": "IC per position",
                   "columns_above_chance": "columns above chance", "best_window": "best window"}


def display_table(motif_set: MotifSet, sort_code: str) -> pd.DataFrame:
    """:func:`locviz.motifs.filter_table` in the page's words; the sorted-by column right after the filter number."""
    frame = pd.DataFrame(motifs.filter_table(motif_set))
    frame["strongest_class"] = [display_name(c) if c else "" for c in frame["strongest_class"]]
    frame["flags"] = [", ".join(m.flags) for m in sorted(motif_set.motifs, key=lambda m: m.index)]
    frame = frame.drop(columns="composition_only").rename(
        columns={**DISPLAY_COLUMNS, **{f"assoc_{c}": f"assoc. {display_name(c)}" for c in motif_set.classes}})
    first = sort_column(sort_code)
    return frame[["filter", *([first] if first != "filter" else []), *(c for c in frame if c not in ("filter", first))]]


def sort_column(code: str) -> str:
    return SORT_COLUMN.get(code) or f"assoc. {display_name(code.removeprefix('class:'))}"


def sort_choices(motif_set: MotifSet) -> dict[str, str]:
    by_class = {f"association with {display_name(c)}": f"class:{c}" for c in motif_set.classes}
    if not any(m.class_association for m in motif_set.motifs):  # no labels: nothing to sort by association
        return {k: v for k, v in SORTS.items() if v != "assoc"}
    return {**SORTS, **by_class}


# ------------------------------------------------------------------ one filter
def filter_detail(motif: FilterMotif, rank: int, total: int, how: str, model_name: str, device: str) -> None:
    """Logo, flags, known-motif matches, numbers, top windows, class association and hits in the current protein."""
    st.markdown(f"### Filter {motif.index} · width {motif.width}")
    st.caption(f"Rank {rank} of {total} by {how}.")
    motif_set = models.get_motifs(model_name, device)
    member, source = motif_set.member, figures.motif_source(motif_set)
    png = logo_png(model_name, device, motifs_key(model_name, device), (motif.index,), DETAIL_SCALE)
    st.image(png, width=int(png_width(png) / DETAIL_SCALE * 1.2))
    chance, above = motif_set.chance(motif), motif_set.columns_above_chance(motif)
    st.caption(f"{LOGO_BITS}; built from the {len(motif.top_windows)} windows where the filter fires most."
               + (f" The {chance.describe()}; {above} of the filter's {motif.width} "
                  f"column{'s' if motif.width > 1 else ''} carry more." if chance is not None and above is not None
                  else ""))  # fmt: skip
    with st.container(horizontal=True, gap="small"):
        downloads.figure_downloads(
            lambda: figures.sequence_logo(motif, source=source, motif_set=motif_set),
            f"filter{motif.index}", model_name, "logo", f"logo-{motif.index}",
        )  # fmt: skip
        downloads.table_download(
            "Logo matrix (CSV)", lambda: export.logo_csv(motif, motif_set),
            export.export_filename(f"filter{motif.index}", model_name, "logo", "csv"), f"logo-csv-{motif.index}",
        )  # fmt: skip
    notes(motif)
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
        if motif.class_association:  # plotly, as every other figure (st.bar_chart would import altair: ~1 s)
            st.caption("Class association (z-score; positive: fires more in that class)")
            bar = charts.cached_figure("filter-assoc", (model_name, motifs_key(model_name, device), motif.index),
                                   lambda: figures.filter_association_bar(motif, model_name, member))  # fmt: skip
            st.plotly_chart(bar, width="content", key=f"assoc-bar-{motif.index}", theme=None)
            downloads.figure_downloads(bar, f"filter{motif.index}", model_name, "class-association",
                                       f"assoc-bar-{motif.index}")  # fmt: skip
    known_matches(motif)
    if motif.top_windows:
        with st.expander(f"Top {len(motif.top_windows)} activating windows in the reference set"):
            columns = {"window": motif.top_windows, "activation": motif.top_activations}
            if motif.context_windows:
                columns["with neighbours"] = motif.context_windows
            st.dataframe(pd.DataFrame(columns), hide_index=True, width="stretch")
    current_protein_hits(motif, models.get_predictor(model_name, device).name)


def notes(motif: FilterMotif) -> None:
    """The composition flag and the width-1 context, said in words."""
    share = motif.low_complexity_share
    if motif.composition_only:
        lc = f" {share:.0%} of its strongest windows were low-complexity (masked)." if share == share else ""
        st.warning(f"**Composition-only filter**: it responds to residue composition, not to a positional motif.{lc}",
                   icon=":material/texture:")  # fmt: skip
    elif motif.composition_led:
        st.caption(f"Its residues make up most of its windows ({share:.0%} of the strongest were low-complexity), but "
                   f"its logo matches {motif.positional_match.name}, a known signal made of such residues: not "
                   "flagged composition-only.")  # fmt: skip
    elif share == share and share > 0:
        st.caption(f"{share:.0%} of its strongest windows were in low-complexity stretches and were masked.")
    if motif.width == 1:
        st.caption(
            "A width-1 filter sees one residue; its logo shows that residue (shaded) with the neighbours of its "
            "top windows, on the same scale as every other logo, so it is not read as a motif of its own."
        )


def known_matches(motif: FilterMotif) -> None:
    """Every known motif compared with this logo: r, p and where it aligns; reported matches first."""
    if not motif.matches:
        if motif.width > 1:
            st.caption("No known-motif comparison stored for this filter (recompute the motifs file).")
        return
    rows = []
    for m in motif.matches:
        first, last = m.window_positions(motif.width)
        known = KNOWN[m.name]
        rows.append({"known motif": m.name, "match": "yes" if m.significant else "", "r": m.score, "p": m.p_text,
                     "q": m.q_value, "columns agreeing": m.agreement, "window positions": f"{first}-{last}",
                     "pattern": known.consensus, "signal": known.title,
                     "where": f"{known.anchor}, {known.location}"})  # fmt: skip
    best = motif.best_match
    label = f"Known motifs: matches {best.name}" if best else "Known motifs: no match"
    with st.expander(label, expanded=best is not None):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                     column_config={"r": st.column_config.NumberColumn(format="%.2f"),
                                    "q": st.column_config.NumberColumn(format="%.2g"),
                                    "columns agreeing": st.column_config.NumberColumn(format="percent")})  # fmt: skip
        st.caption("The logo is slid along each known motif without gaps; r is the mean Pearson correlation of "
                   "the aligned residue columns, p the share of column-shuffled decoy logos scoring as high (up to "
                   "99,999 decoys), q the Benjamini-Hochberg value over every filter × motif comparison of the "
                   f"file. A match needs q ≤ {FDR:g}, r ≥ 0.5 and, in at least {MIN_AGREEMENT:.0%} of the columns, "
                   "the logo's commonest residue among those the pattern names. A filter sees windows, not their "
                   "place in the protein: a C-terminal signal matched here may sit anywhere in the proteins that "
                   "activate the filter.")  # fmt: skip


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
    st.caption(f"{pred.id} ({pred.length} aa, predicted {display_name(pred.label)}): top {len(hits)} non-overlapping "
               "windows; "
               f"peak activation here {peak:.2f}{reference}.")  # fmt: skip
    st.dataframe(
        pd.DataFrame(
            [(h.start, h.end, h.score, h.subsequence) for h in hits], columns=["start", "end", "activation", "window"]
        ),
        hide_index=True,
        width="stretch",
    )


# ------------------------------------------------------------------ gallery
@st.fragment
def gallery(order: list[int], model_name: str, device: str) -> None:
    """All logos, a page at a time, each page one image on one scale (drawn once per process, then cached)."""
    n_pages = max(1, -(-len(order) // LOGOS_PER_PAGE))
    page = st.pagination(n_pages, key="logo_page") if n_pages > 1 else 1
    chosen = order[(page - 1) * LOGOS_PER_PAGE : page * LOGOS_PER_PAGE]
    chance = f"; {CHANCE_LINE}" if models.get_motifs(model_name, device).background is not None else ""
    st.caption(f"Logos {(page - 1) * LOGOS_PER_PAGE + 1}–{(page - 1) * LOGOS_PER_PAGE + len(chosen)} of "
               f"{len(order)}, in the table's order. Every logo has the same bits axis (0–4.32) and the same width "
               "per column; width-1 filters are shown with their neighbours (their own column shaded); a bar under "
               f"the columns marks a known-motif match. {LOGO_BITS}{chance}.")  # fmt: skip
    png = logo_png(model_name, device, motifs_key(model_name, device), tuple(chosen))
    st.image(png, width=png_width(png))


# ------------------------------------------------------------------ page
def current_order(motif_set: MotifSet, choices: dict[str, str]) -> list[int]:
    """Filter indices in the order the sort and hide widgets ask for (hiding never leaves the list empty)."""
    order = motifs.sort_order(motif_set, choices[st.session_state["motif_sort"]])
    if st.session_state.get("motif_hide"):
        by_index = {m.index: m for m in motif_set.motifs}
        order = [i for i in order if not by_index[i].composition_only] or order
    return order


def pick_first(motif_set: MotifSet, choices: dict[str, str]) -> None:
    """After the sort or the filter set changes, open the filter at the top of the new order."""
    st.session_state["motif_pick"] = current_order(motif_set, choices)[0]


def main() -> None:
    settings = layout.sidebar_settings()
    st.title("Filter motifs")
    if settings is None:
        return
    model_name, device = settings
    predictor = models.get_predictor(model_name, device)
    try:
        motif_set = models.get_motifs(model_name, device)
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
    with st.expander("How the logos are made (masking, flags, known motifs, association)"):
        st.markdown(
            f"- **Low complexity**: {motif_set.masking_method or 'not masked in this file.'}\n"
            f"- **Composition-only flag**: {COMPOSITION_RULE}.\n"
            f"- **Known motifs**: {motif_set.match_method or 'not compared in this file.'}\n"
            f"- **Class association**: {motif_set.association_method or 'not computed (no labels).'}"
        )

    choices = sort_choices(motif_set)
    if st.session_state.get("motif_sort") not in choices:
        st.session_state["motif_sort"] = next(iter(choices))
    if "motif_filter" in st.session_state:  # sent from the Predict page's filter track: open it, even if hidden
        wanted = int(st.session_state.pop("motif_filter"))
        if 0 <= wanted < len(motif_set.motifs):
            st.session_state["motif_pick"] = wanted
            if motif_set.motifs[wanted].composition_only:
                st.session_state["motif_hide"] = False
    sort_col, hide_col = st.columns([3, 2], vertical_alignment="bottom")
    with sort_col:
        how = st.selectbox("Sort filters by", list(choices), key="motif_sort", on_change=pick_first,
                           args=(motif_set, choices), help=EVIDENCE_HELP)  # fmt: skip
    with hide_col:
        hide = st.toggle("Hide composition-only filters", key="motif_hide", on_change=pick_first,
                         args=(motif_set, choices),
                         help="Filters that respond to residue composition (poly-E, Ser-rich, hydrophobic runs) "
                              "rather than a positional motif.")  # fmt: skip
    code = choices[how]
    by_index = {m.index: m for m in motif_set.motifs}
    order = current_order(motif_set, choices)
    table = display_table(motif_set, code).set_index("filter").loc[order].reset_index()

    if st.session_state.get("motif_pick") not in order:
        st.session_state["motif_pick"] = order[0]

    table_key = f"motif_table_{code}_{hide}"  # a new sort starts a fresh selection (old row numbers mean nothing)

    def follow_table() -> None:
        rows = st.session_state[table_key].selection.rows
        if rows:
            st.session_state["motif_pick"] = int(table.iloc[int(rows[0])]["filter"])

    n_comp = sum(m.composition_only for m in motif_set.motifs)
    summary = match_summary(motif_set)
    st.markdown(f"#### {len(order)} filters, sorted by {how} — click a row (or pick below) to open one")
    matched = (f"{summary}" if motif_set.known_motifs_version >= 2 else "known-motif matches need the motifs file "
               "recomputed (no q-values in it)")  # fmt: skip
    st.caption(f"{matched[0].upper()}{matched[1:]}; {n_comp} are flagged composition-only. The sort column "
               f"({sort_column(code)}) is the second column.")  # fmt: skip
    number = {c: st.column_config.NumberColumn(format="%.2f") for c in table.columns
              if c.startswith("assoc.") or c in ("IC (bits)", "IC per position", "strongest z")}  # fmt: skip
    number["evidence"] = st.column_config.TextColumn(help=EVIDENCE_HELP)
    number["known motif"] = st.column_config.TextColumn(width="large")
    number["columns above chance"] = st.column_config.NumberColumn(
        help=f"Columns of the filter's own width whose bits exceed what {motifs.CHANCE_QUANTILE:.0%} of columns of "
        "as many random windows of the reference proteins reach (the dashed line on each logo)")
    st.dataframe(
        table, key=table_key, on_select=follow_table, selection_mode="single-row", hide_index=True,
        width="stretch", height=320, column_config=number,
    )  # fmt: skip
    downloads.table_download(
        "Filter table (CSV)", lambda: export.filter_table_csv(motif_set, order),
        export.export_filename("filters", model_name, "table", "csv"), "filter-table",
    )  # fmt: skip

    def label(i: int) -> str:
        m = by_index[i]
        strongest = m.strongest_association
        parts = [f"filter {i}", f"width {m.width}", m.consensus if m.top_windows else "never fired"]
        if strongest:
            parts.append(f"{display_name(strongest[0])} z {strongest[1]:+.2f}")
        if m.best_match:
            parts.append(f"like {m.best_match.name}")
        if m.composition_only:
            parts.append("composition")
        return " · ".join(parts)

    index = st.selectbox("Filter (follows the sort: the top filter opens when the order changes)", order,
                         key="motif_pick", format_func=label)  # fmt: skip
    filter_detail(by_index[index], order.index(index) + 1, len(order), how, model_name, device)

    st.divider()
    st.markdown("### All logos")
    gallery(order, model_name, device)

    with st.expander("Filter–class association, all filters (heatmap)"):
        if any(m.class_association for m in motif_set.motifs):
            heat = charts.cached_figure("assoc", (model_name, motifs_key(model_name, device)),
                                    lambda: figures.class_association_heatmap(motif_set))  # fmt: skip
            st.plotly_chart(heat, width="content", key="assoc-heatmap", theme=None)
            downloads.figure_downloads(heat, "filters", model_name, "class-association", "assoc")
        else:
            st.caption("This motifs file has no class association (computed without labels).")


layout.guarded(main)
