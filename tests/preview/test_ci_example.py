"""examples/ci/github-actions-preview.yml: a workflow whose mlinfra commands all exist."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import yaml

from mlinfra.cli.main import cli
from mlinfra.cli.preview import preview_command

WORKFLOW = Path(__file__).parents[2] / "examples" / "ci" / "github-actions-preview.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def preview_invocations() -> list[list[str]]:
    found = []
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                words = shlex.split(line, comments=True)
                if ">" in words:  # a redirection is the shell's, not the command's
                    words = words[: words.index(">")]
                if words[:2] == ["mlinfra", "preview"]:
                    found.append(words[2:])
    return found


def test_the_workflow_plans_comments_brings_up_tears_down_and_collects() -> None:
    commands = [words[0] for words in preview_invocations()]
    assert commands == ["plan", "up", "down", "list", "gc"]
    jobs = workflow()["jobs"]
    assert "closed" in jobs["teardown"]["if"]
    steps = " ".join(s.get("name", "") for s in jobs["preview"]["steps"])
    assert "Validate" in steps and "comment" in steps


def test_every_preview_command_in_the_workflow_parses() -> None:
    for words in preview_invocations():
        command = preview_command.commands[words[0]]
        # With the root's settings: click caches each command's help option from the
        # first context it sees, and the README's help text must keep `-h`.
        with cli.make_context("mlinfra", ["preview"]) as root:
            with click.Context(command, parent=root) as ctx:
                command.parse_args(ctx, list(words[1:]))
