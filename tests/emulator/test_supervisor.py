"""The supervisor: a command it runs, and all that command starts, dies with the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlinfra.emulator import supervisor
from mlinfra.emulator.process import _alive

# A command that starts a grandchild, writes both pids, and waits for ever.
FORKS = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(f"{os.getpid()} {child.pid}")
time.sleep(600)
"""


def pids_from(path: Path, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().split()) == 2:
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def kill_all(pids: list[int]) -> None:
    for pid in pids:  # only the processes this test started, should a test fail
        try:
            os.kill(pid, 9)
        except (ProcessLookupError, PermissionError):
            pass


def test_the_end_of_the_lifeline_kills_the_command_and_its_children(tmp_path):
    script = tmp_path / "forks.py"
    script.write_text(FORKS)
    read, write = os.pipe()
    watched = subprocess.Popen(
        [sys.executable, "-m", supervisor.MODULE, str(read), "--",
         sys.executable, str(script), str(tmp_path / "pids")],
        pass_fds=(read,),
    )  # fmt: skip
    os.close(read)
    pids = pids_from(tmp_path / "pids")
    try:
        assert all(_alive(pid) for pid in pids)
        os.close(write)  # as when the emulator dies, however it dies
        assert watched.wait(10) == 128 + 9
        assert gone(pids)
    finally:
        kill_all([watched.pid, *pids])


def test_stop_terminates_the_command_group_and_the_supervisor(tmp_path):
    script = tmp_path / "forks.py"
    script.write_text(FORKS)
    process = supervisor.popen([sys.executable, str(script), str(tmp_path / "pids")])
    pids = pids_from(tmp_path / "pids")
    try:
        supervisor.stop(process)
        assert process.poll() is not None
        assert gone(pids)
    finally:
        kill_all([process.pid, *pids])


def test_the_command_exit_code_and_output_pass_through(tmp_path):
    process = supervisor.popen(
        [sys.executable, "-c", "import sys; print('out'); sys.exit(3)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = process.communicate(timeout=30)
    assert (process.returncode, out) == (3, "out\n")


def test_what_a_finished_command_left_running_in_its_group_is_killed(tmp_path):
    leaves = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(tmp_path / 'pid')!r}, 'w').write(str(child.pid))\n"
    )
    process = supervisor.popen([sys.executable, "-c", leaves])
    assert process.wait(30) == 0
    orphan = int((tmp_path / "pid").read_text())
    try:
        assert gone([orphan])
    finally:
        kill_all([orphan])


def test_a_command_that_cannot_start_says_so(tmp_path):
    process = supervisor.popen([str(tmp_path / "missing")], stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 127 and "cannot start" in err


@pytest.mark.parametrize("argv", [[], ["x", "--", "true"], ["3", "true"]])
def test_a_malformed_supervisor_command_line_is_a_usage_error(argv):
    assert supervisor.main(argv) == 2
