"""`make run` can be run again and again: its loop's commands, run twice on a copy of the
churn example, each exit 0, say what they find this time, and end converged (the loop's own
last command is `plan --detailed-exitcode`, which exits 2 when anything is left to change)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlinfra.emulator import process

ROOT = Path(__file__).resolve().parents[2]
MLINFRA = Path(sys.executable).parent / "mlinfra"


def loop_commands() -> list[str]:
    """The `run` target's commands, as a shell runs them from the repository root."""
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^([A-Z_]+) :?= (.+)$", makefile, re.M))
    recipe = makefile.split("\nrun: setup\n", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in recipe.splitlines():
        command = line.strip()
        if command.startswith("@"):  # the narration
            continue
        command = command.replace("$(MLINFRA)", str(MLINFRA)).replace("$(PY)", sys.executable)
        command = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables[m.group(1)], command)
        commands.append(command.replace("$$", "$"))
    return commands


def run_loop(root: Path) -> list[str]:
    outputs = []
    for command in loop_commands():
        done = subprocess.run(
            ["bash", "-c", command], cwd=root, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        outputs.append(done.stdout)
    return outputs


@pytest.mark.slow
def test_the_loop_runs_twice_and_ends_converged(tmp_path: Path) -> None:
    example = tmp_path / "examples" / "churn"
    shutil.copytree(ROOT / "examples" / "churn", example, ignore=shutil.ignore_patterns(".mlinfra"))
    spec = example / "mlinfra.yaml"
    commands = loop_commands()
    applies = [i for i, c in enumerate(commands) if " apply " in c]
    quality = [i for i, c in enumerate(commands) if "monitor run churn-quality" in c]
    assert len(applies) == 5 and len(quality) == 3 and "--detailed-exitcode" in commands[-1]
    try:
        first = run_loop(tmp_path)
        second = run_loop(tmp_path)
    finally:
        process.stop(spec)

    # First run: nothing to serve yet, then the trained version; the retraining on unchanged
    # data registers none, so the endpoint keeps it.
    assert "waiting: model.churn-model: model churn-model has no version yet" in first[applies[0]]
    assert (
        "version 1 is the newest approved: endpoint churn-api is created with it"
        in (first[applies[1]])
    )
    assert "endpoint churn-api keeps serving version 1" in first[applies[2]]
    # The quality chapter: newer data, a second version served; then accuracy slides past
    # the alert line and the rollback line, and the previous version serves again.
    assert (
        "version 2 is approved: endpoint churn-api moves to it from version 1"
        in (first[applies[3]])
    )
    for run in (first, second):
        ok, alert, rollback = (run[i] for i in quality)
        assert "within its lines" in ok
        assert "below the alert line" in alert and "rollback:" not in alert
        assert "below the rollback line" in rollback
        assert "rejected; the previous approved version" in rollback
        assert "is approved: endpoint churn-api moves to it from version" in run[applies[4]]
        assert "No changes." in run[-1]
    assert (
        "version 1 is approved: endpoint churn-api moves to it from version 2"
        in (first[applies[4]])
    )
    # Second run: it finds the environment as the first left it, and moves on from there.
    assert "endpoint churn-api keeps serving version 1" in second[applies[0]]
    assert "local is up to date: nothing to do." in second[applies[0]]
