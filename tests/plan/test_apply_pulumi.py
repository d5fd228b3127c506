"""`mlinfra apply` and `destroy` of a sagemaker environment: the Pulumi engine, with the state.

The Pulumi CLI cannot be installed on the build machines, so the engine's calls are replaced
by `fake_pulumi` (tests/conftest.py). What mlinfra does around them is real: the lock, the
rendered program, and the state it records once Pulumi succeeded, which `plan` and `output`
then read. tests/render/test_program_mocks.py runs the programs under Pulumi's mocks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlinfra.cli.main import cli
from mlinfra.state import backend_for

CHURN = Path(__file__).parents[2] / "examples" / "churn"
ENDPOINT_ARN = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/churn-dev-churn-api"


def mlinfra(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture()
def spec_file(tmp_path: Path) -> Path:
    shutil.copy(CHURN / "mlinfra.yaml", tmp_path / "mlinfra.yaml")
    for folder in ("data", "pipelines"):
        shutil.copytree(CHURN / folder, tmp_path / folder)
    return tmp_path / "mlinfra.yaml"


def dev_state(spec_file: Path):
    return backend_for(".mlinfra/state", spec_file.parent).read("churn", "dev")


def apply_dev(spec_file: Path, *extra: str) -> tuple[int, str]:
    return mlinfra("apply", "--env", "dev", "-f", str(spec_file), "--auto-approve", *extra)


def test_apply_runs_pulumi_up_and_records_what_it_applied(spec_file: Path, fake_pulumi) -> None:
    fake_pulumi.stacks["dev"] = {
        "endpoint.churn-api": {"name": "churn-dev-churn-api", "arn": ENDPOINT_ARN}
    }
    code, out = apply_dev(spec_file)
    assert code == 0, out
    program = spec_file.parent / "stacks" / "dev"
    assert fake_pulumi.calls == [
        ("up", program, "dev", None),
        ("stack_resources", "churn", "dev", None),
    ]
    assert (program / "__main__.py").exists()
    state = dev_state(spec_file)
    assert len(state.resources) > 40 and state.serial == 1
    assert state.get("endpoint.churn-api").outputs["arn"] == ENDPOINT_ARN
    assert f"{len(state.resources)} resource(s) recorded, 0 waiting; state serial 1" in out

    code, out = mlinfra("plan", "--env", "dev", "-f", str(spec_file))
    assert code == 0 and "No changes" in out, out
    code, out = mlinfra("output", "--env", "dev", "-f", str(spec_file), "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["source"] == "state"
    assert document["components"]["endpoint.churn-api"]["arn"] == ENDPOINT_ARN


def test_a_failed_pulumi_up_leaves_the_state_as_it_was(spec_file: Path, fake_pulumi) -> None:
    fake_pulumi.fail_up = "error: AccessDenied: sagemaker:CreateEndpoint"
    code, out = apply_dev(spec_file)
    assert code == 1
    assert "AccessDenied" in out and "the state of 'dev' is unchanged" in out
    assert "Traceback" not in out
    assert dev_state(spec_file).is_empty
    code, out = mlinfra("plan", "--env", "dev", "-f", str(spec_file))
    assert code == 0 and "to create" in out


def test_destroy_runs_pulumi_destroy_and_empties_the_state(spec_file: Path, fake_pulumi) -> None:
    assert apply_dev(spec_file)[0] == 0
    lineage = dev_state(spec_file).lineage
    code, out = mlinfra("destroy", "--env", "dev", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert fake_pulumi.named("destroy") == [
        ("destroy", spec_file.parent / "stacks" / "dev", "dev", None)
    ]
    state = dev_state(spec_file)
    assert state.is_empty and state.lineage == lineage


def test_the_backend_option_reaches_pulumi(spec_file: Path, fake_pulumi) -> None:
    assert apply_dev(spec_file, "--backend", "s3://team-pulumi-state")[0] == 0
    assert fake_pulumi.named("up")[0][3] == "s3://team-pulumi-state"


def test_an_apply_holding_the_lock_keeps_pulumi_from_starting(spec_file: Path, fake_pulumi) -> None:
    backend = backend_for(".mlinfra/state", spec_file.parent)
    with backend.lock("dev", "mlinfra apply"):
        code, out = apply_dev(spec_file)
    assert code == 1 and "lock" in out, out
    assert fake_pulumi.calls == []


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (("plan.json",), "a saved plan is carried out by the embedded engine"),
        (("--allow-removal", "feature_store.customers"), "Pulumi protects data-holding"),
    ],
)
def test_embedded_engine_options_are_refused_with_pulumi(
    spec_file: Path, fake_pulumi, extra: tuple[str, ...], said: str
) -> None:
    code, out = apply_dev(spec_file, *extra)
    assert code == 1 and said in out, out
    assert fake_pulumi.calls == []


def test_a_local_environment_applied_with_pulumi_keeps_its_embedded_state(
    spec_file: Path, fake_pulumi
) -> None:
    code, out = mlinfra(
        "apply", "--env", "local", "--engine", "pulumi", "-f", str(spec_file), "--auto-approve"
    )
    assert code == 0, out
    assert [c[0] for c in fake_pulumi.calls] == ["up"]
    assert backend_for(".mlinfra/state", spec_file.parent).read("churn", "local").is_empty


def test_refresh_reports_what_changed_or_went_outside_mlinfra(spec_file: Path, fake_pulumi):
    endpoint = {
        "name": "churn-dev-churn-api",
        "arn": ENDPOINT_ARN,
        "endpoint_config_name": "churn-dev-churn-api-v1",
        "tags": {"team": "growth"},
    }
    fake_pulumi.stacks["dev"] = {
        "endpoint.churn-api": endpoint,
        "bucket.capture": {"bucket": "churn-dev-capture-111111111111", "arn": "arn:..."},
    }
    assert apply_dev(spec_file)[0] == 0
    recorded = dev_state(spec_file).get("endpoint.churn-api")
    assert recorded.inputs == {
        "name": "churn-dev-churn-api",
        "endpoint_config_name": "churn-dev-churn-api-v1",
        "tags": {"team": "growth"},
    }

    # The stack as Pulumi reads it back: every resource, as applied.
    stack = {a: dict(r.outputs or {}) for a, r in dev_state(spec_file).resources.items()}
    fake_pulumi.stacks["dev"] = stack
    code, out = mlinfra("refresh", "--env", "dev", "-f", str(spec_file))
    assert code == 0 and "No drift" in out, out

    # Someone points the endpoint at another config by hand, and deletes the capture bucket.
    stack["endpoint.churn-api"] = {**endpoint, "endpoint_config_name": "by-hand"}
    del stack["bucket.capture"]
    code, out = mlinfra("refresh", "--env", "dev", "-f", str(spec_file))
    assert code == 0, out
    assert "~ endpoint.churn-api: changed outside mlinfra: endpoint_config_name" in out
    assert "- bucket.capture: deleted outside mlinfra" in out
    assert "the next apply sets the changed ones back" in out
    assert fake_pulumi.named("refreshed")[-1] == ("refreshed", "churn", "dev", None)
    mlinfra("refresh", "--env", "dev", "-f", str(spec_file), "--backend", "s3://team-state")
    assert fake_pulumi.named("refreshed")[-1][3] == "s3://team-state"
    state = dev_state(spec_file)
    assert state.get("bucket.capture") is None and state.get("endpoint.churn-api") is not None


def test_refresh_of_a_sagemaker_environment_never_applied_has_nothing_to_compare(
    spec_file: Path, fake_pulumi
):
    code, out = mlinfra("refresh", "--env", "dev", "-f", str(spec_file))
    assert code == 0 and "No drift" in out, out
    assert fake_pulumi.calls == []


def test_refresh_without_the_pulumi_cli_says_how_to_get_it(spec_file: Path, monkeypatch):
    import shutil as shell

    monkeypatch.setattr(shell, "which", lambda name: None)
    backend = backend_for(".mlinfra/state", spec_file.parent)
    from mlinfra.state.model import ResourceState, State

    state = State.empty("churn", "dev").with_resource(
        "kms.key", ResourceState("aws.kms.Key", {}, {}, {"arn": "arn:..."})
    )
    backend.write(state)
    code, out = mlinfra("refresh", "--env", "dev", "-f", str(spec_file))
    assert code == 1
    assert "refreshing 'dev'" in out and "needs the Pulumi CLI" in out
    assert "Traceback" not in out
