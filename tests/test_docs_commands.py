"""Every `mlinfra` command in README.md and docs/*.md runs as written from the repository root.

The commands are the lines of the pages' ```sh blocks that start with `mlinfra`,
`.venv/bin/mlinfra` or `eval "$(mlinfra` (a `\\` at a line's end continues it), taken in the
order the pages give them, README.md first. They run one after another with bash, as a reader
would type them, in a scratch copy of the repository's examples (a git repository on a branch
of its own, since previews and compliance diffs read git), with `.venv/bin` on the PATH. One
change is made to them: `/tmp/` becomes a folder of the scratch copy, so parallel runs never
share files. What cannot run here (it needs AWS or the Pulumi CLI) is in `SKIPPED`, with why,
and reported as skipped; a command a page documents to fail is in `FAILS`, with its exit code.

A command runs as written when it exits as expected and prints no traceback. The emulators the
commands start are stopped at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlinfra.emulator import process

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
STARTS = ("mlinfra ", ".venv/bin/mlinfra ", 'eval "$(mlinfra ')
CHURN = "-f examples/churn/mlinfra.yaml"
# Commands that cannot run on this machine, and why. Each must still appear in a page.
SKIPPED: dict[str, str] = {
    f"mlinfra apply --env prod {CHURN}   # or: cd stacks/churn/prod && pulumi up": (
        "applying a sagemaker environment runs the Pulumi CLI against AWS, neither of which "
        "this machine has (tests/plan/test_apply_pulumi.py runs it with the engine replaced)"
    ),
}
# Commands that may exit other than 0 as their page documents it: the exit code and what the
# output then says. (The audit exits 1 while the churn example has unwaived findings at or
# above `--fail-on`, as the Audit section says; 0 once it has none.)
FAILS: dict[str, tuple[int, str]] = {
    f"mlinfra audit {CHURN}                      # every environment, text": (
        1,
        "audit failed: ",
    ),
    f"mlinfra audit {CHURN} --format junit --out audit.xml --fail-on medium  # for CI test views": (
        1,
        "audit failed: ",
    ),
}
# What a page says has happened before a command (`make run` before the Quickstart's): the
# commands that stand for it, run first.
GIVEN: dict[str, list[str]] = {
    # The Quickstart's commands follow `make run`, which applies the local environment.
    f".venv/bin/mlinfra pipeline runs train-churn --env local {CHURN}": [
        f"mlinfra apply --env local {CHURN} --auto-approve",
    ],
    # "The local emulator" starts one; the Quickstart left one running.
    f"mlinfra emulator start {CHURN}": [f"mlinfra emulator stop {CHURN}"],
}
TIMEOUT = 600

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"


def sh_blocks(text: str) -> list[tuple[int, str]]:
    """Each ```sh block's body, with the line number of its first line."""
    found = []
    for match in re.finditer(r"^```sh\n(.*?)^```", text, re.S | re.M):
        found.append((text.count("\n", 0, match.start(1)) + 1, match.group(1)))
    return found


def commands_of(page: Path) -> list[Command]:
    found = []
    for first, body in sh_blocks(page.read_text()):
        lines = body.splitlines()
        index = 0
        while index < len(lines):
            start, text = index, lines[index]
            while text.endswith("\\") and index + 1 < len(lines):
                index += 1
                text = text[:-1] + " " + lines[index].strip()
            index += 1
            if text.startswith(STARTS):
                found.append(Command(page.name, first + start, text))
    return found


def documented_commands() -> list[Command]:
    return [command for page in PAGES for command in commands_of(page)]


COMMANDS = documented_commands()


def test_the_pages_have_commands_and_every_listed_one_is_still_there() -> None:
    texts = {c.text for c in COMMANDS}
    assert len(COMMANDS) >= 20
    assert not set(SKIPPED) - texts, "SKIPPED names commands no page has any more"
    assert not set(FAILS) - texts, "FAILS names commands no page has any more"
    assert not set(GIVEN) - texts, "GIVEN names commands no page has any more"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of the repository's examples in a git repository, on a branch of its own; the
    emulators started in it stopped after."""
    root = tmp_path_factory.mktemp("repo")
    skip = shutil.ignore_patterns(".mlinfra", "__pycache__")
    shutil.copytree(ROOT / "examples", root / "examples", ignore=skip)
    shutil.copytree(ROOT / "schemas", root / "schemas")
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    (root / "tmp").mkdir()
    git = ["git", "-c", "user.name=docs", "-c", "user.email=docs@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "examples"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)
    subprocess.run([*git, "checkout", "-qb", "docs-check"], cwd=root, check=True)
    yield root
    for spec in sorted(root.glob("examples/*/mlinfra.yaml")):
        process.stop(spec)


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_command_runs_as_written(command: Command, scratch: Path) -> None:
    if command.text in SKIPPED:
        pytest.skip(f"{command.text}: {SKIPPED[command.text]}")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100"}
    for given in GIVEN.get(command.text, ()):
        done = _run(given, scratch, env)
        assert done.returncode == 0, f"{command.name}, given {given}:\n{_output(done)}"
    done = _run(command.text, scratch, env)
    output = _output(done)
    assert "Traceback" not in output, f"{command.name}: {command.text}\n{output}"
    if done.returncode != 0 and command.text in FAILS:
        code, says = FAILS[command.text]
        assert (done.returncode, says in output) == (code, True), f"{command.name}\n{output}"
    else:
        assert done.returncode == 0, f"{command.name}: {command.text}\n{output}"


def _run(text: str, scratch: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    text = text.replace("/tmp/", f"{scratch}/tmp/")
    return subprocess.run(
        ["bash", "-c", text], cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def _output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr
