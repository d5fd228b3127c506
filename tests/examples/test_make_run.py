"""`make run` can be run again and again: its loop's commands, run twice on a copy of the
churn example, each exit 0, say what they find this time, and end converged (the loop's own
last command is `plan --detailed-exitcode`, which exits 2 when anything is left to change)."""

from __future__ import annotations

import os
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
    for line in recipe.replace("\\\n", " ").splitlines():  # continued lines are one command
        command = line.strip()
        if command.startswith(("@", "#")):  # the narration, the chapters' headings
            continue
        command = command.replace("$(MLINFRA)", str(MLINFRA)).replace("$(PY)", sys.executable)
        command = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables[m.group(1)], command)
        commands.append(command.replace("$$", "$"))
    return commands


def run_loop(root: Path) -> list[str]:
    """Each command's output (stdout, then stderr), as `make run` runs them: with the
    emulator's clock scaled as the target exports it."""
    clock = re.search(r"^run: export MLINFRA_EMULATOR_CLOCK_SCALE \?= (\d+)$",
                      (ROOT / "Makefile").read_text(), re.M)  # fmt: skip
    assert clock is not None
    environment = {**os.environ, "MLINFRA_EMULATOR_CLOCK_SCALE": clock.group(1)}
    outputs = []
    for command in loop_commands():
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            env=environment,
        )
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        outputs.append(done.stdout + done.stderr)
    return outputs


@pytest.mark.slow
def test_the_loop_runs_twice_and_ends_converged(tmp_path: Path) -> None:
    example = tmp_path / "examples" / "churn"
    shutil.copytree(ROOT / "examples" / "churn", example, ignore=shutil.ignore_patterns(".mlinfra"))
    spec = example / "mlinfra.yaml"
    commands = loop_commands()
    applies = [i for i, c in enumerate(commands) if " apply " in c]
    # The loop's three applies, then the canary chapter's: the good canary, the slow one, the
    # clean-up. Each chapter ends with `plan --detailed-exitcode`.
    assert len(applies) == 6
    plans = [i for i, c in enumerate(commands) if "--detailed-exitcode" in c]
    assert len(plans) == 2
    try:
        first = run_loop(tmp_path)
        second = run_loop(tmp_path)
    finally:
        process.stop(spec)

    # First run: nothing to serve yet, then the trained version; the retraining the monitor
    # starts reads the same feature store, so it matches version 1 and registers nothing.
    assert "waiting: model.churn-model: model churn-model has no version yet" in first[applies[0]]
    assert (
        "version 1 is the newest approved: endpoint churn-api is created with it"
        in (first[applies[1]])
    )
    assert "endpoint churn-api keeps serving version 1" in first[applies[2]]
    # The canary chapter: a second version goes out; a slow third is rolled back by its
    # latency alarm while the second keeps serving; once rejected, nothing is left to do.
    good, slow, cleanup = applies[3:]
    assert "version 2 is approved: endpoint churn-api moves to it from version 1" in first[good]
    assert "-v2 serves: Alarm churn-local-churn-api-latency-p99 went into ALARM" in first[slow]
    assert "went into ALARM" in first[slow]
    assert "deleted the replaced" in first[cleanup]
    # Second run: it finds the environment as the first left it; the same data trains the
    # same model, so the loop's applies have nothing to do; the chapter goes round again.
    for index in applies[:3]:
        assert "endpoint churn-api keeps serving version 2" in second[index]
        assert "local is up to date: nothing to do." in second[index]
    assert "version 4 is approved: endpoint churn-api moves to it from version 2" in second[good]
    assert "-v4 serves: Alarm churn-local-churn-api-latency-p99 went into ALARM" in second[slow]
    for index in plans:
        assert "No changes." in first[index]
        assert "No changes." in second[index]
