"""`plan`, `apply` and `refresh` of a sagemaker environment around what serves: what waits for
a model version (in the words a local environment uses), the version kept for want of an
approved one, and endpoints that do not serve what Pulumi applied.

The Pulumi engine's calls are `fake_pulumi`'s (tests/conftest.py): `up` answers with the
stack outputs a run of the program gives (tests/render/test_program_accounts.py runs the
programs themselves). moto is the AWS account mlinfra asks: the registry for `plan`, the
endpoints and their alarms after `apply` and `refresh`. moto has no UpdateEndpoint, so an
update SageMaker rolled back is made by setting, on moto's endpoint, what DescribeEndpoint
then answers (its configuration, FailureReason, LastDeploymentConfig): a workaround in the
test only.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from accounts import describe_as, register, serve, set_status
from mlinfra.cli.main import cli
from mlinfra.plan.values import MODEL_PACKAGE, VERSION
from mlinfra.state import backend_for
from mlinfra.state.model import State

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REGION = "us-east-1"
GROUP = "churn-dev-churn"
ENDPOINT = "churn-dev-churn-api"
LOOKUP = (GROUP, ENDPOINT)
MODEL = "model.churn-model"
ALARMS = ["churn-dev-churn-api-latency-p99", "churn-dev-churn-api-error-rate"]
NONE_APPROVED = (
    f"model package group '{GROUP}' has no approved version: register one (the pipeline's "
    "register_model step) and approve it in the SageMaker model registry"
)


def mlinfra(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def state_of(churn: Path):
    return backend_for(".mlinfra/state", churn).read("churn", "dev")


def needs_a_model(graph) -> set[str]:
    # The endpoint, its monitor and the batch job scoring with the model wait whole.
    whole = ("endpoint.churn-api", "monitor.churn-", "batch_job.churn-scores")
    return {a for a in graph.addresses() if a == MODEL or a.startswith(whole)}


@pytest.fixture
def account(monkeypatch) -> None:
    """moto's AWS account, with credentials mlinfra finds as a user's."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def record(churn: Path, graph, recorded, known: dict) -> None:
    """Write, as a first apply would, the state that records `graph` applied with `known`."""
    resources = recorded(graph, known).resources
    backend_for(".mlinfra/state", churn).write(State(graph.project, graph.env, resources=resources))


def served(arn: str, version: str) -> dict:
    """The lookups' values of an apply that served `version` (as the state records them)."""
    return {(MODEL_PACKAGE, LOOKUP): arn, (VERSION, LOOKUP): version}


def version_outputs(arn: str | None, version: str | None, why: str | None) -> dict:
    """The stack output a run of the dev program gives for its one registry lookup."""
    found = {"group": GROUP, "endpoints": [ENDPOINT], "arn": arn, "version": version}
    return {"mlinfra:model-versions": [{**found, "why": why}]}


# -- plan ------------------------------------------------------------------------------------


def test_plan_of_a_first_deploy_says_what_waits_in_the_local_words(churn, graph_of, account):
    spec = str(churn / "mlinfra.yaml")
    code, out = mlinfra("plan", "--env", "dev", "-f", spec)
    assert code == 0, out
    waits = len(needs_a_model(graph_of("dev")))
    assert f"{waits} of them wait for a value that does not exist yet (see `waiting:`)" in out
    assert f"waiting: {NONE_APPROVED}" in out
    assert f"waiting: waits for {MODEL}: {NONE_APPROVED}" in out
    code, out = mlinfra("plan", "--env", "dev", "-f", spec, "--format", "json")
    document = json.loads(out)
    waiting = {c["address"] for c in document["resource_changes"] if c["waiting"]}
    assert waiting == needs_a_model(graph_of("dev"))


def test_plan_without_credentials_says_the_registry_was_not_read(churn) -> None:
    code, out = mlinfra("plan", "--env", "dev", "-f", str(churn / "mlinfra.yaml"))
    assert code == 0, out
    assert "the model registry was not read (no AWS credentials found" in out
    assert "waiting:" not in out


def test_plan_shows_a_newly_approved_version_as_new_model_and_configuration(
    churn, graph_of, recorded, account
):
    v1, _ = register(REGION, GROUP, "Approved", "Approved")
    record(churn, graph_of("dev"), recorded, served(v1, "1"))
    code, out = mlinfra("plan", "--env", "dev", "-f", str(churn / "mlinfra.yaml"))
    assert code == 0, out
    assert f"-/+ {MODEL} " in out and "-/+ endpoint.churn-api/config " in out
    assert '-v1" -> "churn-dev-churn-model-' in out and '-v2"' in out
    assert "waiting:" not in out


def test_plan_with_every_version_rejected_keeps_what_serves(churn, graph_of, recorded, account):
    (v1,) = register(REGION, GROUP, "Approved")
    serve(REGION, ENDPOINT, v1)
    set_status(REGION, v1, "Rejected")
    record(churn, graph_of("dev"), recorded, served(v1, "1"))
    code, out = mlinfra("plan", "--env", "dev", "-f", str(churn / "mlinfra.yaml"))
    assert code == 0 and "No changes" in out, out
    assert (
        f"keeps serving: model package group '{GROUP}' has no approved version: endpoint "
        f"{ENDPOINT} keeps serving version 1, the one it serves now"
    ) in out


# -- apply: what the program served, and what waited ----------------------------------------


def apply_dev(churn: Path) -> tuple[int, str]:
    return mlinfra("apply", "--env", "dev", "-f", str(churn / "mlinfra.yaml"), "--auto-approve")


def test_apply_of_a_first_deploy_says_what_waits_and_records_the_rest(churn, graph_of, fake_pulumi):
    graph = graph_of("dev")
    why = f"{NONE_APPROVED} (aws sagemaker update-model-package ...)"
    fake_pulumi.outputs = version_outputs(None, None, why)
    code, out = apply_dev(churn)
    assert code == 0, out
    assert f"  waiting: {MODEL}: {why}" in out
    # What waits only for the model is named after it, in one line.
    followers = sorted(needs_a_model(graph) - {MODEL}, key=graph.addresses().index)
    assert f"  waiting: {', '.join(followers)}: waits for {MODEL}\n" in out
    assert "mlinfra:model-versions" not in out
    waiting = needs_a_model(graph)
    assert (
        f"{len(graph.resources) - len(waiting)} resource(s) recorded, {len(waiting)} waiting" in out
    )
    state = state_of(churn)
    assert set(state.resources) == set(graph.addresses()) - waiting
    # What waited is still to make: the next plan creates it.
    code, out = mlinfra("plan", "--env", "dev", "-f", str(churn / "mlinfra.yaml"))
    assert f"Plan: {len(waiting)} to create, 0 to update, 0 to replace, 0 to delete" in out


def test_apply_records_the_version_served_so_a_new_one_shows_in_the_plan(
    churn, graph_of, fake_pulumi
):
    fake_pulumi.outputs = version_outputs(
        "arn:aws:sagemaker:us-east-1:1:model-package/g/1", "1", None
    )
    assert apply_dev(churn)[0] == 0
    model = state_of(churn).get(MODEL)
    assert model.properties["name"]["concat"][-1] == "1"
    assert model.properties["primary_container"]["fields"]["model_package_name"].endswith("/g/1")


def test_apply_says_which_version_is_kept_for_want_of_an_approved_one(churn, fake_pulumi):
    why = f"model package group '{GROUP}' has no approved version: endpoint {ENDPOINT} keeps ..."
    fake_pulumi.outputs = version_outputs(
        "arn:aws:sagemaker:us-east-1:1:model-package/g/1", "1", why
    )
    code, out = apply_dev(churn)
    assert code == 0, out
    assert f"  keeps serving: {why}" in out and "waiting:" not in out


# -- after apply: what really serves ---------------------------------------------------------

APPLIED = "churn-dev-churn-api-1a2b3c4d-v2"  # the configuration Pulumi applied
SERVING = f"{ENDPOINT}-v1"  # the one in service before (as `serve` names it)
ROLLBACK = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in ALARMS]}}


def applied_stack(config: str = APPLIED, alarms: list[str] = ALARMS) -> dict:
    """The endpoint's outputs in Pulumi's stack after `up`: the configuration applied, and the
    deployment configuration (nested keys camelCase, as Pulumi keeps them)."""
    rollback = {"alarms": [{"alarmName": a} for a in alarms]}
    return {
        "endpoint.churn-api": {
            "name": ENDPOINT,
            "arn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}",
            "endpoint_config_name": config,
            "deployment_config": {"autoRollbackConfiguration": rollback} if alarms else None,
        }
    }


def endpoint_updated_to(config: str) -> None:
    """The endpoint serving version 1 (configuration SERVING), and `config` made beside it,
    as Pulumi makes the new configuration before it updates the endpoint."""
    (v1,) = register(REGION, GROUP, "Approved")
    serve(REGION, ENDPOINT, v1)
    boto3.client("sagemaker", region_name=REGION).create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": f"{ENDPOINT}-model-v1",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )


def alarm(name: str, state: str, reason: str) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=3,
        Threshold=250000.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def test_apply_finds_an_update_rolled_back_by_an_alarm_and_records_what_serves(
    churn, fake_pulumi, account
):
    endpoint_updated_to(APPLIED)
    # SageMaker rolled the blue/green update back: the endpoint is InService, on SERVING.
    describe_as(REGION, ENDPOINT, last_deployment_config=ROLLBACK)
    alarm(ALARMS[0], "ALARM", "p99 model latency above 250 ms")
    alarm(ALARMS[1], "OK", "fine")
    fake_pulumi.stacks["dev"] = applied_stack()
    code, out = apply_dev(churn)
    assert code == 1, out
    assert (
        f"not serving what was applied: endpoint.churn-api ({ENDPOINT}) serves {SERVING}, "
        f"not {APPLIED}: SageMaker rolled the update to {APPLIED} back to {SERVING}; "
        f"alarm {ALARMS[0]} is in ALARM: p99 model latency above 250 ms"
    ) in " ".join(out.split())
    assert "do not serve what was applied; the state records what they serve" in out
    endpoint = state_of(churn).get("endpoint.churn-api")
    assert endpoint.inputs["endpoint_config_name"] == SERVING
    assert endpoint.outputs["endpoint_config_name"] == SERVING
    assert endpoint.outputs["mlinfra:not_serving"]["applied"] == APPLIED
    # The plan still shows the endpoint's update as to make.
    code, out = mlinfra("plan", "--env", "dev", "-f", str(churn / "mlinfra.yaml"))
    assert "~ endpoint.churn-api " in out and f'endpoint_config_name: "{SERVING}"' in out

    # Once the cause is fixed, apply refreshes the stack first, so Pulumi updates again.
    describe_as(REGION, ENDPOINT, endpoint_config_name=APPLIED)
    fake_pulumi.calls.clear()
    code, out = apply_dev(churn)
    assert code == 0, out
    assert [c[0] for c in fake_pulumi.calls] == ["refreshed", "up", "stack_resources"]
    assert "endpoint.churn-api did not serve the update" in out
    assert f"serving: endpoint.churn-api serves {APPLIED} (InService)" in out
    endpoint = state_of(churn).get("endpoint.churn-api")
    assert "mlinfra:not_serving" not in endpoint.outputs
    assert endpoint.properties["endpoint_config_name"] == "ref:endpoint.churn-api/config.name"


def test_apply_reports_a_failed_update_with_sagemakers_reason(churn, fake_pulumi, account):
    endpoint_updated_to(APPLIED)
    reason = "Failed to provision the new fleet: insufficient ml.m5.large capacity"
    describe_as(REGION, ENDPOINT, failure_reason=reason)
    fake_pulumi.stacks["dev"] = applied_stack(alarms=[])
    code, out = apply_dev(churn)
    assert code == 1, out
    said = " ".join(out.split())
    assert f"SageMaker says: {reason}" in said
    assert "the update had no rollback alarm: the new fleet itself failed" in said


def test_apply_says_when_pulumi_deleted_the_configuration_in_service(churn, fake_pulumi, account):
    endpoint_updated_to(APPLIED)
    # Taking the update as done, Pulumi deleted the replaced configuration: the one serving.
    boto3.client("sagemaker", region_name=REGION).delete_endpoint_config(EndpointConfigName=SERVING)
    alarm(ALARMS[1], "ALARM", "5XX error rate above 1%")
    fake_pulumi.stacks["dev"] = applied_stack()
    code, out = apply_dev(churn)
    assert code == 1, out
    said = " ".join(out.split())
    assert f"alarm {ALARMS[1]} is in ALARM: 5XX error rate above 1%" in said
    assert f"configuration {SERVING}, the one in service, no longer exists" in said


def test_apply_passes_when_every_endpoint_serves_what_was_applied(churn, fake_pulumi, account):
    endpoint_updated_to(APPLIED)
    describe_as(REGION, ENDPOINT, endpoint_config_name=APPLIED)
    fake_pulumi.stacks["dev"] = applied_stack()
    code, out = apply_dev(churn)
    assert code == 0, out
    assert f"serving: endpoint.churn-api serves {APPLIED} (InService)" in out


def test_apply_without_credentials_says_it_did_not_check(churn, fake_pulumi) -> None:
    fake_pulumi.stacks["dev"] = applied_stack()
    code, out = apply_dev(churn)
    assert code == 0, out
    assert "did not check what the endpoints serve: no AWS credentials found" in out


def test_refresh_finds_an_endpoint_that_went_back_to_its_old_configuration(
    churn, fake_pulumi, account
):
    endpoint_updated_to(APPLIED)
    describe_as(REGION, ENDPOINT, endpoint_config_name=APPLIED)
    fake_pulumi.stacks["dev"] = applied_stack()
    assert apply_dev(churn)[0] == 0
    # Later, SageMaker rolls back an update made outside mlinfra; Pulumi reads it back.
    describe_as(REGION, ENDPOINT, endpoint_config_name=SERVING, last_deployment_config=ROLLBACK)
    alarm(ALARMS[0], "ALARM", "p99 model latency above 250 ms")
    fake_pulumi.stacks["dev"] = applied_stack(SERVING)
    code, out = mlinfra("refresh", "--env", "dev", "-f", str(churn / "mlinfra.yaml"))
    assert code == 1, out
    said = " ".join(out.split())
    assert "~ endpoint.churn-api: changed outside mlinfra: endpoint_config_name" in said
    assert f"serves {SERVING}, not {APPLIED}" in said and f"alarm {ALARMS[0]} is in ALARM" in said
    assert state_of(churn).get("endpoint.churn-api").outputs["mlinfra:not_serving"]["applied"] == (
        APPLIED
    )


def test_an_alarm_back_to_ok_is_found_in_its_history(account) -> None:
    """moto has no DescribeAlarmHistory: CloudWatch's answer is stubbed (botocore Stubber)."""
    from datetime import datetime

    from botocore.stub import Stubber

    from mlinfra.engines.endpoints import check

    endpoint_updated_to(APPLIED)
    alarm(ALARMS[0], "OK", "recovered")
    alarm(ALARMS[1], "OK", "fine")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    stub = Stubber(cloudwatch)
    alarms = [{"AlarmName": a, "StateValue": "OK"} for a in ALARMS]
    stub.add_response("describe_alarms", {"MetricAlarms": alarms}, {"AlarmNames": ALARMS})
    history = {"AlarmHistoryItems": []}
    fired = {
        "AlarmHistoryItems": [
            {
                "AlarmName": ALARMS[0],
                "Timestamp": datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
                "HistoryItemType": "StateUpdate",
                "HistorySummary": "Alarm updated from OK to ALARM",
                "HistoryData": json.dumps(
                    {"oldState": {"stateValue": "OK"}, "newState": {"stateValue": "ALARM"}}
                ),
            }
        ]
    }
    for name, answer in zip(ALARMS, (fired, history), strict=True):
        expected = {
            "AlarmName": name,
            "HistoryItemType": "StateUpdate",
            "ScanBy": "TimestampDescending",
            "StartDate": since,
        }
        stub.add_response("describe_alarm_history", answer, expected)
    with stub:
        (found,) = check(
            boto3.client("sagemaker", region_name=REGION),
            cloudwatch,
            [("endpoint.churn-api", ENDPOINT, APPLIED, ALARMS)],
            since,
        )
    assert not found.ok and found.serving == SERVING
    assert f"alarm {ALARMS[0]} went into ALARM at 2026-01-01 12:05:00+00:00" in found.reason
