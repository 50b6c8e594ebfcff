"""How locviz shares the CPU between its own jobs: a thread policy and one lock file per core.

Why: PyTorch's OpenMP threads spin while they wait for each other, and the LSTM
synchronises them at every residue. When two jobs each run 2 threads on 2 cores,
the spinning threads steal the time slices the working ones need and both jobs
crawl (measured: two 400-protein jobs 4.5x the time of one; ``benchmarks/throughput.py``).
Making threads sleep instead (``OMP_WAIT_POLICY=PASSIVE``) cures that but halves a
job that runs alone (18.4 s instead of 8.5 s for the same 400 proteins), so it is
not used. Instead the cores are divided:

1. Threads: ``LOCVIZ_THREADS`` if set, else ``OMP_NUM_THREADS`` (PyTorch reads it
   itself), else PyTorch's default (one per core) — the most a job will use.
2. Core slots: one lock file per core (``$LOCVIZ_CPU_LOCK`` is their folder, default
   ``<tmp>/locviz-cpu-<uid>/``; ``LOCVIZ_CPU_LOCK=0`` switches them off). Each CPU
   forward pass takes every free slot up to its thread count (waiting for one when none
   is free) and runs with that many threads, so a job alone uses every core and two
   jobs get one core each instead of fighting over both. GPU passes take no slot. The
   kernel releases a dead job's slots.
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
    """The folder of the per-core lock files, or None when switched off (``LOCVIZ_CPU_LOCK=0``) or unsupported."""
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
    return Path(tempfile.gettempdir()) / f"locviz-cpu-{uid}"


class CpuTurns:
    """Per-core lock files around CPU forward passes (a no-op on GPU or when switched off).

    The files stay open for the life of the object; ``flock`` locks are released by the
    kernel if the process dies, so a crashed job never blocks the next one.
    """

    def __init__(self, path: Path | None = None, cores: int | None = None) -> None:
        self.path = path if path is not None else lock_path()
        self.cores = cores or os.cpu_count() or 1
        self.max_threads = torch.get_num_threads()  # what this job may use (after the thread policy)
        self._handles: list | None = None

    def _open(self) -> list:
        if self._handles is None:
            self._handles = []
            if self.path is not None:
                try:
                    self.path.mkdir(parents=True, exist_ok=True)
                    self._handles = [open(self.path / f"core-{k}.lock", "a+b") for k in range(self.cores)]  # noqa: SIM115
                except OSError:
                    self._handles = []  # an unwritable temp folder must not stop a prediction
        return self._handles

    @contextmanager
    def turn(self, device: torch.device) -> Iterator[None]:
        handles = self._open() if device.type == "cpu" else []
        if not handles:
            yield
            return
        import fcntl

        start = os.getpid() % len(handles)  # jobs start looking at different slots
        order = handles[start:] + handles[:start]
        held = []
        for handle in order:
            if len(held) == self.max_threads:
                break
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(handle)
            except BlockingIOError:
                continue
        if not held:  # every core busy with other locviz jobs: wait for one
            fcntl.flock(order[0].fileno(), fcntl.LOCK_EX)
            held.append(order[0])
        if torch.get_num_threads() != len(held):
            torch.set_num_threads(len(held))
        try:
            yield
        finally:
            for handle in held:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_TURNS: CpuTurns | None = None


def turns() -> CpuTurns:
    """The process's shared :class:`CpuTurns` (created on first use, after the thread policy is applied)."""
    global _TURNS
    if _TURNS is None:
        _TURNS = CpuTurns()
    return _TURNS
