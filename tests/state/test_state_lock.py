"""Locks: one writer per environment, the holder named, stale locks taken over, races won once."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlinfra.state.file import FileBackend
from mlinfra.state.lock import FileLock, LockHeld, LockInfo


def test_a_lock_is_a_file_naming_its_holder(tmp_path: Path) -> None:
    with FileBackend(tmp_path).lock("dev", "mlinfra apply") as lock:
        held = json.loads((tmp_path / "dev.lock").read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
        assert held["command"] == "mlinfra apply" and held["since"].endswith("+00:00")
        assert lock.taken_over is None
    assert not (tmp_path / "dev.lock").exists()


def test_a_second_locker_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    with backend.lock("dev", "mlinfra apply"):
        started = time.monotonic()
        with pytest.raises(LockHeld) as caught:
            backend.lock("dev", "mlinfra destroy").acquire()
        assert time.monotonic() - started < 1
    message = str(caught.value)
    assert f"process {os.getpid()} on {socket.gethostname()}" in message
    assert "`mlinfra apply`" in message and "since 20" in message
    assert caught.value.holder.command == "mlinfra apply"


def test_environments_lock_separately(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    with backend.lock("dev", "apply"), backend.lock("prod", "apply"):
        pass


def test_a_locker_waits_up_to_its_timeout(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    with backend.lock("dev", "apply"):
        started = time.monotonic()
        with pytest.raises(LockHeld, match="after waiting"):
            backend.lock("dev", "apply", timeout=0.3).acquire()
        assert 0.3 <= time.monotonic() - started < 2


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_whose_process_is_gone_is_taken_over_and_says_so(tmp_path: Path) -> None:
    gone = LockInfo(dead_pid(), socket.gethostname(), "2026-01-01T00:00:00+00:00", "apply", "x")
    (tmp_path / "dev.lock").write_text(json.dumps(gone.to_json()))
    with FileBackend(tmp_path).lock("dev", "apply") as lock:
        assert lock.taken_over == gone
        assert json.loads((tmp_path / "dev.lock").read_text())["pid"] == os.getpid()


def test_a_lock_held_on_another_host_is_never_stale(tmp_path: Path) -> None:
    other = LockInfo(dead_pid(), "some-other-host", "2026-01-01T00:00:00+00:00", "apply", "x")
    (tmp_path / "dev.lock").write_text(json.dumps(other.to_json()))
    with pytest.raises(LockHeld, match="on some-other-host"):
        FileBackend(tmp_path).lock("dev", "apply").acquire()


def test_releasing_leaves_a_lock_taken_over_by_someone_else(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "dev.lock", "apply")
    lock.acquire()
    (tmp_path / "dev.lock").unlink()
    other = FileLock(tmp_path / "dev.lock", "apply")
    other.acquire()
    lock.release()
    assert (tmp_path / "dev.lock").exists()
    other.release()


def _race(path: str, start, done, results) -> None:
    start.wait()
    lock = FileLock(path, "apply")
    try:
        lock.acquire()
    except LockHeld:
        results.put("held")
        return
    results.put("won")
    done.wait(10)  # keep holding until everyone has tried
    lock.release()


@pytest.mark.parametrize("stale", [False, True], ids=["free", "stale"])
def test_processes_racing_for_a_lock_let_exactly_one_win(tmp_path: Path, stale: bool) -> None:
    path = tmp_path / "dev.lock"
    if stale:
        gone = LockInfo(dead_pid(), socket.gethostname(), "2026-01-01T00:00:00+00:00", "", "x")
        path.write_text(json.dumps(gone.to_json()))
    context = multiprocessing.get_context("fork")
    racers = 6
    start = context.Barrier(racers)
    done = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=_race, args=(str(path), start, done, results)) for _ in range(racers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=30) for _ in processes]
    done.set()
    for process in processes:
        process.join(10)
    assert sorted(outcomes) == ["held"] * (racers - 1) + ["won"]
