"""Previews of sagemaker environments: rendered, recorded, and handed to the Pulumi engine.

The Pulumi CLI cannot be installed on the build machines, so the engine's four calls (up,
destroy, remove the stack, read a stack's resources) are replaced by `fake_pulumi`; what
mlinfra does around them (the program, the record in the state, list, gc, changed-only
deferral) is real. tests/render/test_program_mocks.py runs a preview's program under Pulumi's
mocks with the real pulumi_aws.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest
from preview_project import git, preview

from mlinfra.engines import pulumi as engine
from mlinfra.preview.naming import preview_env_name
from mlinfra.state import backend_for
from mlinfra.state.documents import first_error

CHURN = Path(__file__).parents[2] / "examples" / "churn"
BRANCH = "feat/cheaper-endpoint"
ENV = preview_env_name(BRANCH)


@pytest.fixture()
def churn(tmp_path: Path) -> Path:
    """The churn example in a repository: `main`, then a branch; previews copy `dev`."""
    shutil.copy(CHURN / "mlinfra.yaml", tmp_path / "mlinfra.yaml")
    for folder in ("data", "pipelines"):
        shutil.copytree(CHURN / folder, tmp_path / folder)
    (tmp_path / ".gitignore").write_text(".mlinfra/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "churn")
    git(tmp_path, "checkout", "-qb", BRANCH)
    return tmp_path / "mlinfra.yaml"


def state_file(spec_file: Path) -> Path:
    return spec_file.parent / ".mlinfra" / "state" / f"{ENV}.json"


def state_of(spec_file: Path):
    return backend_for(".mlinfra/state", spec_file.parent).read("churn", ENV)


def recorded(spec_file: Path):
    return state_of(spec_file).preview


def test_without_the_pulumi_cli_up_says_how_to_get_it_and_writes_nothing(
    churn: Path, tmp_path: Path, monkeypatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("git"), bin_dir / "git")
    monkeypatch.setenv("PATH", str(bin_dir))
    code, out = preview("up", "-f", str(churn), "--auto-approve")
    assert code == 1
    assert "needs the Pulumi CLI, not found on PATH" in out and "get.pulumi.com" in out
    assert "Traceback" not in out
    assert not state_file(churn).exists()
    assert not (churn.parent / ".mlinfra" / "previews").exists()


def test_up_renders_the_program_records_the_preview_and_runs_pulumi_up(
    churn: Path, fake_pulumi
) -> None:
    code, out = preview("up", "-f", str(churn), "--auto-approve")
    assert code == 0, out
    program = churn.parent / ".mlinfra" / "previews" / ENV
    assert fake_pulumi.calls == [
        ("up", program, ENV, None),
        ("stack_resources", "churn", ENV, None),
    ]
    main = (program / "__main__.py").read_text()
    assert f'"mlinfra:environment": "{ENV}"' in main
    assert 'name: "churn"' in (program / "Pulumi.yaml").read_text()
    assert (program / f"Pulumi.{ENV}.yaml").exists()
    # The preview's overrides apply: a smaller instance than dev's.
    assert '"ml.t2.medium"' in main

    info = recorded(churn)
    assert (info.engine, info.branch, info.base) == ("pulumi", BRANCH, "dev")
    assert first_error(json.loads(state_file(churn).read_text()), "state.schema.json") is None
    assert info.expires_at is not None and info.expires_at > info.updated_at
    assert f"endpoint.churn-api = churn-{ENV}-churn-api" in out

    code, out = preview("list", "-f", str(churn), "--json")
    assert code == 0, out
    (listed,) = json.loads(out)["previews"]
    assert listed["environment"] == ENV and listed["engine"] == "pulumi"
    assert listed["resources"] == len(state_of(churn).resources) and listed["expired"] is False


def test_the_state_records_what_pulumi_applied_with_the_stacks_outputs(
    churn: Path, fake_pulumi
) -> None:
    from mlinfra.operations.environment import lower_environment
    from mlinfra.preview.environment import preview_spec
    from mlinfra.spec.validate import validate_file

    arn = f"arn:aws:sagemaker:us-east-1:111111111111:endpoint/churn-{ENV}-churn-api"
    fake_pulumi.stacks[ENV] = {"endpoint.churn-api": {"arn": arn}}
    assert preview("up", "-f", str(churn), "--auto-approve")[0] == 0
    spec = preview_spec(validate_file(churn), BRANCH, None, str(churn)).spec
    graph = lower_environment(spec, str(churn))
    state = state_of(churn)
    assert list(state.resources) == graph.addresses()
    assert state.get("endpoint.churn-api").outputs == {"arn": arn}
    # So the next plan of the preview has nothing to do, until the branch changes it.
    code, out = preview("plan", "-f", str(churn))
    assert code == 0 and "No changes" in out, out
    churn.write_text(churn.read_text().replace("ml.t2.medium", "ml.c5.large"))
    code, out = preview("plan", "-f", str(churn))
    assert code == 0, out
    assert "Plan: 0 to create, 2 to update, 1 to replace, 0 to delete" in out
    assert "-/+ endpoint.churn-api/config" in out and '"ml.t2.medium" -> "ml.c5.large"' in out


def test_a_failed_up_keeps_the_record_so_gc_can_collect_it(churn: Path, fake_pulumi) -> None:
    fake_pulumi.fail_up = "error: creating SageMaker Endpoint: ResourceLimitExceeded"
    code, out = preview("up", "-f", str(churn), "--auto-approve")
    assert code == 1
    assert "ResourceLimitExceeded" in out and "Traceback" not in out
    info = recorded(churn)
    assert info.engine == "pulumi" and state_of(churn).is_empty
    code, out = preview("list", "-f", str(churn), "--json")
    assert code == 0 and json.loads(out)["previews"][0]["branch"] == BRANCH

    backend = backend_for(".mlinfra/state", churn.parent)
    state = backend.read("churn", ENV)
    backend.write(
        dataclasses.replace(
            state, preview=dataclasses.replace(info, expires_at="2020-01-01T00:00:00Z")
        )
    )
    fake_pulumi.calls.clear()
    code, out = preview("gc", "-f", str(churn), "--auto-approve")
    assert code == 0, out
    program = churn.parent / ".mlinfra" / "previews" / ENV
    assert fake_pulumi.calls == [
        ("destroy", program, ENV, None),
        ("remove_stack", program, ENV, None),
    ]
    assert not state_file(churn).exists()


def test_down_destroys_the_stack_in_the_backend_up_used(churn: Path, fake_pulumi) -> None:
    backend_url = "s3://team-pulumi-state/previews"
    code, out = preview("up", "-f", str(churn), "--auto-approve", "--backend", backend_url)
    assert code == 0, out
    assert recorded(churn).backend == backend_url
    fake_pulumi.calls.clear()

    code, out = preview("down", "-f", str(churn), "--auto-approve")
    assert code == 0, out
    assert [(c[0], c[2], c[3]) for c in fake_pulumi.calls] == [
        ("destroy", ENV, backend_url),
        ("remove_stack", ENV, backend_url),
    ]
    assert not state_file(churn).exists()
    assert f"removed the preview {ENV}" in out
    code, out = preview("down", "-f", str(churn), "--auto-approve")
    assert code == 0 and "nothing to destroy" in out


def test_the_backend_comes_from_pulumi_backend_url_as_for_pulumi_itself(
    churn: Path, fake_pulumi, monkeypatch
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://from-the-environment")
    assert preview("up", "-f", str(churn), "--auto-approve")[0] == 0
    assert recorded(churn).backend == "s3://from-the-environment"
    # Once made, the stack is looked for where it is, whatever the environment says now.
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://somewhere-else")
    assert preview("up", "-f", str(churn), "--auto-approve")[0] == 0
    assert fake_pulumi.calls[-1][3] == "s3://from-the-environment"
    assert preview("down", "-f", str(churn), "--auto-approve")[0] == 0
    assert fake_pulumi.calls[-1][3] == "s3://from-the-environment"


def test_without_a_backend_pulumi_uses_a_file_backend_beside_the_spec(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    assert engine.backend_url_for(None, tmp_path) == (tmp_path / ".mlinfra" / "pulumi").as_uri()
    assert engine.backend_url_for("s3://given", tmp_path) == "s3://given"
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://env")
    assert engine.backend_url_for(None, tmp_path) == "s3://env"


def test_down_without_the_pulumi_cli_keeps_the_record(
    churn: Path, fake_pulumi, monkeypatch
) -> None:
    assert preview("up", "-f", str(churn), "--auto-approve")[0] == 0

    def missing():
        raise engine.PulumiMissing()

    monkeypatch.setattr(engine, "require_pulumi", missing)
    code, out = preview("down", "-f", str(churn), "--auto-approve")
    assert code == 1
    assert "needs the Pulumi CLI" in out and "Traceback" not in out
    assert recorded(churn) is not None


def test_up_again_keeps_the_creation_time_and_pushes_the_expiry(churn: Path, fake_pulumi) -> None:
    assert preview("up", "-f", str(churn), "--auto-approve")[0] == 0
    first = recorded(churn)
    backend = backend_for(".mlinfra/state", churn.parent)
    state = backend.read("churn", ENV)
    older = dataclasses.replace(
        first,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
        expires_at="2026-01-04T00:00:00Z",
    )
    backend.write(dataclasses.replace(state, preview=older))
    assert preview("up", "-f", str(churn), "--auto-approve")[0] == 0
    again = recorded(churn)
    assert again.created_at == "2026-01-01T00:00:00Z"
    assert again.expires_at > first.updated_at


# -- changed-only previews of a sagemaker base ---------------------------------------------


@pytest.fixture()
def changed_only(churn: Path) -> Path:
    """Changed-only previews on `main`; the branch gives the endpoint two instances."""
    project = churn.parent
    git(project, "checkout", "-q", "main")
    churn.write_text(
        churn.read_text().replace("  ttl: 72h\n", "  ttl: 72h\n  mode: changed-only\n")
    )
    git(project, "commit", "-qam", "changed-only previews")
    git(project, "checkout", "-q", BRANCH)
    git(project, "merge", "-q", "main")
    text = churn.read_text()
    at = text.index("    instance_count: 1\n", text.index("\nendpoints:\n"))
    churn.write_text(
        text[:at] + "    instance_count: 2\n" + text[at + len("    instance_count: 1\n") :]
    )
    return churn


def test_changed_only_uses_the_base_stacks_resources(changed_only: Path, fake_pulumi) -> None:
    fake_pulumi.stacks["dev"] = {
        "model.churn-model": {"name": "churn-dev-churn-model-v7", "arn": "arn:..."},
    }
    code, out = preview("up", "-f", str(changed_only), "--auto-approve")
    assert code == 0, out
    assert "builds endpoint.churn-api;" in out
    assert fake_pulumi.calls[0] == ("stack_resources", "churn", "dev", None)
    main = (changed_only.parent / ".mlinfra" / "previews" / ENV / "__main__.py").read_text()
    # Only the endpoint (and the bucket it captures into) is built, serving dev's model.
    assert "aws.sagemaker.Model(" not in main and "aws.sagemaker.FeatureGroup(" not in main
    assert "aws.sagemaker.Endpoint(" in main
    assert '"churn-dev-churn-model-v7"' in main


def test_changed_only_before_the_base_exists_says_to_apply_it(
    changed_only: Path, fake_pulumi
) -> None:
    code, out = preview("up", "-f", str(changed_only), "--auto-approve")
    assert code == 1
    assert "which has not created it" in out and "mlinfra apply --env dev" in out
    assert not state_file(changed_only).exists()


# -- reading a stack's resources -----------------------------------------------------------


def test_resources_are_read_from_an_exported_deployment_by_address() -> None:
    urn = "urn:pulumi:dev::churn::{}::{}"
    secret = {engine.SIGNATURE_KEY: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}
    deployment = {
        "manifest": {"time": "2026-11-22T00:00:00Z"},
        "resources": [
            {"urn": urn.format("pulumi:pulumi:Stack", "churn-dev"), "custom": False,
             "type": "pulumi:pulumi:Stack", "outputs": {"x": 1}},
            {"urn": urn.format("pulumi:providers:aws", "default_7_51_1"), "custom": True,
             "type": "pulumi:providers:aws", "id": "abc", "outputs": {"region": "us-east-1"}},
            {"urn": urn.format("aws:kms/key:Key", "kms.key"), "custom": True,
             "type": "aws:kms/key:Key", "id": "1234-abcd",
             "outputs": {"arn": "arn:aws:kms:us-east-1:111111111111:key/1234-abcd",
                         "keyId": "1234-abcd", "policy": secret}},
            {"urn": urn.format("aws:appautoscaling/target:Target", "endpoint.churn-api/scaling"),
             "custom": True, "type": "aws:appautoscaling/target:Target", "id": "t",
             "outputs": {"resourceId": "endpoint/churn-dev-churn-api/variant/primary",
                         "scalableDimension": "sagemaker:variant:DesiredInstanceCount"}},
        ],
    }  # fmt: skip
    found = engine.resources_in(deployment)
    assert sorted(found) == ["endpoint.churn-api/scaling", "kms.key"]
    assert found["kms.key"] == {
        "arn": "arn:aws:kms:us-east-1:111111111111:key/1234-abcd",
        "key_id": "1234-abcd",
        "id": "1234-abcd",
    }
    scaling = found["endpoint.churn-api/scaling"]
    assert scaling["scalable_dimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert scaling["resource_id"].startswith("endpoint/")
