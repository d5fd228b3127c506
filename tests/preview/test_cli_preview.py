"""`mlinfra preview up|down|list|gc` against the local emulator, as a user runs them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from preview_project import BRANCH, git, preview, shop_spec

from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.preview.naming import preview_env_name
from mlinfra.state import backend_for

ENV = preview_env_name(BRANCH)


def endpoints(spec_file: Path) -> list[str]:
    sagemaker = Access.for_spec(spec_file).client("sagemaker")
    return sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"])


def state_of(spec_file: Path, env: str):
    return backend_for(".mlinfra/state", spec_file.parent).read("shop", env)


def up(spec_file: Path, *more: str) -> tuple[int, str]:
    return preview("up", "-f", str(spec_file), "--base", "local", "--auto-approve", *more)


def test_up_creates_an_isolated_preview_beside_the_base_and_down_removes_only_it(
    spec_file: Path,
) -> None:
    from click.testing import CliRunner

    from mlinfra.cli.main import cli

    base = CliRunner().invoke(
        cli, ["apply", "--env", "local", "-f", str(spec_file), "--auto-approve"]
    )
    assert base.exit_code == 0, base.output

    code, out = up(spec_file)
    assert code == 0, out
    assert f"preview {ENV} of branch {BRANCH}, based on local" in out
    url = process.status(spec_file).url
    assert f"endpoint.scorer-api: {url}/endpoints/shop-{ENV}-scorer-api/invocations" in out
    assert endpoints(spec_file) == sorted(["shop-local-scorer-api", f"shop-{ENV}-scorer-api"])
    state = state_of(spec_file, ENV)
    assert state.preview.branch == BRANCH and state.preview.base == "local"
    assert state.preview.expires_at is not None
    assert len(state.resources) == 4
    # previews.overrides applied on top of the base
    config = state.get("endpoint.scorer-api/config")
    assert config.inputs["ProductionVariants"][0]["InstanceType"] == "ml.t2.medium"
    base_names = {
        r.inputs.get("EndpointName") for r in state_of(spec_file, "local").resources.values()
    }
    preview_names = {r.inputs.get("EndpointName") for r in state.resources.values()}
    assert not (base_names - {None}) & (preview_names - {None})

    code, out = up(spec_file)
    assert code == 0 and "up to date" in out
    again = state_of(spec_file, ENV)
    assert again.preview.created_at == state.preview.created_at

    code, out = preview("down", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert f"removed the preview {ENV}" in out
    assert endpoints(spec_file) == ["shop-local-scorer-api"]
    assert not (spec_file.parent / ".mlinfra" / "state" / f"{ENV}.json").exists()
    assert len(state_of(spec_file, "local").resources) == 4

    code, out = preview("down", "-f", str(spec_file), "--auto-approve")
    assert code == 0 and "nothing to destroy" in out


def test_list_shows_branch_base_age_expiry_and_resources(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = up(spec_file)
    assert code == 0, out
    code, out = preview("list", "-f", str(spec_file), "--json")
    assert code == 0, out
    (found,) = json.loads(out)["previews"]
    assert found["environment"] == ENV
    assert found["branch"] == BRANCH and found["base"] == "local"
    assert found["resources"] == 4 and found["expired"] is False
    code, out = preview("list", "-f", str(spec_file))
    assert code == 0, out
    assert BRANCH in out and "in 23h" in out
    # At any width, the branch and the environment stay whole, each on one line.
    for width in ("60", "80", "200"):
        monkeypatch.setenv("COLUMNS", width)
        code, out = preview("list", "-f", str(spec_file))
        lines = out.splitlines()
        assert code == 0 and any(BRANCH in line for line in lines), out
        assert any(ENV in line for line in lines), out


def test_gc_destroys_expired_previews_and_keeps_live_ones(spec_file: Path) -> None:
    assert up(spec_file)[0] == 0
    assert up(spec_file, "--branch", "feat/live")[0] == 0
    backend = backend_for(".mlinfra/state", spec_file.parent)
    state = backend.read("shop", ENV)
    expired = dataclasses.replace(state.preview, expires_at="2020-01-01T00:00:00Z")
    backend.write(dataclasses.replace(state, preview=expired))

    code, out = preview("gc", "-f", str(spec_file), "--dry-run")
    assert code == 0 and ENV in out and "would be destroyed" in out
    assert state_of(spec_file, ENV).resources

    code, out = preview("gc", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert endpoints(spec_file) == [f"shop-{preview_env_name('feat/live')}-scorer-api"]
    assert "collected 1 preview(s)" in out


def test_gc_prune_merged_destroys_previews_of_deleted_branches(spec_file: Path) -> None:
    project = spec_file.parent
    git(project, "branch", "feat/gone")
    assert up(spec_file, "--branch", "feat/gone")[0] == 0
    assert up(spec_file)[0] == 0
    code, out = preview("gc", "-f", str(spec_file), "--auto-approve")
    assert code == 0 and "nothing to collect" in out

    git(project, "branch", "-D", "feat/gone")
    code, out = preview("gc", "-f", str(spec_file), "--prune-merged", "--auto-approve")
    assert code == 0, out
    assert "branch feat/gone no longer exists" in out
    assert endpoints(spec_file) == [f"shop-{ENV}-scorer-api"]


def test_the_branch_defaults_to_the_one_checked_out(spec_file: Path) -> None:
    code, out = preview("plan", "-f", str(spec_file))
    assert code == 0, out
    assert f"preview {ENV} of branch {BRANCH} (based on local)" in out


def test_outside_git_without_branch_says_to_pass_one(tmp_path: Path) -> None:
    spec_file = tmp_path / "mlinfra.yaml"
    spec_file.write_text(shop_spec())
    code, out = preview("plan", "-f", str(spec_file))
    assert code == 1
    assert "not in a git repository" in out and "--branch NAME" in out
    assert "Traceback" not in out


def test_detached_head_without_branch_says_to_pass_one(spec_file: Path) -> None:
    git(spec_file.parent, "checkout", "-q", "--detach")
    code, out = preview("plan", "-f", str(spec_file))
    assert code == 1 and "detached" in out and "--branch NAME" in out


def test_unknown_base_is_refused_with_a_suggestion(spec_file: Path) -> None:
    code, out = preview("plan", "-f", str(spec_file), "--base", "locl")
    assert code == 1
    assert "no environment 'locl'" in out and "did you mean 'local'" in out


def test_a_preview_name_that_is_an_environment_is_refused(spec_file: Path) -> None:
    spec_file.write_text(
        shop_spec().replace("  local:\n", "  preview-x:\n    target: local\n  local:\n", 1)
    )
    code, out = preview("plan", "-f", str(spec_file), "--branch", "x")
    assert code == 1 and "'preview-x', which is an environment" in out
