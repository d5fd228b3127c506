"""The CloudWatch metrics of one monitor run: what its alarms and dashboards read.

Every datum carries the dimensions `Monitor` (the monitor's physical name) and `Endpoint`;
per-feature data add `Feature`. In the namespace `mlinfra/Monitoring`:

- `violations`: how many constraint violations the run found (constraint_violations.json).
  The monitor's alarm fires when it is above 0: the same condition on which the emulator
  alerts and retrains, so a violation means the same on both targets.
- `records`, `malformed_records`: what the window held, and what could not be read.
- per feature: `psi` (the population stability index against the baseline, when the feature
  had usable values), `missing_percent`, and `drifted` (1 when its PSI is above the
  threshold, else 0).

CloudWatch takes at most 1,000 data a request (botocore's PutMetricData documentation), so
wide baselines are published in several requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

NAMESPACE = "mlinfra/Monitoring"
VIOLATIONS = "violations"
RECORDS = "records"
MALFORMED_RECORDS = "malformed_records"
PSI = "psi"
MISSING_PERCENT = "missing_percent"
DRIFTED = "drifted"
# PutMetricData's limit of MetricData items in one request.
DATA_PER_REQUEST = 1000


def metric_data(
    drift: dict[str, Any],
    violations: int,
    malformed: int,
    *,
    monitor: str,
    endpoint: str,
    timestamp: datetime,
) -> list[dict[str, Any]]:
    """The MetricData items of one run, from its drift.json and counts."""
    common = [{"Name": "Monitor", "Value": monitor}, {"Name": "Endpoint", "Value": endpoint}]

    def datum(name: str, value: float, unit: str, feature: str | None = None) -> dict[str, Any]:
        dimensions = common + ([{"Name": "Feature", "Value": feature}] if feature else [])
        return {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": float(value),
            "Unit": unit,
        }

    data = [
        datum(VIOLATIONS, violations, "Count"),
        datum(RECORDS, drift.get("item_count", 0), "Count"),
        datum(MALFORMED_RECORDS, malformed, "Count"),
    ]
    for feature in drift.get("features", ()):
        name = feature["name"]
        if feature.get("psi") is not None:
            data.append(datum(PSI, feature["psi"], "None", name))
        data.append(datum(MISSING_PERCENT, feature["missing_percent"], "Percent", name))
        data.append(datum(DRIFTED, 1 if feature.get("drifted") else 0, "Count", name))
    return data


def batches(data: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(data), DATA_PER_REQUEST):
        yield data[start : start + DATA_PER_REQUEST]


def publish(cloudwatch: Any, data: list[dict[str, Any]], namespace: str = NAMESPACE) -> int:
    """Put `data` in CloudWatch; how many requests it took."""
    requests = 0
    for batch in batches(data):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch)
        requests += 1
    return requests
