"""Monitors on mlinfra's own engine (the default) lower to a scheduled one-step pipeline running
the monitor job's archive on the scikit-learn image, two least-privilege roles, and an alarm
on the job's violations metric with the monitor's alerts and retraining."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from mlinfra.frozen import thaw
from mlinfra.ir.graph import Concat, FileAsset, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.monitors import lower_monitor
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.monitoring.bundle import job_archive, job_archive_sha256
from mlinfra.spec.validate import validate_file
from typed_specs import rebuilt

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
ADDRESS = "monitor.churn-drift"


@functools.cache
def spec(env: str):
    return validate_file(str(EXAMPLE / "mlinfra.yaml")).environments[env]


def lowered(env: str, **changes) -> dict:
    component = spec(env).component(ADDRESS)
    if changes:
        component = rebuilt(component, **changes)
    return {r.address: r for r in lower_monitor(LoweringContext(spec(env), EXAMPLE), component)}


def definition(env: str, **changes) -> dict:
    return thaw(lowered(env, **changes)[ADDRESS].properties["pipeline_definition"].value)


def step(env: str, **changes) -> dict:
    (only,) = definition(env, **changes)["Steps"]
    return only


def arguments(env: str, **changes) -> dict:
    """The job's command-line options, by name."""
    found = step(env, **changes)["Arguments"]["AppSpecification"]["ContainerArguments"]
    return dict(zip(found[::2], found[1::2], strict=True))


def statements(resources: dict, address: str) -> dict[str, dict]:
    found = thaw(resources[address].properties["policy"].value["Statement"])
    return {s["Sid"]: s for s in found}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_monitor_is_a_scheduled_pipeline_its_roles_alarm_alerts_and_retraining(env):
    assert {a: r.type for a, r in lowered(env).items()} == {
        f"{ADDRESS}/baseline": "aws.s3.BucketObjectv2",
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
        f"{ADDRESS}/retrain": "aws.cloudwatch.EventRule",
        f"{ADDRESS}/retrain-role": "aws.iam.Role",
        f"{ADDRESS}/retrain-role-policy": "aws.iam.RolePolicy",
        f"{ADDRESS}/retrain-target": "aws.cloudwatch.EventTarget",
    }


def test_the_code_is_the_archive_uploaded_under_its_content_hash():
    code = lowered("dev")[f"{ADDRESS}/code"].properties
    sha256 = job_archive_sha256()
    assert code["key"] == f"monitors/churn-drift/code/{sha256[:16]}/monitor-job.pyz"
    assert code["source"] == FileAsset("monitor-job.pyz", sha256, content=job_archive())
    assert code["bucket"] == Ref("bucket.monitoring", "bucket")
    assert "kms_key_id" not in code
    assert lowered("prod")[f"{ADDRESS}/code"].properties["kms_key_id"] == Ref("kms.key", "arn")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_definition_passes_the_pipeline_check(env):
    assert check_definition(definition(env)) == []


def test_the_step_runs_the_archive_on_the_scikit_learn_image():
    app = step("dev")["Arguments"]["AppSpecification"]
    assert app["ImageUri"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    )
    entrypoint = ["python3", "/opt/ml/processing/input/code/monitor-job.pyz"]
    assert app["ContainerEntrypoint"] == entrypoint
    (code,) = step("dev")["Arguments"]["ProcessingInputs"]
    assert code["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert code["S3Input"]["S3Uri"] == Concat(
        (
            "s3://",
            Ref(f"{ADDRESS}/code", "bucket"),
            f"/monitors/churn-drift/code/{job_archive_sha256()[:16]}/monitor-job.pyz",
        )
    )


def test_the_job_reads_its_window_from_the_execution_and_the_schedule():
    dev, prod = arguments("dev"), arguments("prod")
    assert dev["--until"] == {"Get": "Execution.StartDateTime"}
    assert dev["--period-hours"] == "24"  # daily
    assert prod["--period-hours"] == "1"  # prod's override: hourly
    assert dev["--drift-psi"] == "0.2"
    assert dev["--missing-percent"] == "5"
    assert dev["--monitor"] == "churn-dev-churn-drift"
    assert dev["--endpoint"] == Ref("endpoint.churn-api", "name")
    # SageMaker writes under DestinationS3Uri (s3://<capture>/<endpoint>) + /<endpoint>/.
    endpoint = Ref("endpoint.churn-api", "name")
    assert dev["--capture"] == Concat(
        ("s3://", Ref("bucket.capture", "bucket"), "/", endpoint, "/", endpoint, "/")
    )
    assert dev["--reports"] == Concat(
        ("s3://", Ref("bucket.monitoring", "bucket"), "/monitors/churn-drift/reports/")
    )


def test_new_thresholds_are_a_new_baseline():
    results = arguments("dev")["--baseline-results"]
    changed = arguments("dev", thresholds={"drift_psi": 0.3})
    assert changed["--drift-psi"] == "0.3"
    assert changed["--baseline-results"] != results


def test_prod_encrypts_volume_and_outputs_and_runs_in_its_vpc():
    prod = step("prod")["Arguments"]
    key = Ref("kms.key", "arn")
    assert prod["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert prod["Environment"] == {"MLINFRA_OUTPUT_KMS_KEY_ID": key}
    assert prod["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": False,
        # The job reads S3 and puts metrics itself.
        "EnableNetworkIsolation": False,
        "VpcConfig": {
            "SecurityGroupIds": ["sg-0123456789abcdef0"],
            "Subnets": ["subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e5f6071829"],
        },
    }
    dev = step("dev")["Arguments"]
    assert "VolumeKmsKeyId" not in dev["ProcessingResources"]["ClusterConfig"]
    assert "Environment" not in dev
    assert "VpcConfig" not in dev["NetworkConfig"]


def test_the_job_role_reads_capture_and_baseline_writes_its_data_and_puts_its_metrics():
    resources = lowered("dev")
    found = statements(resources, f"{ADDRESS}/job-role-policy")
    assert sorted(found) == [
        "EcrPull", "EcrToken", "ListCaptures", "ListMonitorData", "Logs", "Metrics",
        "MonitorData", "ReadBaselineDataSet", "ReadCaptures",
    ]  # fmt: skip
    endpoint = Concat((Ref("endpoint.churn-api", "name"), "/*"))
    assert found["ReadCaptures"]["Resource"] == [
        Concat((Ref("bucket.capture", "arn"), "/", endpoint))
    ]
    assert found["ListCaptures"]["Condition"] == {"StringLike": {"s3:prefix": [endpoint]}}
    assert found["MonitorData"]["Action"] == ["s3:GetObject", "s3:PutObject"]
    monitoring = Ref("bucket.monitoring", "arn")
    writes = [r.parts for r in found["MonitorData"]["Resource"]]
    assert writes[1] == (monitoring, "/monitors/churn-drift/reports/*")
    assert writes[0][1].startswith("/monitors/churn-drift/baseline-results/")
    assert found["Metrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ["mlinfra/Monitoring"]}
    }
    actions = {a for s in found.values() for a in s["Action"]}
    assert not any(a.startswith(("sagemaker:", "iam:")) for a in actions)


def test_the_pipeline_role_only_starts_the_job_with_the_job_role():
    resources = lowered("dev")
    found = statements(resources, f"{ADDRESS}/role-policy")
    assert sorted(found) == ["PassJobRole", "ProcessingJobs"]
    assert found["PassJobRole"]["Resource"] == [Ref(f"{ADDRESS}/job-role", "arn")]
    assert found["PassJobRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert found["ProcessingJobs"]["Action"] == [
        "sagemaker:AddTags",
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ]
    assert resources[ADDRESS].properties["role_arn"] == Ref(f"{ADDRESS}/role", "arn")
    assert step("dev")["Arguments"]["RoleArn"] == Ref(f"{ADDRESS}/job-role", "arn")


def test_the_schedule_starts_the_pipeline_twenty_minutes_after_the_monitors_hours():
    dev, prod = lowered("dev"), lowered("prod")
    assert dev[f"{ADDRESS}/schedule"].properties["schedule_expression"] == "cron(20 0 ? * * *)"
    assert prod[f"{ADDRESS}/schedule"].properties["schedule_expression"] == "cron(20 * ? * * *)"
    target = dev[f"{ADDRESS}/schedule-target"].properties
    assert target["arn"] == Ref(ADDRESS, "arn")
    assert target["rule"] == Ref(f"{ADDRESS}/schedule", "name")


def test_the_alarm_fires_on_any_violation_and_alerts_and_retrains():
    resources = lowered("dev")
    alarm = thaw(resources[f"{ADDRESS}/alarm-violations"].properties)
    assert alarm["namespace"] == "mlinfra/Monitoring"
    assert alarm["metric_name"] == "violations"
    assert alarm["dimensions"] == {
        "Monitor": "churn-dev-churn-drift",
        "Endpoint": Ref("endpoint.churn-api", "name"),
    }
    assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == (
        "Maximum",
        "GreaterThanThreshold",
        0,
    )
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == [Ref(f"{ADDRESS}/alerts", "arn")]
    pattern = thaw(resources[f"{ADDRESS}/retrain"].properties["event_pattern"].value)
    assert pattern["resources"] == [Ref(f"{ADDRESS}/alarm-violations", "arn")]


def test_an_s3_baseline_is_read_where_it_is_and_still_alarms():
    resources = lowered("dev", baseline="s3://team-data/churn/baseline.csv")
    assert f"{ADDRESS}/baseline" not in resources
    assert f"{ADDRESS}/alarm-violations" in resources
    found = statements(resources, f"{ADDRESS}/job-role-policy")
    assert found["ReadBaselineDataSet"]["Resource"] == ["arn:aws:s3:::team-data/churn/baseline.csv"]
    assert arguments("dev", baseline="s3://team-data/churn/baseline.csv")["--baseline-dataset"] == (
        "s3://team-data/churn/baseline.csv"
    )


def test_model_monitor_stays_an_explicit_choice():
    resources = lowered("dev", engine="model-monitor")
    assert resources[ADDRESS].type == "aws.sagemaker.MonitoringSchedule"
    assert f"{ADDRESS}/job-definition" in resources
