"""The rollback a model-quality monitor makes below its rollback line: the one piece of code the
emulator's executions and the SageMaker monitor job both run.

It talks to SageMaker through `call(operation, request) -> response`: the emulator passes its
control plane's dispatch, the job a boto3 client (`boto3_call`). A failed call raises
`ApiFailure` with the service's message, whoever made it.

- `serving_package` finds the registry version an endpoint serves (DescribeEndpoint, its
  configuration, its first variant's model, the model's `ModelPackageName`), or None when it
  serves an artifact or cannot be described (an empty account: nothing to judge against);
- `registered_metric` is the metric that version was evaluated with at registration (its
  `CustomerMetadataProperties` entry of the metric's name, else its evaluation report), what
  relative lines are shares of;
- `roll_back` marks that version `Rejected` with the reason (`ApprovalDescription`), so that
  the newest approved version before it is the group's latest approved again: what the
  endpoint serves after the next `mlinfra apply` (the local providers and the rendered
  SageMaker program both choose the latest approved version when they run). It says what it
  did, and what serves next, in words the alert carries.

Only the standard library (and botocore, in `boto3_call`) is imported: this module runs
inside the job's archive (`bundle`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.quality_metrics import lower_is_better

Call = Callable[[str, dict], dict]

# ApprovalDescription's maximum length (botocore's SageMaker model, shape ApprovalDescription).
APPROVAL_DESCRIPTION_MAX = 1024


class ApiFailure(MonitoringError):
    """A SageMaker request was refused: its message."""


def latest_approved_request(group: str) -> dict[str, Any]:
    """ListModelPackages for the group's newest approved version (the registry's choice,
    `mlinfra.sagemaker.registry.latest_approved`, written out here because the job's archive
    carries nothing of mlinfra but the monitoring package; a test holds the two equal)."""
    return {
        "ModelPackageGroupName": group,
        "ModelPackageType": "Versioned",
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "ModelApprovalStatus": "Approved",
        "MaxResults": 1,
    }


def serving_package(call: Call, endpoint: str) -> dict | None:
    """The registry version `endpoint` serves (DescribeModelPackage), if it serves one."""
    try:
        described = call("DescribeEndpoint", {"EndpointName": endpoint})
        config = call(
            "DescribeEndpointConfig", {"EndpointConfigName": described["EndpointConfigName"]}
        )
        model_name = config["ProductionVariants"][0]["ModelName"]
        model = call("DescribeModel", {"ModelName": model_name})
        containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
        arn = next((c["ModelPackageName"] for c in containers if c.get("ModelPackageName")), None)
        if arn is None:
            return None
        return call("DescribeModelPackage", {"ModelPackageName": arn})
    except (ApiFailure, KeyError, IndexError, TypeError):
        return None


def registered_metric(
    package: dict | None, metric: str, read: Callable[[str], bytes | None] | None = None
) -> float | None:
    """The metric the version was evaluated with at registration, when it is a number: its
    `CustomerMetadataProperties` entry of the metric's name, else the evaluation report it
    was registered with (`ModelMetrics.ModelQuality.Statistics.S3Uri`, read with `read`):
    `{"metrics": {"accuracy": {"value": 0.86}}}` as pipeline conditions read it, or Model
    Monitor's `{"binary_classification_metrics": {"accuracy": {"value": 0.86}}}`."""
    text = ((package or {}).get("CustomerMetadataProperties") or {}).get(metric)
    if text is not None:
        return _number(text)
    statistics = (((package or {}).get("ModelMetrics") or {}).get("ModelQuality") or {}).get(
        "Statistics"
    ) or {}
    uri = statistics.get("S3Uri")
    if read is None or not isinstance(uri, str):
        return None
    try:
        report = json.loads(read(uri) or b"null")
    except ValueError:
        return None
    if not isinstance(report, dict):
        return None
    sections = [report.get("metrics")]
    sections += [value for key, value in sorted(report.items()) if key.endswith("_metrics")]
    for section in sections:
        entry = section.get(metric) if isinstance(section, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else entry
        if value is not None:
            return _number(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def roll_back(
    call: Call,
    quality: dict,
    package: dict | None,
    *,
    monitor: str,
    execution: str,
    endpoint: str,
) -> dict[str, Any]:
    """Reject the serving version (`quality` is the run's quality.json, its rollback line
    crossed); what was done, and what serves next, with a `message` in words."""
    metric, value = quality["metric"], quality["value"]
    line = quality["rollback"]["threshold"]
    side = "above" if lower_is_better(metric) else "below"
    if package is None:
        return {
            "rolled_back": False,
            "message": f"{metric} {value:.4g} is {side} the rollback line {line:.4g}, but "
            f"endpoint {endpoint} serves no registry version: nothing was rolled back",
        }
    arn = package["ModelPackageArn"]
    version = package.get("ModelPackageVersion")
    if package.get("ModelApprovalStatus") == "Rejected":
        # An earlier run rejected it and the endpoint has not been updated since.
        return {
            "rolled_back": False,
            "rejected": arn,
            "message": f"version {version} is already rejected; the previous approved version "
            "serves after the next mlinfra apply",
        }
    reason = (
        f"Rejected by monitor {monitor} (execution {execution}): {metric} {value:.4g} over "
        f"{quality['labelled']} labelled predictions is {side} the rollback line {line:.4g}"
    )[:APPROVAL_DESCRIPTION_MAX]
    try:
        call(
            "UpdateModelPackage",
            {
                "ModelPackageArn": arn,
                "ModelApprovalStatus": "Rejected",
                "ApprovalDescription": reason,
            },
        )
    except ApiFailure as failure:
        return {"rolled_back": False, "message": f"version {arn} not rejected: {failure}"}
    result: dict[str, Any] = {"rolled_back": True, "rejected": arn, "reason": reason}
    group = package.get("ModelPackageGroupName")
    try:
        found = call("ListModelPackages", latest_approved_request(group)) if group else {}
    except ApiFailure as failure:
        # Rejected all the same: only the name of what serves next is unknown.
        result["message"] = (
            f"version {version} rejected; the newest approved version before it serves after "
            f"the next mlinfra apply (its name is unknown: {failure})"
        )
        return result
    previous = (found.get("ModelPackageSummaryList") or [None])[0]
    if previous is None:
        result["serves_next"] = None
        result["message"] = (
            f"version {version} rejected; the group has no other approved version, so the "
            "endpoint keeps serving it until one is approved"
        )
    else:
        result["serves_next"] = previous["ModelPackageArn"]
        result["message"] = (
            f"version {version} rejected; the previous approved version "
            f"{previous.get('ModelPackageVersion')} serves after the next mlinfra apply"
        )
    return result


def boto3_call(client: Any) -> Call:
    """`call` over a boto3 SageMaker client: operation names become its snake_case methods,
    and a refused request an ApiFailure with AWS's code and message."""
    from botocore.exceptions import BotoCoreError, ClientError

    def call(operation: str, request: dict) -> dict:
        method = getattr(client, _snake(operation))
        try:
            return method(**request)
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise ApiFailure(
                f"{operation}: {detail.get('Code', 'error')} ({detail.get('Message', '')})"
            ) from None
        except BotoCoreError as error:
            raise ApiFailure(f"{operation}: {error}") from None

    return call


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def s3_reader(client: Any) -> Callable[[str], bytes | None]:
    """Reads an `s3://` object with a boto3 S3 client; None when it cannot (no such object,
    access denied): a reference metric that cannot be read is an unknown one."""
    from botocore.exceptions import BotoCoreError, ClientError

    def read(uri: str) -> bytes | None:
        if not uri.startswith("s3://"):
            return None
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError):
            return None

    return read
