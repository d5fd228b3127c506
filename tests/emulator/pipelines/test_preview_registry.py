"""A changed-only preview reads its base and never writes into it: the branch changed only
the pipeline, so the preview defers the model to the base, yet its pipeline registers into
the preview's own registry group. Runs the real CLI (base apply, `preview up`, `preview down`)
and the preview's pipeline in the real emulator they start; the fixture stops it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from pipeline_project import wait, write_project

from mlinfra.cli.main import cli
from mlinfra.emulator import process
from mlinfra.engines.providers.local import LocalProvider
from mlinfra.preview.naming import preview_env_name
from mlinfra.state import backend_for

BRANCH = "feat/stronger-C"
BASE_GROUP = "tiny-local-tiny"
PREVIEWS = "previews:\n  base: local\n  mode: changed-only\n"


def git(root: Path, *args: str) -> None:
    names = {"GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t"}
    emails = {"GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_EMAIL": "t@example.com"}
    environment = {**os.environ, **names, **emails}
    subprocess.run(["git", *args], cwd=root, env=environment, check=True, capture_output=True)


def mlinfra(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture()
def spec(tmp_path: Path):
    """The tiny project (approval: auto) on `main`; the branch changes only the pipeline."""
    path = write_project(tmp_path, approval="auto")
    path.write_text(path.read_text() + PREVIEWS)
    (tmp_path / ".gitignore").write_text(".mlinfra/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "tiny", "--no-gpg-sign")
    git(tmp_path, "checkout", "-qb", BRANCH)
    path.write_text(path.read_text().replace("C: 0.5", "C: 0.9"))
    yield path
    process.stop(path)


def versions(sagemaker, group: str) -> list[str]:
    found = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    return [p["ModelApprovalStatus"] for p in found]


def test_the_previews_pipeline_registers_into_its_own_group_not_the_base(spec):

    code, out = mlinfra("apply", "--env", "local", "-f", str(spec), "--auto-approve")
    assert code == 0, out
    code, out = mlinfra("preview", "up", "-f", str(spec), "--auto-approve")
    assert code == 0, out
    assert "builds pipeline.train-tiny; uses local's model.tiny-model" in out
    assert "has its own model.tiny-model/registry" in out

    env = preview_env_name(BRANCH)
    state = backend_for(".mlinfra/state", spec.parent).read("tiny", env)
    assert sorted(state.resources) == ["model.tiny-model/registry", "pipeline.train-tiny"]
    own_group = state.get("model.tiny-model/registry").inputs["ModelPackageGroupName"]
    assert own_group != BASE_GROUP

    sagemaker = LocalProvider.for_spec(spec, "us-east-1", start=False).client
    pipeline = state.get("pipeline.train-tiny").inputs["PipelineName"]
    arn = sagemaker.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    assert wait(sagemaker, arn)["PipelineExecutionStatus"] == "Succeeded"

    assert versions(sagemaker, own_group) == ["Approved"]
    assert versions(sagemaker, BASE_GROUP) == []  # the base's registry is as it was

    code, out = mlinfra("preview", "plan", "-f", str(spec), "--format", "markdown")
    assert code == 0, out
    assert "has its own `model.tiny-model/registry`, which what it builds writes into" in out

    code, out = mlinfra("preview", "down", "-f", str(spec), "--auto-approve")
    assert code == 0, out
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == [BASE_GROUP]
