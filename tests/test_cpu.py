"""CPU sharing: the thread policy and the per-core lock files that divide the cores between locviz jobs."""

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


def test_the_slots_can_be_switched_off_or_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LOCVIZ_CPU_LOCK", "0")
    assert cpu.lock_path() is None
    monkeypatch.setenv("LOCVIZ_CPU_LOCK", str(tmp_path / "slots"))
    assert cpu.lock_path() == tmp_path / "slots"
    monkeypatch.delenv("LOCVIZ_CPU_LOCK")
    assert cpu.lock_path().name.startswith("locviz-cpu-")


def test_a_pass_takes_free_cores_and_runs_with_that_many_threads(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        turns = cpu.CpuTurns(tmp_path, cores=2)
        slots = [tmp_path / "core-0.lock", tmp_path / "core-1.lock"]
        with turns.turn(torch.device("cpu")):  # alone: both cores, two threads
            assert [other_process_sees(p) for p in slots] == ["busy", "busy"]
            assert torch.get_num_threads() == 2
        assert [other_process_sees(p) for p in slots] == ["free", "free"]
        with open(slots[0], "a+b") as other:  # another job holds core 0: this pass gets core 1 and one thread
            import fcntl

            fcntl.flock(other.fileno(), fcntl.LOCK_EX)
            with turns.turn(torch.device("cpu")):
                assert torch.get_num_threads() == 1
                assert other_process_sees(slots[1]) == "busy"
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        with turns.turn(torch.device("cuda")):  # no slot taken for a GPU pass (the device need not exist)
            assert [other_process_sees(p) for p in slots] == ["free", "free"]
    finally:
        torch.set_num_threads(before)


def test_an_unwritable_lock_folder_does_not_stop_prediction(tmp_path: Path) -> None:
    (tmp_path / "a file").write_text("")
    turns = cpu.CpuTurns(tmp_path / "a file" / "slots")
    with turns.turn(torch.device("cpu")):
        pass
    assert turns._handles == []
