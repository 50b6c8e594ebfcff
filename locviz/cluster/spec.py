"""The ``--cluster`` value: which Dask cluster a run uses (read here, started in :mod:`locviz.cluster.engine`)."""

from __future__ import annotations

from locviz.errors import InputError

SPEC_HELP = "local:N (N single-threaded workers here), tcp://HOST:PORT (a running scheduler) or slurm:N (N Slurm jobs)"


def parse_spec(spec: str) -> tuple[str, str | int]:
    """``local:N`` → ("local", N); ``tcp://HOST:PORT`` → ("tcp", address); ``slurm:N`` → ("slurm", N).

    Raises:
        InputError: anything else, with the three forms.
    """
    kind, _, value = spec.partition(":")
    if kind == "tcp" and value.startswith("//") and len(value) > 2:
        return "tcp", spec
    if kind in ("local", "slurm") and value.isdigit() and int(value) >= 1:
        return kind, int(value)
    raise InputError(f"--cluster {spec!r} is not a cluster; give {SPEC_HELP}")
