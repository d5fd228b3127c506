"""Monitors on `engine: model-monitor` lower to a Model Monitor data-quality schedule, its
alerts, alarms and retraining (mlinfra's own engine: test_lower_monitor_job.py)."""

from __future__ import annotations

import functools
import hashlib
import shutil
from pathlib import Path

import pytest

from mlinfra.ir.graph import Concat, FileAsset, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.monitors import lower_monitor
from mlinfra.sagemaker import images
from mlinfra.spec.validate import validate_file
from typed_specs import rebuilt

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
ADDRESS = "monitor.churn-drift"
# The baseline's columns: the inputs, then the model's output (its drift is prediction drift).
FEATURES = [
    "tenure_months", "monthly_charges", "total_charges", "contract", "support_calls", "prediction"
]  # fmt: skip


@functools.cache
def spec(env: str):
    return validate_file(str(EXAMPLE / "mlinfra.yaml")).environments[env]


def lowered(env: str, spec_dir: Path = EXAMPLE, **changes) -> dict:
    component = spec(env).component(ADDRESS)
    changes = {"engine": "model-monitor", **changes}
    component = rebuilt(component, **changes)
    ctx = LoweringContext(spec(env), spec_dir)
    return {r.address: r for r in lower_monitor(ctx, component)}


def props(env: str, address: str = ADDRESS, **changes):
    return lowered(env, **changes)[address].properties


def job(env: str, **changes):
    return props(env, f"{ADDRESS}/job-definition", **changes)


def policy(resources: dict, address: str) -> list[dict]:
    return list(resources[address].properties["policy"].value["Statement"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_monitor_is_its_schedule_job_role_alerts_alarms_and_retraining(env):
    assert {a: r.type for a, r in lowered(env).items()} == {
        f"{ADDRESS}/baseline": "aws.s3.BucketObjectv2",
        f"{ADDRESS}/role": "aws.iam.Role",
        f"{ADDRESS}/role-policy": "aws.iam.RolePolicy",
        f"{ADDRESS}/job-definition": "aws.sagemaker.DataQualityJobDefinition",
        ADDRESS: "aws.sagemaker.MonitoringSchedule",
        f"{ADDRESS}/alerts": "aws.sns.Topic",
        f"{ADDRESS}/alert-1": "aws.sns.TopicSubscription",
        f"{ADDRESS}/alarm-violations": "aws.cloudwatch.MetricAlarm",
        f"{ADDRESS}/alarm-missing": "aws.cloudwatch.MetricAlarm",
        f"{ADDRESS}/retrain": "aws.cloudwatch.EventRule",
        f"{ADDRESS}/retrain-role": "aws.iam.Role",
        f"{ADDRESS}/retrain-role-policy": "aws.iam.RolePolicy",
        f"{ADDRESS}/retrain-target": "aws.cloudwatch.EventTarget",
    }


# --- the schedule and job ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expression"), [("prod", "cron(0 * ? * * *)"), ("dev", "cron(0 0 ? * * *)")]
)
def test_the_schedule_is_in_model_monitors_own_form(env, expression):
    schedule = props(env)
    assert schedule["name"] == f"churn-{env}-churn-drift"
    config = schedule["monitoring_schedule_config"].fields
    assert config["monitoring_type"] == "DataQuality"
    assert config["monitoring_job_definition_name"] == Ref(f"{ADDRESS}/job-definition", "name")
    assert config["schedule_config"].fields == {"schedule_expression": expression}


def test_the_job_watches_the_endpoint_with_the_model_monitor_image():
    found = job("prod")
    assert found["name"] == "churn-prod-churn-drift"
    app = found["data_quality_app_specification"].fields
    assert app["image_uri"] == images.image_uri("model-monitor", None, "eu-west-1")
    assert app["environment"] == {"publish_cloudwatch_metrics": "Enabled"}
    endpoint = found["data_quality_job_input"].fields["endpoint_input"].fields
    assert endpoint["endpoint_name"] == Ref("endpoint.churn-api", "name")
    assert endpoint["local_path"] == "/opt/ml/processing/input/endpoint"
    assert found["role_arn"] == Ref(f"{ADDRESS}/role", "arn")
    assert found["stopping_condition"].fields == {"max_runtime_in_seconds": 3600}


def test_prod_job_is_encrypted_isolated_and_in_the_vpc():
    found = job("prod")
    key = Ref("kms.key", "arn")
    output = found["data_quality_job_output_config"].fields
    assert output["kms_key_id"] == key
    s3_output = output["monitoring_outputs"].fields["s3_output"].fields
    assert s3_output["s3_uri"] == Concat(
        ("s3://", Ref("bucket.monitoring", "bucket"), "/monitors/churn-drift/reports")
    )
    assert s3_output["local_path"] == "/opt/ml/processing/output"
    cluster = found["job_resources"].fields["cluster_config"].fields
    assert cluster == {
        "instance_count": 1,
        "instance_type": "ml.m5.large",
        "volume_size_in_gb": 20,
        "volume_kms_key_id": key,
    }
    network = found["network_config"].fields
    assert network["enable_network_isolation"] is True
    assert network["vpc_config"].fields["security_group_ids"] == ("sg-0123456789abcdef0",)


def test_dev_job_has_no_key_and_no_vpc():
    found = job("dev")
    assert "kms_key_id" not in found["data_quality_job_output_config"].fields
    assert "vpc_config" not in found["network_config"].fields


def test_the_local_baseline_is_uploaded_and_its_results_named_after_its_hash():
    digest = hashlib.sha256((EXAMPLE / "data" / "baseline.csv").read_bytes()).hexdigest()
    upload = props("dev", f"{ADDRESS}/baseline")
    assert upload["bucket"] == Ref("bucket.monitoring", "bucket")
    assert upload["key"] == f"monitors/churn-drift/baseline/{digest[:16]}/baseline.csv"
    assert upload["source"] == FileAsset("data/baseline.csv", digest)
    baseline = job("dev")["data_quality_baseline_config"].fields
    results = f"/monitors/churn-drift/baseline-results/{digest[:16]}"
    assert baseline["statistics_resource"].fields["s3_uri"] == Concat(
        ("s3://", Ref("bucket.monitoring", "bucket"), f"{results}/statistics.json")
    )
    assert baseline["constraints_resource"].fields["s3_uri"] == Concat(
        ("s3://", Ref("bucket.monitoring", "bucket"), f"{results}/constraints.json")
    )


def test_an_s3_baseline_is_used_in_place_and_gets_no_alarms():
    resources = lowered("dev", baseline="s3://data-bucket/churn/baseline.csv")
    assert f"{ADDRESS}/baseline" not in resources
    assert not any("/alarm-" in a or "/retrain" in a for a in resources)
    statements = {s["Sid"]: s for s in policy(resources, f"{ADDRESS}/role-policy")}
    assert "arn:aws:s3:::data-bucket/churn/baseline.csv" in statements["ReadBaseline"]["Resource"]


# --- alerts and alarms ------------------------------------------------------------------------


def test_the_email_target_subscribes_to_the_monitors_topic():
    resources = lowered("prod")
    topic = resources[f"{ADDRESS}/alerts"].properties
    assert topic["name"] == "churn-prod-churn-drift-alerts"
    assert topic["kms_master_key_id"] == Ref("kms.key", "arn")
    subscription = resources[f"{ADDRESS}/alert-1"].properties
    assert dict(subscription) == {
        "topic": Ref(f"{ADDRESS}/alerts", "arn"),
        "protocol": "email",
        "endpoint": "ml-oncall@example.com",
    }


def test_webhooks_subscribe_over_https_and_sns_topics_are_alarm_actions():
    topic_arn = "arn:aws:sns:us-east-1:111111111111:ml-alerts"
    on_violation = {
        "alert": ["webhook:https://hooks.example.com/ml", f"sns:{topic_arn}"],
        "retrain": "train-churn",
    }
    resources = lowered("dev", on_violation=on_violation)
    subscription = resources[f"{ADDRESS}/alert-1"].properties
    assert subscription["protocol"] == "https"
    assert subscription["endpoint"] == "https://hooks.example.com/ml"
    assert f"{ADDRESS}/alert-2" not in resources
    actions = resources[f"{ADDRESS}/alarm-violations"].properties["alarm_actions"]
    assert actions == (Ref(f"{ADDRESS}/alerts", "arn"), topic_arn)


def test_only_sns_targets_need_no_topic():
    resources = lowered("dev", on_violation={"alert": ["sns:arn:aws:sns:us-east-1:1:t"]})
    assert f"{ADDRESS}/alerts" not in resources
    alarm = resources[f"{ADDRESS}/alarm-violations"].properties
    assert alarm["alarm_actions"] == ("arn:aws:sns:us-east-1:1:t",)


def queries(alarm) -> dict[str, dict]:
    return {q.fields["id"]: q.fields for q in alarm["metric_queries"]}


@pytest.mark.parametrize(("env", "period"), [("prod", 3600), ("dev", 86400)])
def test_the_drift_alarm_watches_every_baseline_feature_once_per_execution(env, period):
    alarm = props(env, f"{ADDRESS}/alarm-violations")
    found = queries(alarm)
    metrics = [found[f"m{i}"]["metric"].fields for i in range(len(FEATURES))]
    assert [m["metric_name"] for m in metrics] == [f"feature_baseline_drift_{f}" for f in FEATURES]
    assert all(m["namespace"] == "aws/sagemaker/Endpoints/data-metrics" for m in metrics)
    assert all(m["period"] == period for m in metrics)
    assert metrics[0]["dimensions"] == {
        "Endpoint": f"churn-{env}-churn-api",
        "MonitoringSchedule": f"churn-{env}-churn-drift",
    }
    assert found["worst"]["expression"] == "MAX([m0, m1, m2, m3, m4, m5])"
    assert found["worst"]["return_data"] is True
    assert alarm["threshold"] == 0.2
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarm["alarm_actions"] == (Ref(f"{ADDRESS}/alerts", "arn"),)


def test_the_missing_values_alarm_fires_below_the_completeness_threshold():
    alarm = props("dev", f"{ADDRESS}/alarm-missing")
    assert alarm["threshold"] == 0.95
    assert alarm["comparison_operator"] == "LessThanThreshold"
    found = queries(alarm)
    assert found["m0"]["metric"].fields["metric_name"] == "feature_non_null_tenure_months"
    assert found["worst"]["expression"].startswith("MIN(")


def test_a_wide_baseline_is_split_across_alarms_of_ten_metrics(tmp_path):
    copy = tmp_path / "churn"
    shutil.copytree(EXAMPLE, copy)
    header = ",".join(f"f{i}" for i in range(23))
    (copy / "data" / "baseline.csv").write_text(header + "\n" + ",".join("1" * 23) + "\n")
    resources = lowered("dev", copy)
    drift = [a for a in resources if "/alarm-violations" in a]
    assert drift == [
        f"{ADDRESS}/alarm-violations",
        f"{ADDRESS}/alarm-violations-2",
        f"{ADDRESS}/alarm-violations-3",
    ]
    assert len(queries(resources[drift[2]].properties)) == 3 + 1
    pattern = resources[f"{ADDRESS}/retrain"].properties["event_pattern"].value
    assert len(pattern["resources"]) == 6


# --- retraining -------------------------------------------------------------------------------


def test_a_violation_alarm_starts_the_train_churn_pipeline():
    resources = lowered("prod")
    pattern = resources[f"{ADDRESS}/retrain"].properties["event_pattern"].value
    assert pattern["source"] == ("aws.cloudwatch",)
    assert pattern["detail-type"] == ("CloudWatch Alarm State Change",)
    assert pattern["detail"] == {"state": {"value": ("ALARM",)}}
    assert pattern["resources"] == (
        Ref(f"{ADDRESS}/alarm-violations", "arn"),
        Ref(f"{ADDRESS}/alarm-missing", "arn"),
    )
    target = resources[f"{ADDRESS}/retrain-target"].properties
    assert target["arn"] == Ref("pipeline.train-churn", "arn")
    assert target["rule"] == Ref(f"{ADDRESS}/retrain", "name")
    assert target["role_arn"] == Ref(f"{ADDRESS}/retrain-role", "arn")
    [allowed] = policy(resources, f"{ADDRESS}/retrain-role-policy")
    assert allowed["Action"] == ("sagemaker:StartPipelineExecution",)
    assert allowed["Resource"] == (Ref("pipeline.train-churn", "arn"),)


def test_without_retrain_there_is_no_rule():
    resources = lowered("dev", on_violation={"alert": ["email:a@example.com"]})
    assert not any("/retrain" in a for a in resources)


# --- the role ---------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_statement_allows_every_action_on_every_resource(env):
    resources = lowered(env)
    for address in (f"{ADDRESS}/role-policy", f"{ADDRESS}/retrain-role-policy"):
        for statement in policy(resources, address):
            assert not ("*" in statement["Action"] and "*" in statement["Resource"])
            assert all(not action.endswith(":*") for action in statement["Action"])


def test_the_role_reads_the_endpoints_captures_and_writes_only_its_reports():
    found = {s["Sid"]: s for s in policy(lowered("prod"), f"{ADDRESS}/role-policy")}
    capture, monitoring = Ref("bucket.capture", "arn"), Ref("bucket.monitoring", "arn")
    assert found["ReadCaptures"]["Resource"] == (Concat((capture, "/churn-prod-churn-api/*")),)
    assert found["WriteReports"]["Resource"] == (
        Concat((monitoring, "/monitors/churn-drift/reports/*")),
    )
    assert found["Metrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ("aws/sagemaker/Endpoints/data-metrics",)}
    }
    assert found["EcrPull"]["Resource"] == (
        "arn:aws:ecr:eu-west-1:468650794304:repository/sagemaker-model-monitor-analyzer",
    )
    assert found["UseKmsKey"]["Resource"] == (Ref("kms.key", "arn"),)


def test_lowering_is_deterministic():
    assert lowered("prod") == lowered("prod")
