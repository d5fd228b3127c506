"""A model_quality monitor in the emulator, through boto3: captured predictions judged against
ground truth, the alert below its line, and the rollback that rejects the serving version."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitor_project import CONTAINER, client, create_endpoint, schedule_config
from test_monitoring_executions import detail, private, run, webhook  # noqa: F401

ENDPOINT = "hello-local-api"
MONITOR = "hello-local-quality"
GROUP = "hello-local-hello"


@pytest.fixture()
def sm(server):
    """A registry group with two approved versions (accuracy 0.9, then 0.95 at registration),
    and an endpoint serving the newer one, capturing its predictions."""
    sagemaker = client(server)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for accuracy in ("0.9", "0.95"):
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [CONTAINER],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties={"accuracy": accuracy},
        )
    create_endpoint(sagemaker, ENDPOINT, container={"ModelPackageName": package_arn(sagemaker, 2)})
    return sagemaker


def package_arn(sm, version: int) -> str:
    listed = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    return next(p["ModelPackageArn"] for p in listed if p["ModelPackageVersion"] == version)


def create_quality_monitor(sm, targets: list[str], **lines: str) -> None:
    config = schedule_config(MONITOR, ENDPOINT)
    config["MonitoringType"] = "ModelQuality"
    job = config["MonitoringJobDefinition"]
    del job["BaselineConfig"]
    job["Environment"] = {
        "mlinfra_problem_type": "binary_classification",
        "mlinfra_metric": "accuracy",
        "mlinfra_ground_truth": "file:data/ground-truth",
        "mlinfra_window": "1d",
        "mlinfra_label_delay": "1m",
        "mlinfra_model_package_group": GROUP,
        "mlinfra_alert_targets": json.dumps(targets),
        **{f"mlinfra_{name}_line": value for name, value in lines.items()},
    }
    sm.create_monitoring_schedule(MonitoringScheduleName=MONITOR, MonitoringScheduleConfig=config)


def serve(root: Path, right: int, wrong: int) -> None:
    """Captured predictions (probabilities, with the caller's inference ids) and, in
    SageMaker's ground-truth format, their labels: `right` of them predicted correctly."""
    when = datetime.now(UTC) - timedelta(minutes=10)
    hour = when.strftime("%Y/%m/%d/%H")
    capture = root / ".mlinfra/emulator/capture" / ENDPOINT / ENDPOINT / "AllTraffic" / hour
    truth = root / "data/ground-truth" / hour
    capture.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    events, labels = [], []
    for i in range(right + wrong):
        key = f"order-{uuid.uuid4()}"
        score = "0.8" if i % 2 else "0.3"
        label = ("1" if i % 2 else "0") if i < right else ("0" if i % 2 else "1")
        output = {"observedContentType": "text/csv", "mode": "OUTPUT", "data": score,
                  "encoding": "CSV"}  # fmt: skip
        request = {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2",
                   "encoding": "CSV"}  # fmt: skip
        events.append(
            {
                "captureData": {"endpointInput": request, "endpointOutput": output},
                "eventMetadata": {
                    "eventId": str(uuid.uuid4()),
                    "inferenceId": key,
                    "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                "eventVersion": "0",
            }
        )
        labels.append(
            {
                "groundTruthData": {"data": label, "encoding": "CSV"},
                "eventMetadata": {"eventId": key},
                "eventVersion": "0",
            }
        )
    (capture / f"{uuid.uuid4()}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (truth / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))


def test_accuracy_above_its_lines_completes_and_rejects_nothing(sm, server):
    create_quality_monitor(sm, [], alert="97%", rollback="95%")
    serve(server.root, right=95, wrong=5)  # 0.95 >= 97% of 0.95 at registration
    job = run(server, sm, MONITOR)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"].startswith("Completed: ")
    report = Path(detail(server, job, MONITOR)["ReportFolder"])
    quality = json.loads((report / "quality.json").read_text())
    assert quality["value"] == pytest.approx(0.95)
    assert quality["reference"] == 0.95
    assert quality["alert"] == {"threshold": pytest.approx(0.9215), "crossed": False}
    described = sm.describe_model_package(ModelPackageName=package_arn(sm, 2))
    assert described["ModelApprovalStatus"] == "Approved"


def test_below_the_rollback_line_rejects_the_serving_version_and_says_so(
    sm,
    server,
    webhook,  # noqa: F811
):
    url, received = webhook
    create_quality_monitor(sm, [f"webhook:{url}/hook"], alert="97%", rollback="95%")
    serve(server.root, right=80, wrong=20)  # 0.8 < 95% of 0.95
    job = run(server, sm, MONITOR)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"].startswith("CompletedWithViolations")

    served = sm.describe_model_package(ModelPackageName=package_arn(sm, 2))
    assert served["ModelApprovalStatus"] == "Rejected"
    assert f"Rejected by monitor {MONITOR}" in served["ApprovalDescription"]
    assert "accuracy 0.8 over 100 labelled predictions" in served["ApprovalDescription"]
    latest = sm.list_model_packages(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )["ModelPackageSummaryList"]
    assert latest[0]["ModelPackageVersion"] == 1  # what the endpoint serves after apply

    (hook,) = [r["body"] for r in received if r["path"] == "/hook"]
    assert hook["quality"]["value"] == pytest.approx(0.8)
    assert [v["constraint_check_type"] for v in hook["violations"]] == ["LessThanThreshold"] * 2
    assert hook["rollback"]["rolled_back"] is True
    assert hook["rollback"]["rejected"] == served["ModelPackageArn"]
    assert hook["rollback"]["serves_next"] == package_arn(sm, 1)
    assert "version 2 rejected; the previous approved version 1" in hook["rollback"]["message"]
    alerts = private(server, f"/monitoring-schedules/{MONITOR}/alerts")["alerts"]
    assert alerts[0]["rollback"] == hook["rollback"]["message"]


def test_between_the_lines_alerts_without_rollback(sm, server, webhook):  # noqa: F811
    url, received = webhook
    create_quality_monitor(sm, [f"webhook:{url}/hook"], alert="0.95", rollback="0.85")
    serve(server.root, right=90, wrong=10)
    run(server, sm, MONITOR)
    (hook,) = [r["body"] for r in received]
    assert len(hook["violations"]) == 1 and "rollback" not in hook
    served = sm.describe_model_package(ModelPackageName=package_arn(sm, 2))
    assert served["ModelApprovalStatus"] == "Approved"


def test_a_bad_quality_setting_is_refused_naming_it(sm):
    with pytest.raises(Exception, match="mlinfra_metric: rmse is not a metric of binary"):
        config = schedule_config(MONITOR, ENDPOINT)
        config["MonitoringType"] = "ModelQuality"
        config["MonitoringJobDefinition"]["Environment"] = {
            "mlinfra_problem_type": "binary_classification",
            "mlinfra_metric": "rmse",
            "mlinfra_ground_truth": "file:data/ground-truth",
            "mlinfra_window": "1d",
        }
        sm.create_monitoring_schedule(
            MonitoringScheduleName=MONITOR, MonitoringScheduleConfig=config
        )
