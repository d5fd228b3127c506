"""`mlinfra render` and `mlinfra output`: what they write and print, and how they refuse
local environments, unknown environments and invalid specs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from render_cases import CHURN

from mlinfra.cli.main import cli
from mlinfra.operations import render as render_operation

LOCAL_ONLY = """\
version: 1
project: hello
environments:
  local:
    target: local
models:
  classifier:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: s3://bucket/model.tar.gz
"""


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def local_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(LOCAL_ONLY)
    return spec


@pytest.fixture
def churn_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "churn"
    shutil.copytree(CHURN.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder / CHURN.name


def test_render_needs_env_or_all(local_spec: Path) -> None:
    for args in ([], ["--env", "local", "--all"]):
        result = run("render", "-f", str(local_spec), *args)
        assert result.exit_code == 2
        assert "--env ENV or --all" in result.output


def test_render_refuses_a_local_environment_serving_from_s3(local_spec: Path) -> None:
    result = run("render", "--env", "local", "-f", str(local_spec))
    assert result.exit_code == 1
    assert "error[not-on-local]" in result.output
    assert not (local_spec.parent / "stacks").exists()


def test_render_writes_a_local_program_of_dynamic_resources(churn_copy: Path) -> None:
    result = run("render", "--env", "local", "-f", str(churn_copy))
    assert result.exit_code == 0, result.output
    out = churn_copy.parent / "stacks" / "local"
    program = (out / "__main__.py").read_text()
    assert "from mlinfra.providers import dynamic as local" in program
    assert 'local.use_emulator("../../mlinfra.yaml", region="us-east-1")' in program
    assert "pulumi_aws" not in program
    # It runs with the Python mlinfra is installed in: no virtualenv of its own.
    assert "virtualenv" not in (out / "Pulumi.yaml").read_text()
    assert (out / "Pulumi.local.yaml").read_text().endswith("config: {}\n")


def test_render_suggests_a_close_environment_name(churn_copy: Path) -> None:
    result = run("render", "--env", "prd", "-f", str(churn_copy))
    assert result.exit_code == 1
    assert "has no environment 'prd'" in result.output
    assert "did you mean 'prod'?" in result.output


def test_render_prints_diagnostics_of_an_invalid_spec(tmp_path: Path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(LOCAL_ONLY.replace("framework: sklearn", "framework: sklaern"))
    result = run("render", "--env", "local", "-f", str(spec))
    assert result.exit_code == 1
    assert "mlinfra.yaml:8:" in result.output and "invalid (1 error(s)" in result.output


def test_render_writes_beside_the_spec_by_default(churn_copy: Path) -> None:
    result = run("render", "--env", "dev", "-f", str(churn_copy))
    assert result.exit_code == 0, result.output
    out = churn_copy.parent / "stacks" / "dev"
    assert sorted(p.name for p in out.iterdir()) == [
        ".gitignore",
        "Pulumi.dev.yaml",
        "Pulumi.yaml",
        "__main__.py",
        "monitor-job.pyz",  # the churn monitor's job, which the program uploads
        "offline_rows.py",  # the batch job's export of the feature store's latest rows
        "requirements.txt",
    ]
    assert "wrote " in result.output and "stacks/dev/" in result.output
    # Files the spec names are found from the program's folder.
    assert 'pulumi.FileAsset("../../pipelines/' in (out / "__main__.py").read_text()


def test_render_all_writes_every_environment(churn_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    result = run("render", "--all", "-f", str(churn_copy), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["dev", "local", "prod"]
    assert (
        'allowedAccountIds:\n    - "222222222222"'
        in (out / "prod" / "Pulumi.prod.yaml").read_text()
    )


def test_render_again_changes_nothing(churn_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "once"
    run("render", "--env", "prod", "-f", str(churn_copy), "--out", str(out))
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    run("render", "--env", "prod", "-f", str(churn_copy), "--out", str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_output_json_gives_the_physical_names_by_component(churn_copy: Path) -> None:
    result = run("output", "--env", "prod", "-f", str(churn_copy), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["format_version"] == "2"
    assert (document["project"], document["environment"]) == ("churn", "prod")
    assert document["source"] == "compiled"
    endpoint = document["components"]["endpoint.churn-api"]
    assert endpoint["name"] == "churn-prod-churn-api"
    resources = endpoint["resources"]
    assert resources["endpoint.churn-api"] == "churn-prod-churn-api"
    # Completed when the program runs, with the latest approved model version.
    assert resources["endpoint.churn-api/config"].startswith("churn-prod-churn-api-")
    assert resources["endpoint.churn-api/config"].endswith(
        "-v<latest_approved_version(churn-prod-churn, churn-prod-churn-api)>"
    )
    buckets = document["components"]["bucket.artifacts"]
    assert buckets == {
        "name": "churn-prod-artifacts-222222222222",
        "resources": {"bucket.artifacts": "churn-prod-artifacts-222222222222"},
    }


def test_output_text_is_a_table(churn_copy: Path) -> None:
    result = run("output", "--env", "prod", "-f", str(churn_copy))
    assert result.exit_code == 0, result.output
    assert "churn prod: physical names" in result.output
    assert "churn-prod-churn-api" in result.output


def test_output_refuses_a_local_environment_serving_from_s3(local_spec: Path) -> None:
    result = run("output", "--env", "local", "-f", str(local_spec))
    assert result.exit_code == 1
    assert "error[not-on-local]" in result.output and "local emulator" in result.output


def test_output_of_a_local_environment_before_apply(tmp_path: Path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(LOCAL_ONLY.replace("s3://bucket/model.tar.gz", "model.joblib"))
    (tmp_path / "model.joblib").write_bytes(b"a model")
    result = run("output", "--env", "local", "-f", str(spec), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["source"] == "compiled"
    model = document["components"]["model.classifier"]
    assert model["name"].startswith("hello-local-classifier-")
    assert "arn" not in model


def test_output_json_of_an_invalid_spec_is_json(tmp_path: Path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text("version: 2\n")
    result = run("output", "--env", "dev", "-f", str(spec), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["valid"] is False


def test_render_explains_a_model_without_a_sagemaker_image(tmp_path: Path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(
        "version: 1\nproject: hello\n"
        'environments: {dev: {target: sagemaker, account: "111111111111"}}\n'
        'models: {m: {framework: pytorch, framework_version: "2.6", '
        "artifact: s3://b/model.tar.gz}}\n"
        "endpoints: {api: {model: m, instance_type: ml.inf2.xlarge}}\n"
    )
    result = run("render", "--env", "dev", "-f", str(spec), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "error[no-image-for-instance-type]" in result.output
    assert "Neuron (inf/trn) images are not in mlinfra's catalogue" in result.output
    assert "Traceback" not in result.output


def test_an_instance_type_without_an_image_is_the_users_to_change(churn_copy: Path) -> None:
    # scikit-learn has CPU images only: a GPU training step cannot compile, and that is said
    # as a problem with the spec, not as an internal error.
    spec = churn_copy.read_text().replace(
        "        instance_type: ml.m5.xlarge\n", "        instance_type: ml.g4dn.xlarge\n"
    )
    assert "ml.g4dn.xlarge" in spec
    churn_copy.write_text(spec)
    for command in (["render", "--env", "dev"], ["audit", "--env", "dev"]):
        result = run(*command, "-f", str(churn_copy))
        assert result.exit_code == 1, result.output
        assert "no sklearn 1.2-1 image for ml.g4dn.xlarge" in result.output
        assert "choose another instance type" in result.output
        assert "internal error" not in result.output


def test_render_check_writes_what_render_writes(churn_copy: Path, tmp_path: Path) -> None:
    plain, checked = tmp_path / "plain", tmp_path / "checked"
    assert run("render", "--all", "-f", str(churn_copy), "--out", str(plain)).exit_code == 0
    result = run("render", "--all", "--check", "-f", str(churn_copy), "--out", str(checked))
    assert result.exit_code == 0, result.output
    for env in ("dev", "local", "prod"):
        assert {p.name: p.read_bytes() for p in (checked / env).iterdir()} == {
            p.name: p.read_bytes() for p in (plain / env).iterdir()
        }


def test_render_check_refuses_a_program_that_does_not_parse(
    churn_copy: Path, tmp_path: Path, monkeypatch
) -> None:
    # A renderer bug, simulated: the program loses its last closing bracket.
    real = render_operation.render_project

    def broken(*args, **kwargs):
        files = dict(real(*args, **kwargs))
        files["__main__.py"] = files["__main__.py"].rstrip().removesuffix(")") + "\n"
        return files

    monkeypatch.setattr(render_operation, "render_project", broken)
    out = tmp_path / "prod"
    result = run("render", "--env", "prod", "--check", "-f", str(churn_copy), "--out", str(out))
    assert result.exit_code == 1
    assert "is not valid Python" in result.output
    assert "bug in mlinfra" in result.output
    assert not out.exists()
    # Without --check the program is written as rendered: the check is opt-in.
    assert run("render", "--env", "prod", "-f", str(churn_copy), "--out", str(out)).exit_code == 0
    assert (out / "__main__.py").exists()
