"""The champion's metrics, for a `when:` that compares with the version that serves now
(`evaluate.metrics.auc >= serving.metrics.auc`).

The version that serves is the registry group's newest approved one (what every endpoint of
the model deploys, `mlinfra.sagemaker.registry`). Its metrics are those of its evaluation
report (`ModelMetrics.ModelQuality.Statistics`), written as a property file in SageMaker's
style for the condition to read:

    {"serving": {"exists": true, "version": 3},
     "metrics": {"auc": {"value": 0.91}}}

With no approved version, or one whose report lacks a metric the condition reads, `exists`
is false (and each metric 0): the condition holds, so a first model can be registered.

On SageMaker this file is a pipeline's `serving` Processing step, run on the scikit-learn
image (`python3 serving-lookup.py`) with the pipeline's role; it needs only boto3, which that
image has, and the standard library, so it is uploaded as it is. The local emulator's runner
calls `serving_document` itself with its own registry: one meaning on both targets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

STEP_NAME = "serving"  # the step's name, and the `when:` reference's head
SCRIPT_NAME = "serving-lookup.py"
GROUP_VARIABLE = "MLINFRA_SERVING_GROUP"
METRICS_VARIABLE = "MLINFRA_SERVING_METRICS"
EXISTS_PATH = "serving.exists"


def script() -> bytes:
    """This file, as the `serving` step runs it."""
    return Path(__file__).read_bytes()


def latest_approved(group: str) -> dict[str, Any]:
    """The request for the group's newest approved version: `sagemaker.registry`'s, written
    out because the step runs without mlinfra (a test holds the two equal)."""
    return {
        "ModelPackageGroupName": group,
        "ModelPackageType": "Versioned",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "ModelApprovalStatus": "Approved",
        "MaxResults": 1,
    }


def report_location(described: dict[str, Any]) -> str | None:
    """Where a described version's evaluation report is."""
    quality = (described.get("ModelMetrics") or {}).get("ModelQuality") or {}
    return (quality.get("Statistics") or {}).get("S3Uri")


def serving_document(
    approved: Iterable[dict[str, Any]],
    read_report: Callable[[str], Any],
    metrics: Iterable[str],
) -> dict[str, Any]:
    """The property file for the newest of `approved` (described versions, newest first),
    its report read by `read_report(location)`; `metrics` are those the condition reads."""
    wanted = list(metrics)
    empty = {name: {"value": 0.0} for name in wanted}
    newest = next(iter(approved), None)
    if newest is None:
        return {"serving": {"exists": False, "version": 0}, "metrics": empty}
    location = report_location(newest)
    try:
        report = read_report(location) if location else None
    except (OSError, ValueError):
        report = None
    found = (report or {}).get("metrics") if isinstance(report, dict) else None
    values = {}
    for name in wanted:
        entry = (found or {}).get(name) if isinstance(found, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            # A champion without the metric cannot be beaten on it: the comparison holds.
            return {
                "serving": {"exists": False, "version": newest.get("ModelPackageVersion", 0)},
                "metrics": empty,
            }
        values[name] = {"value": float(value)}
    version = newest.get("ModelPackageVersion", 0)
    return {"serving": {"exists": True, "version": version}, "metrics": values}


def main() -> None:  # pragma: no cover - runs in SageMaker's container
    import boto3

    group = os.environ[GROUP_VARIABLE]
    metrics = [m for m in os.environ.get(METRICS_VARIABLE, "").split(",") if m]
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    listed = sagemaker.list_model_packages(**latest_approved(group))["ModelPackageSummaryList"]
    approved = [
        sagemaker.describe_model_package(ModelPackageName=v["ModelPackageArn"]) for v in listed
    ]

    def read_report(location: str) -> Any:
        bucket, _, key = location.removeprefix("s3://").partition("/")
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    document = serving_document(approved, read_report, metrics)
    out = Path(os.environ.get("MLINFRA_PROCESSING_OUTPUT", "/opt/ml/processing/output"))
    target = out / "evaluation" / "evaluation.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document))
    print(json.dumps(document))


if __name__ == "__main__":
    main()
