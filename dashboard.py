"""locviz app: the entry point. Declares the pages and runs the chosen one.

Run with ``python3 -m locviz app`` (or ``streamlit run dashboard.py``). Each
page is a short script in ``pages/``; the glue they share is
:mod:`locviz_app` (split by job: layout, inputs, runs, evidence, charts, downloads) and the science is
:mod:`locviz`.
"""

import streamlit as st

from locviz_app import layout, warmup

st.set_page_config(page_title="locviz", page_icon=":material/biotech:", layout="wide")
layout.page_style()  # labels and headline values wrap instead of being cut off
pages = [
    st.Page(path, title=title, icon=icon, default=(path == layout.PREDICT_PAGE)) for path, title, icon in layout.PAGES
]
try:
    st.navigation(pages).run()
finally:  # once per process, after the page is drawn: the first page never shares the CPU with the model's loading
    warmup.warm_up_in_background()
