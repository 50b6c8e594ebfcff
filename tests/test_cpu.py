"""CPU sharing: the thread policy and the lock that lets locviz processes take turns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from locviz import cpu
from locviz.errors import InputError

TRY_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a+b") as handle:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("busy")
    else:
        print("free")
"""


def other_process_sees(path: Path) -> str:
    return subprocess.run([sys.executable, "-c", TRY_LOCK, str(path)], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def test_locviz_threads_sets_torch_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("LOCVIZ_THREADS", "1")
        assert cpu.apply_thread_policy() == 1 == torch.get_num_threads()
        monkeypatch.delenv("LOCVIZ_THREADS")
        torch.set_num_threads(before)
        assert cpu.apply_thread_policy() == before  # unset: PyTorch's own choice stays
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_bad_thread_setting_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOCVIZ_THREADS", value)
    with pytest.raises(InputError, match=f"LOCVIZ_THREADS must be a whole number >= 1, got '{value}'"):
        cpu.apply_thread_policy()


def test_the_lock_can_be_switched_off_or_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCVIZ_CPU_LOCK", "0")
    assert cpu.lock_path() is None
    monkeypatch.setenv("LOCVIZ_CPU_LOCK", str(tmp_path / "mine.lock"))
    assert cpu.lock_path() == tmp_path / "mine.lock"
    monkeypatch.delenv("LOCVIZ_CPU_LOCK")
    assert cpu.lock_path().name.startswith("locviz-cpu-")


def test_cpu_passes_exclude_other_processes_gpu_passes_do_not(tmp_path: Path) -> None:
    path = tmp_path / "turns.lock"
    turns = cpu.CpuTurns(path)
    with turns.turn(torch.device("cpu")):
        assert other_process_sees(path) == "busy"
    assert other_process_sees(path) == "free"
    with turns.turn(torch.device("cuda")):  # no lock taken for a GPU pass (the device need not exist)
        assert other_process_sees(path) == "free"


def test_an_unwritable_lock_file_does_not_stop_prediction(tmp_path: Path) -> None:
    turns = cpu.CpuTurns(tmp_path / "no such folder" / "x.lock")
    with turns.turn(torch.device("cpu")):
        pass
    assert turns.path is None
