"""Model-quality monitors on SageMaker lower to mlinfra's monitor job in its quality mode: the
same scheduled one-step pipeline as a data-quality monitor, no baseline, and a job role that
may read the labels, and reject versions of the serving model's group and nothing else."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import pytest

from mlinfra.frozen import thaw
from mlinfra.ir.graph import Concat, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.monitors import lower_monitor
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.monitoring.rollback import latest_approved_request
from mlinfra.policy.rules.identity import RESOURCE_WILDCARD_ONLY
from mlinfra.sagemaker.registry import latest_approved
from mlinfra.spec.validate import validate_file

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
ADDRESS = "monitor.churn-quality"
ACCOUNT = {"dev": "111111111111", "prod": "222222222222"}
REGION = {"dev": "us-east-1", "prod": "eu-west-1"}


@functools.cache
def spec(env: str):
    return validate_file(str(EXAMPLE / "mlinfra.yaml")).environments[env]


def lowered(env: str, **quality) -> dict:
    component = spec(env).component(ADDRESS)
    if quality:
        component = replace(component, quality=replace(component.quality, **quality))
    return {r.address: r for r in lower_monitor(LoweringContext(spec(env), EXAMPLE), component)}


def absolute(value: float):
    """An absolute line (the spec's lines are relative)."""
    return replace(spec("dev").component(ADDRESS).quality.alert, value=value, relative=False)


def step(env: str, **quality) -> dict:
    definition = thaw(lowered(env, **quality)[ADDRESS].properties["pipeline_definition"].value)
    assert check_definition(definition) == []
    (only,) = definition["Steps"]
    return only


def arguments(env: str, **quality) -> list:
    return step(env, **quality)["Arguments"]["AppSpecification"]["ContainerArguments"]


def options(env: str, **quality) -> dict:
    found = arguments(env, **quality)[1:]
    return dict(zip(found[::2], found[1::2], strict=True))


def statements(env: str, **quality) -> dict[str, dict]:
    policy = lowered(env, **quality)[f"{ADDRESS}/job-role-policy"].properties["policy"].value
    return {s["Sid"]: s for s in thaw(policy["Statement"])}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_quality_monitor_is_the_monitor_job_without_a_baseline(env):
    found = lowered(env)
    assert f"{ADDRESS}/baseline" not in found
    assert {a: r.type for a, r in found.items()} == {
        f"{ADDRESS}/code": "aws.s3.BucketObjectv2",
        f"{ADDRESS}/job-role": "aws.iam.Role",
        f"{ADDRESS}/job-role-policy": "aws.iam.RolePolicy",
        f"{ADDRESS}/role": "aws.iam.Role",
        f"{ADDRESS}/role-policy": "aws.iam.RolePolicy",
        ADDRESS: "aws.sagemaker.Pipeline",
        f"{ADDRESS}/schedule-role": "aws.iam.Role",
        f"{ADDRESS}/schedule-role-policy": "aws.iam.RolePolicy",
        f"{ADDRESS}/schedule": "aws.cloudwatch.EventRule",
        f"{ADDRESS}/schedule-target": "aws.cloudwatch.EventTarget",
        f"{ADDRESS}/alerts": "aws.sns.Topic",
        f"{ADDRESS}/alert-1": "aws.sns.TopicSubscription",
        f"{ADDRESS}/alarm-violations": "aws.cloudwatch.MetricAlarm",
    }


def test_the_job_runs_the_archive_in_quality_mode_with_the_specs_settings():
    found = arguments("dev")
    assert found[0] == "quality"
    given = options("dev")
    assert given["--ground-truth"] == "s3://churn-ground-truth/churn-api"
    assert given["--problem-type"] == "binary_classification"
    assert given["--metric"] == "accuracy"
    assert given["--window-seconds"] == "3600"
    assert given["--label-delay-seconds"] == "0"
    assert (given["--alert"], given["--rollback"]) == ("97%", "95%")
    assert given["--until"] == {"Get": "Execution.StartDateTime"}
    assert given["--execution"] == {"Get": "Execution.PipelineExecutionArn"}
    assert given["--endpoint"] == Ref("endpoint.churn-api", "name")
    assert given["--monitor"] == "churn-dev-churn-quality"


def test_absolute_lines_and_a_label_delay_reach_the_job_as_written():
    given = options(
        "dev",
        alert=absolute(0.9),
        rollback=None,
        label_delay="2h",
    )
    assert given["--alert"] == "0.9"
    assert "--rollback" not in given
    assert given["--label-delay-seconds"] == "7200"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_job_may_reject_versions_of_the_serving_group_only(env):
    arn = f"arn:aws:sagemaker:{REGION[env]}:{ACCOUNT[env]}"
    found = statements(env)
    assert found["ServingVersion"] == {
        "Effect": "Allow",
        "Action": ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
        "Resource": [f"{arn}:model-package/churn-{env}-churn/*"],
        "Sid": "ServingVersion",
    }
    assert found["DescribeServingEndpoint"]["Resource"] == [f"{arn}:endpoint/churn-{env}-churn-api"]
    assert found["DescribeServingModel"]["Resource"] == [
        f"{arn}:endpoint-config/churn-{env}-*",
        f"{arn}:model/churn-{env}-*",
    ]
    # Only ListModelPackages on "*": the one SageMaker action here without resource-level
    # permissions, and an exemption of the audit's wildcard rule.
    starred = [s for s in found.values() if "*" in s["Resource"]]
    actions = {a.lower() for s in starred for a in s["Action"]}
    assert "sagemaker:listmodelpackages" in actions
    assert actions <= set(RESOURCE_WILDCARD_ONLY)
    every = {a for s in found.values() for a in s["Action"]}
    assert not any(a.startswith("sagemaker:") and ("Delete" in a or "Create" in a) for a in every)


def test_without_a_rollback_line_the_job_may_not_change_the_registry():
    found = statements("dev", rollback=None)
    assert found["ServingVersion"]["Action"] == ["sagemaker:DescribeModelPackage"]
    assert "ListVersions" not in found
    every = {a for s in found.values() for a in s["Action"]}
    assert "sagemaker:UpdateModelPackage" not in every


def test_the_job_reads_the_labels_prefix_and_relative_lines_read_evaluation_reports():
    found = statements("dev")
    assert found["ReadGroundTruth"]["Resource"] == ["arn:aws:s3:::churn-ground-truth/churn-api/*"]
    assert found["ListGroundTruth"]["Condition"] == {"StringLike": {"s3:prefix": ["churn-api/*"]}}
    (report,) = found["ReadEvaluationReports"]["Resource"]
    assert isinstance(report, Concat)
    assert report.parts[-1] == "/pipelines/*/runs/*/evaluation/evaluation.json"
    without = statements("dev", alert=absolute(0.8), rollback=absolute(0.7))
    assert "ReadEvaluationReports" not in without


def test_the_jobs_registry_request_is_the_registrys_latest_approved_choice():
    assert latest_approved_request("g") == latest_approved("g")


def test_the_alarm_watches_the_jobs_violations_of_this_monitor():
    alarm = lowered("dev")[f"{ADDRESS}/alarm-violations"].properties
    assert alarm["metric_name"] == "violations"
    assert alarm["dimensions"]["Monitor"] == "churn-dev-churn-quality"
    assert "accuracy crossed a line" in alarm["alarm_description"]
