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
    assert len(applies) == 3 and "--detailed-exitcode" in commands[-1]
    try:
        first = run_loop(tmp_path)
        second = run_loop(tmp_path)
    finally:
        process.stop(spec)

    # First run: nothing to serve yet, then the trained version; the retraining the monitor
    # starts trains on the same rows with the same code, so it registers no new version (the
    # registry names the one it matches) and the endpoint keeps the one it serves.
    assert "waiting: model.churn-model: model churn-model has no version yet" in first[applies[0]]
    assert (
        "version 1 is the newest approved: endpoint churn-api is created with it"
        in (first[applies[1]])
    )
    assert "endpoint churn-api keeps serving version 1" in first[applies[2]]
    # Second run: it finds the environment as the first left it, and moves on from there.
    assert "endpoint churn-api keeps serving version 1" in second[applies[0]]
    assert "local is up to date: nothing to do." in second[applies[0]]
    for apply_ in applies[1:]:
        assert "endpoint churn-api keeps serving version 1" in second[apply_]
    assert "No changes." in second[-1]
    # The batch chapter: every customer scored by the approved model, the ten likeliest shown.
    batch = next(i for i, c in enumerate(commands) if " batch run churn-scores " in c)
    top = next(i for i, c in enumerate(commands) if "top_churners.py" in c)
    for outputs in (first, second):
        assert "execution succeeded" in outputs[batch]
        assert "5000 records (of 5150 offline rows)" in outputs[batch]
        assert "The 10 customers most likely to leave, of 5000 scored" in outputs[top]
        assert len(outputs[top].splitlines()) == 12  # the title, the header, ten customers
