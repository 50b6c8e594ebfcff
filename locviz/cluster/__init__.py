"""Proteome scale: ``locviz predict`` over a Dask cluster, partitioned, resumable, Parquet out.

The cluster path is a scheduler around the single-process pieces, not a second pipeline: each partition
is read by :mod:`locviz.sequences`, predicted by :func:`locviz.pipeline.predict_chunk` (the step
``locviz predict`` runs on every chunk) and written with :mod:`locviz.table`'s schema, so the merged table
equals the single process's.

Rooms, one job each:

- :mod:`~locviz.cluster.plan`: cut the input into byte ranges that start at a record (one streaming pass).
- :mod:`~locviz.cluster.worker`: the model loaded once per worker; one partition in, one part file out.
- :mod:`~locviz.cluster.manifest`: the out folder: run identity, finished partitions, ``errors.tsv``.
- :mod:`~locviz.cluster.duplicates`: names repeated across partitions, refused as the single process does.
- :mod:`~locviz.cluster.engine`: reach the cluster (``local:N``, ``tcp://``, ``slurm:N``), submit, record, report.
- :mod:`~locviz.cluster.merge`: ``locviz merge``, the parts as one table.
- :mod:`~locviz.cluster.spec`: the ``--cluster`` value.
- :mod:`~locviz.cluster.commands`: the command-line options and sub-command.

Example::

    from locviz.cluster import RunOptions, run
    summary = run(RunOptions("proteome.fasta", "scores/", model="deeploc", cluster="local:4"))
"""

from __future__ import annotations

from typing import Any

__all__ = ["Progress", "RunOptions", "RunSummary", "SlurmOptions", "run"]


def __getattr__(name: str) -> Any:
    """The engine's public names, imported on first use: ``locviz --help`` and text tables never import Dask.
    (The merge is :func:`locviz.cluster.merge.merge`.)"""
    if name not in __all__:
        raise AttributeError(f"module 'locviz.cluster' has no attribute {name!r}")
    from locviz.cluster import engine

    return getattr(engine, name)
