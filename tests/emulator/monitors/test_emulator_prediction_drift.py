"""Prediction drift in the emulator, through boto3: a data_quality monitor whose baseline has a
prediction column compares the captured responses with it, and alerts on prediction drift."""

from __future__ import annotations

import json
import random
from pathlib import Path

from monitor_project import COLUMNS, rows, write_capture
from test_monitoring_executions import create, run, sm, webhook  # noqa: F401


def predictions(count: int, high: bool = False, seed: int = 0) -> list[str]:
    """Churn probabilities: mostly low, or (high) what a model gone wrong would answer."""
    rng = random.Random(seed)
    return [f"{rng.uniform(0.6, 1.0) if high else rng.betavariate(2, 6):.6f}" for _ in range(count)]


def write_baseline_with_predictions(root: Path, count: int = 1000) -> None:
    """data/baseline.csv: the inputs and the model's output for each row."""
    lines = [",".join((*COLUMNS, "prediction"))]
    for row, prediction in zip(rows(count), predictions(count), strict=True):
        lines.append(",".join([*map(str, row), prediction]))
    (root / "data" / "baseline.csv").write_text("\n".join(lines) + "\n")


def report_folder(server, job: dict) -> Path:
    uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    return server.root / uri.removeprefix("file:")


def test_predictions_like_the_baselines_complete_without_violations(sm, server):  # noqa: F811
    write_baseline_with_predictions(server.root)
    create(sm)
    write_capture(server.root, rows(300, seed=1), outputs=predictions(300, seed=1))
    job = run(server, sm)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"].startswith("Completed: "), job["ExitMessage"]
    drift = json.loads((report_folder(server, job) / "drift.json").read_text())
    [prediction] = [f for f in drift["features"] if f.get("role") == "prediction"]
    assert prediction["name"] == "prediction" and prediction["drifted"] is False
    assert drift["notes"] == []


def test_drifted_predictions_alert_as_prediction_drift(sm, server, webhook):  # noqa: F811
    url, received = webhook
    write_baseline_with_predictions(server.root)
    create(sm, environment={"mlinfra_alert_targets": json.dumps([f"webhook:{url}/hook"])})
    # The same kind of customers as the baseline's, answered with far higher probabilities.
    write_capture(server.root, rows(300, seed=1), outputs=predictions(300, high=True, seed=1))
    job = run(server, sm)
    assert job["ExitMessage"].startswith("CompletedWithViolations"), job.get("FailureReason")
    violations = json.loads(
        (report_folder(server, job) / "constraint_violations.json").read_text()
    )["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("prediction", "baseline_drift_check")
    ]
    [alert] = [r["body"] for r in received if r["path"] == "/hook"]
    assert alert["violations"][0]["description"].startswith("Prediction drift: ")


def test_a_baseline_without_predictions_is_noted_once_in_the_report(sm, server):  # noqa: F811
    create(sm)  # the fixture's data set: inputs only
    write_capture(server.root, rows(300, seed=1), outputs=predictions(300, high=True, seed=1))
    job = run(server, sm)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    drift = json.loads((report_folder(server, job) / "drift.json").read_text())
    assert drift["notes"] == ["predictions not analysed: the baseline has no 'prediction' column"]
    assert "prediction" not in {f["name"] for f in drift["features"]}
