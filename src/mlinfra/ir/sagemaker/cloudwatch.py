"""CloudWatch metric-math queries, as alarms on endpoints and monitors both build them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlinfra.ir.graph import Args


def metric_query(
    query_id: str,
    namespace: str,
    metric: str,
    stat: str,
    period: int,
    dimensions: Mapping[str, Any],
) -> Args:
    """One metric of an alarm's `metric_queries`, fed into an expression, not alarmed on."""
    return Args(
        "aws.cloudwatch.MetricAlarmMetricQueryArgs",
        {
            "id": query_id,
            "metric": Args(
                "aws.cloudwatch.MetricAlarmMetricQueryMetricArgs",
                {
                    "namespace": namespace,
                    "metric_name": metric,
                    "stat": stat,
                    "period": period,
                    "dimensions": dimensions,
                },
            ),
            "return_data": False,
        },
    )
