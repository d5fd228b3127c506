"""A spec monitor lowered for `target: local`: SageMaker's CreateMonitoringSchedule request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlinfra.emulator.constraints import check_value
from mlinfra.emulator.protocol import CONTROL_SERVICE
from mlinfra.ir.graph import Ref
from mlinfra.ir.lower import lower
from mlinfra.sagemaker.api import service_model
from mlinfra.spec.validate import validate_file
from mlinfra.spec.values import schedule_of_tag

CHURN = Path(__file__).parents[2] / "examples" / "churn"


def local_graph(folder: Path = CHURN):
    return lower(validate_file(folder / "mlinfra.yaml").environments["local"], folder)


def churn_monitor(folder: Path = CHURN):
    """The churn example's drift monitor (its quality monitor is lowered beside it)."""
    (monitor,) = [
        m
        for m in local_graph(folder).of_type("local.MonitoringSchedule")
        if m.address == "monitor.churn-drift"
    ]
    return monitor


def test_the_churn_monitor_watches_its_endpoint_against_its_baseline():
    monitor = churn_monitor()
    assert monitor.address == "monitor.churn-drift"
    assert monitor.properties["MonitoringScheduleName"] == "churn-local-churn-drift"
    config = monitor.properties["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"] == {"ScheduleExpression": "daily"}
    assert config["MonitoringType"] == "DataQuality"
    job = config["MonitoringJobDefinition"]
    endpoint = job["MonitoringInputs"][0]["EndpointInput"]["EndpointName"]
    assert endpoint == Ref("endpoint.churn-api", "name")
    results = job["BaselineConfig"]["ConstraintsResource"]["S3Uri"]
    assert results.startswith("file:.mlinfra/emulator/monitors/churn-local-churn-drift/")
    assert results.endswith("/constraints.json")
    reports = job["MonitoringOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"]
    assert reports == "file:.mlinfra/emulator/monitors/churn-local-churn-drift/reports"


def test_thresholds_alerts_and_retraining_reach_the_monitoring_job():
    environment = churn_monitor().properties["MonitoringScheduleConfig"]["MonitoringJobDefinition"][
        "Environment"
    ]
    assert environment == {
        "mlinfra_baseline_dataset": "file:data/baseline.csv",
        "mlinfra_drift_psi": "0.2",
        "mlinfra_missing_percent": "5",
        "mlinfra_alert_targets": json.dumps(["email:ml-oncall@example.com"]),
        "mlinfra_retrain_pipeline": "churn-local-train-churn",
    }
    # Retraining starts the pipeline by name: it is created first.
    assert "pipeline.train-churn" in churn_monitor().depends_on


def copy_of_churn(tmp_path: Path) -> Path:
    folder = tmp_path / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns(".mlinfra", "__pycache__"))
    return folder


def baseline_uri(folder: Path) -> str:
    job = churn_monitor(folder).properties["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    return job["BaselineConfig"]["StatisticsResource"]["S3Uri"]


def test_a_new_baseline_or_threshold_gets_fresh_baseline_results(tmp_path: Path):
    folder = copy_of_churn(tmp_path)
    before = baseline_uri(folder)
    spec = folder / "mlinfra.yaml"
    spec.write_text(spec.read_text().replace("drift_psi: 0.2", "drift_psi: 0.25"))
    after_threshold = baseline_uri(folder)
    assert after_threshold != before
    with (folder / "data" / "baseline.csv").open("a") as stream:
        stream.write("12,50.0,600.0,one-year,0\n")
    assert baseline_uri(folder) not in (before, after_threshold)


def test_pipelines_carry_their_schedule_for_the_emulator():
    pipeline, batch_job = local_graph().of_type("local.Pipeline")
    tags = {t["Key"]: t["Value"] for t in pipeline.properties["Tags"]}
    assert schedule_of_tag(tags["mlinfra:schedule"]) == "cron(0 3 * * ? *)"
    # A batch job runs as a pipeline, on its own schedule.
    batch_tags = {t["Key"]: t["Value"] for t in batch_job.properties["Tags"]}
    assert schedule_of_tag(batch_tags["mlinfra:schedule"]) == "cron(0 5 * * ? *)"
    # `( * ? )` are not allowed in a tag value: the emulator refuses them, as AWS does.
    rule = service_model(CONTROL_SERVICE).shape_for("TagValue")
    assert check_value(tags["mlinfra:schedule"], rule, "value") is None
    assert check_value("cron(0 3 * * ? *)", rule, "value") is not None


def test_too_many_alert_targets_for_an_environment_value_is_a_clear_error(tmp_path: Path):
    # The emulator's monitoring job reads its alert targets from one environment variable,
    # which SageMaker limits to 256 characters: validation says so at the targets' line.
    folder = copy_of_churn(tmp_path)
    spec = folder / "mlinfra.yaml"
    many = ", ".join(f'"webhook:https://hooks.example.com/ml/{i:03d}"' for i in range(8))
    # The drift monitor's targets (the first monitor that names them).
    text = spec.read_text().replace('alert: ["email:ml-oncall@example.com"]', f"alert: [{many}]", 1)
    spec.write_text(text)
    result = validate_file(spec)
    (found,) = [d for d in result.diagnostics if d.is_error]
    assert found.code == "too-long"
    assert "alert targets" in found.summary and "over the 256 SageMaker allows" in found.summary
    assert found.environments == ("local",)
    assert found.range.start.line == text[: text.index(many)].count("\n") + 1
