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
    # The loop's three applies; the canary chapter's good canary, slow canary and clean-up;
    # the quality chapter's second version and its rollback. The loop and each chapter but the
    # last (the compile cache's) end with `plan --detailed-exitcode`.
    assert len(applies) == 8
    plans = [i for i, c in enumerate(commands) if "--detailed-exitcode" in c]
    assert len(plans) == 4
    quality = [i for i, c in enumerate(commands) if "monitor run churn-quality" in c]
    assert len(quality) == 3
    batch = next(i for i, c in enumerate(commands) if " batch run churn-scores " in c)
    top = next(i for i, c in enumerate(commands) if "top_churners.py" in c)
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
    # Second run: it finds the environment as the first left it (version 2 serves again after
    # the quality chapter's rollback); the same data trains the same model.
    for index in applies[:3]:
        assert "endpoint churn-api keeps serving version 2" in second[index]
        assert "local is up to date: nothing to do." in second[index]
    # The canary chapter: a new version goes out; a slow one after it is rolled back by its
    # latency alarm while the one before keeps serving; once rejected, nothing is left to do.
    good, slow, cleanup, served, restored = applies[3:]
    for run, (old, new, slow_version) in ((first, (1, 2, 3)), (second, (2, 5, 6))):
        assert (
            f"version {new} is approved: endpoint churn-api moves to it from version {old}"
            in (run[good])
        )
        assert f"-v{slow_version} was rolled back" in run[slow]
        assert (
            f"-v{new} serves: Alarm churn-local-churn-api-latency-p99 went into ALARM"
            in (run[slow])
        )
        assert f"version {new} is approved: endpoint churn-api moves to it" in run[cleanup]
    # The quality chapter: newer data, a new version served; then accuracy slides past the
    # alert line and the rollback line, and the version before it serves again.
    for run, (previous, new) in ((first, (2, 4)), (second, (5, 7))):
        assert (
            f"version {new} is approved: endpoint churn-api moves to it from version"
            in (run[served])
        )
        ok, alert, rollback = (run[i] for i in quality)
        assert "within its lines" in ok
        assert "below the alert line" in alert and "rollback:" not in alert
        assert "below the rollback line" in rollback
        assert (
            f"rollback: version {new} rejected; the previous approved version {previous} serves"
            in rollback
        )
        assert (
            f"version {previous} is approved: endpoint churn-api moves to it from version {new}"
            in (run[restored])
        )
        # The batch chapter: every customer scored by the approved model, the ten likeliest.
        assert "execution succeeded" in run[batch]
        assert "Exported the latest row of each record of feature group" in run[batch]
        assert "5000 records (of " in run[batch]
        assert "The 10 customers most likely to leave, of 5000 scored" in run[top]
        assert len(run[top].strip().splitlines()) == 12  # the title, the header, ten customers
        for index in plans:
            assert "No changes." in run[index]
