"""The Streamlit app's shared glue, one module per job, and the server harness.

- :mod:`~locviz_app.layout`: the page list, the error boundary, the sidebar's pickers;
- :mod:`~locviz_app.models`: the predictor, motifs and reference set, loaded once per process;
- :mod:`~locviz_app.warmup`: the default model loaded and warmed in the background at start;
- :mod:`~locviz_app.inputs`: the input limits, uploads, the parser's errors;
- :mod:`~locviz_app.runs`: one press of Predict, cached per session;
- :mod:`~locviz_app.evidence`: organism restriction, known locations, homology hits, the support verdict;
- :mod:`~locviz_app.charts` and :mod:`~locviz_app.downloads`: figures on the page and the files behind the buttons;
- :mod:`~locviz_app.signals_view`: the known-signal track; :mod:`~locviz_app.server`: the app run for tests.

Kept out of :mod:`locviz` so the science package never imports Streamlit; kept
in a package so pages, tests and benchmarks import it without path edits.
"""
