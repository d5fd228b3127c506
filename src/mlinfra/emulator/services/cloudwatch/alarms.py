"""How a metric alarm judges its metric: the value of each evaluation period, and its state.

An alarm looks at its last `EvaluationPeriods` whole periods (of `Period` seconds, ending at
the last period boundary of the emulator's clock). Each period's value is the alarm's
statistic of its metric, or, for a metric-math alarm (`Metrics`), the value of the query whose
`ReturnData` is true. A period breaches when its value compares with `Threshold` as
`ComparisonOperator` says. The state, as CloudWatch decides it:

- ALARM when at least `DatapointsToAlarm` (default: `EvaluationPeriods`) periods breach;
- periods without a value count as `TreatMissingData` says: `breaching`, `notBreaching`,
  `ignore` (the state stays as it is) or `missing` (left out; with no value at all the state
  is INSUFFICIENT_DATA);
- OK otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mlinfra.emulator.services.cloudwatch import expressions
from mlinfra.emulator.services.cloudwatch.metrics import MetricKey, Metrics, statistic

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"

COMPARISONS = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class Judgement:
    state: str
    reason: str
    values: tuple[float | None, ...]  # the periods' values, oldest first


def series(
    metrics: Metrics, stat: Mapping, start: float, end: float, default_period: int | None = None
) -> dict[int, float]:
    """A MetricStat's values per period start over [start, end)."""
    metric = stat["Metric"]
    key = MetricKey.of(metric["Namespace"], metric["MetricName"], metric.get("Dimensions"))
    period = int(stat.get("Period") or default_period or 60)
    found = {}
    for slot, bucket in metrics.statistics(key, start, end, period).items():
        value = statistic(bucket, stat["Stat"])
        if value is not None:
            found[slot] = value
    return found


def query_values(
    metrics: Metrics, queries: list[dict], start: float, end: float
) -> dict[str, expressions.Value]:
    """Every query's series (by id) over [start, end): metrics first, then expressions in the
    order they are given (an expression may use one before it)."""
    values: dict[str, expressions.Value] = {}
    for query in queries:
        if "MetricStat" in query:
            values[query["Id"]] = series(
                metrics, query["MetricStat"], start, end, query.get("Period")
            )
    for query in queries:
        if "Expression" in query:
            tree = expressions.parse(query["Expression"])
            values[query["Id"]] = expressions.evaluate(tree, values, query["Expression"])
    return values


def judge(alarm: Mapping, metrics: Metrics, now: float) -> Judgement:
    """The state the alarm's last evaluation periods put it in, and why."""
    period = int(alarm.get("Period") or _query_period(alarm))
    count = int(alarm["EvaluationPeriods"])
    needed = int(alarm.get("DatapointsToAlarm") or count)
    end = math.floor(now / period) * period
    start = end - count * period
    if alarm.get("Metrics"):
        values = query_values(metrics, alarm["Metrics"], start, end)
        chosen = next(q["Id"] for q in alarm["Metrics"] if q.get("ReturnData", True))
        found = values[chosen]
        per_period = (
            found if isinstance(found, dict) else {start + k * period: found for k in range(count)}
        )
    else:
        stat = {
            "Metric": {
                "Namespace": alarm["Namespace"],
                "MetricName": alarm["MetricName"],
                "Dimensions": alarm.get("Dimensions", []),
            },
            "Period": period,
            "Stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        }
        per_period = series(metrics, stat, start, end)
    points = tuple(per_period.get(start + k * period) for k in range(count))
    compare = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    treat = alarm.get("TreatMissingData", "missing")
    breaches = sum(1 for v in points if v is not None and compare(v, threshold))
    present = sum(1 for v in points if v is not None)
    missing = count - present
    if treat == "breaching":
        breaches += missing
    shown = ", ".join("missing" if v is None else f"{v:g}" for v in points)
    what = f"[{shown}] over the last {count} period(s) of {period} s"
    if breaches >= needed:
        return Judgement(
            ALARM,
            f"Threshold Crossed: {breaches} datapoint(s) of {what} crossed the threshold "
            f"({threshold:g}); {needed} needed.",
            points,
        )
    if present == 0 and treat in ("missing", "ignore"):
        state = alarm.get("StateValue", INSUFFICIENT) if treat == "ignore" else INSUFFICIENT
        return Judgement(state, f"Insufficient Data: no datapoint in {what}.", points)
    return Judgement(
        OK,
        f"Threshold not crossed: {breaches} datapoint(s) of {what} crossed the threshold "
        f"({threshold:g}); {needed} needed.",
        points,
    )


def _query_period(alarm: Mapping) -> int:
    for query in alarm.get("Metrics") or []:
        if "MetricStat" in query:
            return int(query["MetricStat"]["Period"])
        if query.get("Period"):
            return int(query["Period"])
    return 60
