"""Previews of a local base, as operations: planned, brought up, listed, collected, brought
down. The project is a git repository with a feature branch checked out."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
from operations_project import Recorder, validated

from mlinfra.operations import progress as events
from mlinfra.operations.errors import OperationError
from mlinfra.operations.preview import GcRequest, PreviewRequest, collect, down, listed, plan, up
from mlinfra.plan.model import CREATE
from mlinfra.preview.naming import preview_env_name
from mlinfra.state import backend_for
from mlinfra.state.model import PreviewInfo

BRANCH = "feat/cheaper"
ENV = preview_env_name(BRANCH)
EXPIRED = PreviewInfo(
    branch="feat/old",
    base="local",
    created_at="2026-01-01T00:00:00Z",
    updated_at="2026-01-01T00:00:00Z",
    expires_at="2026-01-02T00:00:00Z",
)


def git(folder, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture()
def project(shop):
    """The shop, committed on `main`, with branch `feat/cheaper` checked out."""
    folder = shop.parent
    (folder / ".gitignore").write_text(".mlinfra/\n")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "-c", "user.name=T", "-c", "user.email=t@example.com", "add", "-A")
    git(folder, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "shop")
    git(folder, "checkout", "-qb", BRANCH)
    return shop


def test_a_preview_is_planned_brought_up_and_down_beside_its_base(project) -> None:
    request = PreviewRequest(validated(project), str(project))

    planned = plan(request)
    assert planned.branch == BRANCH and planned.spec.env == ENV and planned.spec.base == "local"
    assert {c.action for c in planned.plan.changes} == {CREATE}
    assert planned.selection is None and planned.audit is None

    steps = Recorder()
    found = up(request, steps, steps.confirm)
    assert found.ok and found.env == ENV
    assert found.info.branch == BRANCH and found.info.expires_at
    assert list(found.urls) == ["endpoint.scorer-api"]
    assert f"shop-{ENV}-scorer-api" in found.urls["endpoint.scorer-api"]
    assert steps.of(events.PreviewStarted) == [events.PreviewStarted(ENV, BRANCH, "local")]
    assert steps.of(events.Applied)[0].outcome.ok
    backend = backend_for(".mlinfra/state", project.parent)
    assert backend.read("shop", ENV).preview == found.info
    assert backend.read("shop", "local").is_empty  # the base is untouched

    (preview,) = listed(request).previews
    assert (preview.env, preview.info.branch, preview.info.base) == (ENV, BRANCH, "local")

    steps = Recorder()
    assert down(request, steps, steps.confirm).ok
    assert steps.of(events.PreviewRemoved) == [events.PreviewRemoved(ENV, BRANCH)]
    assert not (project.parent / ".mlinfra" / "state" / f"{ENV}.json").exists()
    steps = Recorder()
    assert down(request, steps, steps.confirm).ok
    assert steps.of(events.NoPreview) == [events.NoPreview(BRANCH, ENV)]


def test_gc_collects_an_expired_preview(project) -> None:
    validation = validated(project)
    backend = backend_for(".mlinfra/state", project.parent)
    env = preview_env_name("feat/old")
    # The record an `up` leaves when its apply is interrupted before it created anything.
    backend.write(dataclasses.replace(backend.read("shop", env), preview=EXPIRED))

    dry = collect(GcRequest(validation, str(project), dry_run=True), Recorder(), Recorder().confirm)
    assert dry.dry_run and [p.env for p, _ in dry.doomed] == [env]
    assert backend.read("shop", env).preview == EXPIRED

    steps = Recorder()
    done = collect(GcRequest(validation, str(project)), steps, steps.confirm)
    assert [(p.env, why) for p, why in done.doomed] == [(env, "expired at 2026-01-02T00:00:00Z")]
    assert steps.questions == [events.Question("destroy", "these 1 preview(s)")]
    assert steps.of(events.PreviewRemoved) == [events.PreviewRemoved(env, "feat/old")]
    assert listed(PreviewRequest(validation, str(project))).previews == ()


def test_without_a_branch_outside_git_the_error_says_to_pass_one(shop) -> None:
    with pytest.raises(OperationError, match="cannot tell which branch") as raised:
        plan(PreviewRequest(validated(shop), str(shop)))
    assert raised.value.suggestion == "pass --branch NAME"
