"""How locviz shares the CPU: a thread policy and one forward pass at a time per machine.

Why: PyTorch's OpenMP threads spin while they wait for each other. The LSTM
synchronises its threads at every residue, so when a job's threads outnumber
the free cores (a second ``locviz predict`` beside the first, or any other
busy process) the spinning threads steal the time slices the working ones
need, and throughput falls ~10x (measured: 18 → 2 proteins/s with 2 threads on
2 busy cores; ``benchmarks/throughput.py``). Three measures, each documented
and each overridable:

1. ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it (``locviz/__init__.py``
   sets it before PyTorch loads OpenMP): waiting threads sleep instead of spin.
2. Threads: ``LOCVIZ_THREADS`` if set, else ``OMP_NUM_THREADS`` (PyTorch reads
   it itself), else PyTorch's default (one per core).
3. CPU forward passes of all locviz processes of one user take turns through a
   file lock (``$LOCVIZ_CPU_LOCK``, default ``<tmp>/locviz-cpu-<uid>.lock``;
   ``LOCVIZ_CPU_LOCK=0`` switches it off), so two jobs alternate whole batches
   with all cores instead of fighting over them. GPU passes never take it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from locviz.errors import InputError

THREADS_ENV = "LOCVIZ_THREADS"
LOCK_ENV = "LOCVIZ_CPU_LOCK"


def requested_threads() -> int | None:
    """``LOCVIZ_THREADS`` as a positive integer, or None when unset.

    Raises:
        InputError: the variable is set but not a whole number >= 1.
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"{THREADS_ENV} must be a whole number >= 1, got {text!r}")
    return int(text)


def apply_thread_policy() -> int:
    """Set PyTorch's intra-op threads from ``LOCVIZ_THREADS`` when given; returns the thread count in use."""
    wanted = requested_threads()
    if wanted is not None and torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return torch.get_num_threads()


def lock_path() -> Path | None:
    """The inter-process lock file, or None when switched off (``LOCVIZ_CPU_LOCK=0``) or unsupported."""
    setting = os.environ.get(LOCK_ENV, "").strip()
    if setting in ("0", "off", "false", "no"):
        return None
    try:
        import fcntl  # noqa: F401  (POSIX only)
    except ImportError:
        return None
    if setting:
        return Path(setting)
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"locviz-cpu-{uid}.lock"


class CpuTurns:
    """An inter-process lock around CPU forward passes (a no-op on GPU or when switched off).

    The file stays open for the life of the object; ``flock`` is released by the
    kernel if the process dies, so a crashed job never blocks the next one.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else lock_path()
        self._handle = None

    def _open(self):  # noqa: ANN202 - a file object
        if self._handle is None and self.path is not None:
            try:
                self._handle = open(self.path, "a+b")  # noqa: SIM115 - held open on purpose
            except OSError:
                self.path = None  # an unwritable temp folder must not stop a prediction
        return self._handle

    @contextmanager
    def turn(self, device: torch.device) -> Iterator[None]:
        handle = self._open() if device.type == "cpu" else None
        if handle is None:
            yield
            return
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_TURNS: CpuTurns | None = None


def turns() -> CpuTurns:
    """The process's shared :class:`CpuTurns` (created on first use, so the environment can be set before)."""
    global _TURNS
    if _TURNS is None:
        _TURNS = CpuTurns()
    return _TURNS
