"""The Streamlit app's shared glue (caches, runs, downloads) and the server harness.

Kept out of :mod:`locviz` so the science package never imports Streamlit; kept
in a package so pages, tests and benchmarks import it without path edits.
"""
