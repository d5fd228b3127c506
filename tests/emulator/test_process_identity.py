"""`mlinfra emulator stop|status` act only on a process proven to be the folder's emulator,
and the processes an emulator starts die with it, however it dies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlinfra.emulator import process

ROLE = "arn:aws:iam::123456789012:role/emulator"
LINUX = Path("/proc/self/stat").exists()


@pytest.fixture()
def impostor():
    """A live process unrelated to any emulator, whose command line says "mlinfra"."""
    child = subprocess.Popen(["bash", "-c", "exec -a mlinfra-x sleep 60"])
    deadline = time.monotonic() + 10
    while LINUX and b"mlinfra" not in Path(f"/proc/{child.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    yield child
    child.kill()
    child.wait()


def write_run_file(state_dir: Path, pid: int, identity: str | None) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    run_file = state_dir / process.RUN_FILE
    status = process.Status("http://127.0.0.1:1", pid, 1, str(state_dir), "", "")
    run_file.write_text(
        json.dumps({"format": process.FORMAT_VERSION, **status.to_json(), "process": identity})
    )
    return run_file


def test_stop_never_signals_a_recycled_pid_that_says_mlinfra(tmp_path, impostor):
    spec = tmp_path / "mlinfra.yaml"
    run_file = write_run_file(process.state_dir_of(spec), impostor.pid, "boot/123")

    assert process.status(spec) is None
    assert process.stop(spec) is None
    time.sleep(0.2)
    assert impostor.poll() is None  # still running: never signalled
    assert not run_file.exists()  # no emulator holds the folder: the file was stale


def test_the_cli_stop_leaves_the_impostor_alone(tmp_path, impostor):
    spec = tmp_path / "mlinfra.yaml"
    write_run_file(process.state_dir_of(spec), impostor.pid, None)
    result = subprocess.run(
        [sys.executable, "-m", "mlinfra.cli.main", "emulator", "stop", "-f", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr
    time.sleep(0.2)
    assert impostor.poll() is None


@pytest.mark.skipif(not LINUX, reason="the start time is read from /proc")
def test_a_held_lock_does_not_vouch_for_a_pid_of_another_identity(tmp_path, impostor):
    # The lock is held (as by an emulator starting up) but the run file is an older one's,
    # whose pid now belongs to the impostor: the start times differ.
    spec = tmp_path / "mlinfra.yaml"
    state_dir = process.state_dir_of(spec)
    recorded = process.identity(os.getpid())  # a live process's identity, not the impostor's
    run_file = write_run_file(state_dir, impostor.pid, recorded)
    lock = process.hold_lock(state_dir)
    try:
        assert process.status(spec) is None
        assert process.stop(spec) is None
        time.sleep(0.2)
        assert impostor.poll() is None
        assert run_file.exists()  # the lock holder's to replace, not ours to delete
    finally:
        lock.close()


@pytest.mark.skipif(not LINUX, reason="the start time is read from /proc")
def test_the_identity_is_the_boot_and_the_start_time(impostor):
    mine, theirs = process.identity(os.getpid()), process.identity(impostor.pid)
    assert mine and theirs and mine != theirs
    assert mine.split("/")[0] == theirs.split("/")[0]  # the same boot
    assert process.identity(impostor.pid) == theirs  # stable while it lives


def test_without_proc_only_a_held_lock_vouches_for_the_pid(tmp_path, impostor, monkeypatch):
    # As on macOS: no start time to compare, so the lock is the whole proof.
    monkeypatch.setattr(process, "_has_proc", lambda: False)
    spec = tmp_path / "mlinfra.yaml"
    state_dir = process.state_dir_of(spec)
    write_run_file(state_dir, impostor.pid, None)
    assert process.status(spec) is None  # lock free: not signalled, whatever the pid is
    lock = process.hold_lock(state_dir)
    try:
        write_run_file(state_dir, impostor.pid, None)
        assert process.status(spec) is not None
    finally:
        lock.close()
    assert impostor.poll() is None
