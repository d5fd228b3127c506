"""CloudWatch: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics, and metric
alarms (PutMetricAlarm, DescribeAlarms, DeleteAlarms, SetAlarmState, DescribeAlarmHistory).

boto3 speaks to it in Smithy RPC v2 CBOR (its default for CloudWatch; JSON 1.0 works too) and
it answers with CloudWatch's own error codes (InvalidParameterValue, ResourceNotFound...).
Metrics live in `metrics.Metrics`; every endpoint variant's invocations are recorded there by
the runtime. The scheduler calls `evaluate()`: each alarm is judged (`alarms.judge`) and a
change of state is recorded in its history and sent to its actions. An action that is an SNS
topic ARN, and every target of the alarm's `mlinfra:alert-targets` tag (a JSON list of the
spec's alert targets, `webhook:<url>`, `email:<address>`, `sns:<topic>`), is delivered as a
monitor's alert is (`monitors.alerts.deliver`) and written to the alarm's alert log
(`<state>/alarms/<alarm>/alerts.jsonl`).

Metrics are kept at one-minute resolution: a Period must be a multiple of 60 seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from mlinfra.emulator.credentials import DEFAULT_REGION
from mlinfra.emulator.kit.arns import ACCOUNT
from mlinfra.emulator.kit.clock import Clock
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.kit.paths import PathRefused, Roots, child
from mlinfra.emulator.kit.records import Listing
from mlinfra.emulator.protocol import CLOUDWATCH_SERVICE
from mlinfra.emulator.services.cloudwatch import alarms, expressions
from mlinfra.emulator.services.cloudwatch.metrics import (
    RESOLUTION,
    MetricKey,
    Metrics,
    percentile_of,
    statistic,
)
from mlinfra.emulator.services.monitors.alerts import AlertLog, check_targets, deliver
from mlinfra.emulator.store import Store

ALARM = "alarm"  # the store's kind
TARGETS_TAG = "mlinfra:alert-targets"
MAX_HISTORY = 100  # history items an alarm keeps
MAX_DATAPOINTS = 1440  # what GetMetricStatistics answers at most (CloudWatch's limit)
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

log = logging.getLogger("mlinfra.emulator.cloudwatch")


def bad_value(message: str) -> ApiError:
    return ApiError("InvalidParameterValue", message)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFound", message, 404)


class CloudWatch:
    """CloudWatch's metric and alarm operations over the emulator's metrics and store."""

    API = CLOUDWATCH_SERVICE
    OPERATIONS = (
        "PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics",
        "PutMetricAlarm", "DescribeAlarms", "DeleteAlarms", "SetAlarmState",
        "DescribeAlarmHistory",
    )  # fmt: skip
    KINDS = ()  # alarms are tagged with TagResource on AWS, which the emulator does not have

    def __init__(
        self, store: Store, listing: Listing, roots: Roots, metrics: Metrics, clock: Clock
    ) -> None:
        self.store = store
        self.listing = listing
        self.roots = roots
        self.metrics = metrics
        self.clock = clock

    # --- metrics ---------------------------------------------------------------------------

    def put_metric_data(self, p: dict, region: str) -> None:
        namespace = p["Namespace"]
        if namespace.startswith("AWS/"):
            raise bad_value(f"The value {namespace} for parameter Namespace is invalid.")
        for index, datum in enumerate(p.get("MetricData") or [], start=1):
            where = f"MetricData.member.{index}"
            has = [f for f in ("Value", "Values", "StatisticValues") if f in datum]
            if len(has) > 1:
                raise ApiError(
                    "InvalidParameterCombination",
                    f"{where}: only one of Value, Values and StatisticValues may be given.",
                )
            pairs: list[tuple[float, float]] = []
            if "Value" in datum:
                pairs = [(float(datum["Value"]), 1.0)]
            elif "Values" in datum:
                counts = datum.get("Counts") or [1.0] * len(datum["Values"])
                if len(counts) != len(datum["Values"]):
                    raise bad_value(f"{where}: Counts must have as many items as Values.")
                pairs = list(zip(map(float, datum["Values"]), map(float, counts), strict=True))
            elif not has:
                raise ApiError("MissingParameter", f"{where}: Value, Values or StatisticValues.")
            key = MetricKey.of(namespace, datum["MetricName"], datum.get("Dimensions"))
            when = float(datum.get("Timestamp", self.clock.now()))
            self.metrics.put(
                key, when, pairs, datum.get("Unit", "None"), datum.get("StatisticValues")
            )

    def get_metric_statistics(self, p: dict, region: str) -> dict:
        period = _period(p["Period"], "Period")
        wanted = list(p.get("Statistics") or [])
        extended = list(p.get("ExtendedStatistics") or [])
        if bool(wanted) == bool(extended):
            raise ApiError(
                "InvalidParameterCombination",
                "Exactly one of Statistics and ExtendedStatistics must be given.",
            )
        for name in extended:
            if percentile_of(name) is None:
                raise bad_value(
                    f"The value {name} for parameter ExtendedStatistics is not supported: "
                    "the local emulator computes percentiles (p0.0 to p100)."
                )
        start, end = _window(p)
        if (end - start) / period > MAX_DATAPOINTS:
            raise bad_value(
                f"You have requested up to {int((end - start) / period)} datapoints, which "
                f"exceeds the limit of {MAX_DATAPOINTS}."
            )
        key = MetricKey.of(p["Namespace"], p["MetricName"], p.get("Dimensions"))
        points = []
        for slot, bucket in sorted(self.metrics.statistics(key, start, end, period).items()):
            if p.get("Unit") and bucket.unit != p["Unit"]:
                continue
            point: dict[str, Any] = {"Timestamp": float(slot), "Unit": bucket.unit}
            for name in wanted:
                value = statistic(bucket, name)
                if value is not None:
                    point[name] = value
            if extended:
                point["ExtendedStatistics"] = {
                    name: value
                    for name in extended
                    if (value := statistic(bucket, name)) is not None
                }
            points.append(point)
        return {"Label": p["MetricName"], "Datapoints": points}

    def list_metrics(self, p: dict, region: str) -> dict:
        wanted = p.get("Dimensions") or []
        found = []
        for key in self.metrics.keys():
            if p.get("Namespace") not in (None, key.namespace):
                continue
            if p.get("MetricName") not in (None, key.name):
                continue
            dims = dict(key.dimensions)
            if any(
                d["Name"] not in dims or ("Value" in d and dims[d["Name"]] != d["Value"])
                for d in wanted
            ):
                continue
            found.append(key.as_metric())
        page, token = self._page("ListMetrics", found, p, 500)
        return {"Metrics": page, **({"NextToken": token} if token else {})}

    def get_metric_data(self, p: dict, region: str) -> dict:
        queries = p["MetricDataQueries"]
        _check_queries(queries, "MetricDataQueries")
        start, end = _window(p)
        values = alarms.query_values(self.metrics, queries, start, end)
        newest_first = p.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for query in queries:
            if not query.get("ReturnData", True):
                continue
            found = values[query["Id"]]
            if not isinstance(found, dict):  # a constant: one value per period of the window
                found = {}
            times = sorted(found, reverse=newest_first)
            default = query.get("MetricStat", {}).get("Metric", {}).get("MetricName", query["Id"])
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label", default),
                    "Timestamps": [float(t) for t in times],
                    "Values": [found[t] for t in times],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    # --- alarms ----------------------------------------------------------------------------

    def put_metric_alarm(self, p: dict, region: str) -> None:
        name = p["AlarmName"]
        _check_alarm(p)
        targets = _targets(p.get("Tags"))
        now = self.clock.now()
        old = self.store.get(ALARM, name)
        record = {key: value for key, value in p.items() if key != "Tags"}
        record.update(
            AlarmArn=f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:{name}",
            AlarmConfigurationUpdatedTimestamp=now,
            ActionsEnabled=p.get("ActionsEnabled", True),
            _Region=region,
            _Targets=targets,
        )
        if old is None:
            record.update(
                StateValue=alarms.INSUFFICIENT,
                StateReason="Unchecked: Initial alarm creation",
                StateUpdatedTimestamp=now,
                StateTransitionedTimestamp=now,
                _History=[],
                _Created=now,
            )
            self._history(record, "ConfigurationUpdate", f'Alarm "{name}" created', now)
        else:
            for key in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp",
                        "StateTransitionedTimestamp", "_History", "_Created"):  # fmt: skip
                if key in old:
                    record[key] = old[key]
            self._history(record, "ConfigurationUpdate", f'Alarm "{name}" updated', now)
        self.store.put(ALARM, name, record, record["_Created"])

    def describe_alarms(self, p: dict, region: str) -> dict:
        names = set(p.get("AlarmNames") or [])
        prefix = p.get("AlarmNamePrefix")
        if names and prefix:
            raise ApiError(
                "InvalidParameterCombination",
                "AlarmNames and AlarmNamePrefix cannot both be given.",
            )
        types = p.get("AlarmTypes") or ["MetricAlarm"]
        found = []
        for record in sorted(self.store.all(ALARM), key=lambda r: r["AlarmName"]):
            if "MetricAlarm" not in types:
                break
            if names and record["AlarmName"] not in names:
                continue
            if prefix and not record["AlarmName"].startswith(prefix):
                continue
            if p.get("StateValue") and record["StateValue"] != p["StateValue"]:
                continue
            if p.get("ActionPrefix") and not any(
                a.startswith(p["ActionPrefix"])
                for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
                for a in record.get(key) or []
            ):
                continue
            found.append(_public(record))
        page, token = self._page(
            "DescribeAlarms", found, {**p, "MaxResults": p.get("MaxRecords")}, 50
        )
        return {
            "MetricAlarms": page,
            "CompositeAlarms": [],
            **({"NextToken": token} if token else {}),
        }

    def delete_alarms(self, p: dict, region: str) -> None:
        names = p["AlarmNames"]
        missing = [n for n in names if self.store.get(ALARM, n) is None]
        if missing:
            raise not_found(f"Alarm(s) not found: {', '.join(missing)}. Nothing was deleted.")
        for name in names:
            self.store.delete(ALARM, name)

    def set_alarm_state(self, p: dict, region: str) -> None:
        record = self.store.get(ALARM, p["AlarmName"])
        if record is None:
            raise not_found(f"Alarm {p['AlarmName']} not found.")
        data = p.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except ValueError:
                raise ApiError("InvalidFormat", "StateReasonData is not valid JSON text.") from None
        self._transition(record, p["StateValue"], p["StateReason"], data)

    def describe_alarm_history(self, p: dict, region: str) -> dict:
        items = []
        for record in self.store.all(ALARM):
            if p.get("AlarmName") not in (None, record["AlarmName"]):
                continue
            items.extend(record.get("_History") or [])
        if p.get("HistoryItemType"):
            items = [i for i in items if i["HistoryItemType"] == p["HistoryItemType"]]
        if "StartDate" in p:
            items = [i for i in items if i["Timestamp"] >= float(p["StartDate"])]
        if "EndDate" in p:
            items = [i for i in items if i["Timestamp"] <= float(p["EndDate"])]
        items.sort(key=lambda i: i["Timestamp"], reverse=p.get("ScanBy") != "TimestampAscending")
        page, token = self._page(
            "DescribeAlarmHistory", items, {**p, "MaxResults": p.get("MaxRecords")}, 100
        )
        return {"AlarmHistoryItems": page, **({"NextToken": token} if token else {})}

    def alert_log(self, name: str) -> list[dict]:
        """The alarm's alert log: every notification sent, or recorded as not delivered."""
        return self._log(name).read()

    # --- the scheduler's part --------------------------------------------------------------

    def evaluate(self) -> list[tuple[str, str]]:
        """Judge every alarm now; (alarm, new state) of each that changed. Also writes the
        minutes of metrics that ended to the store."""
        self.metrics.flush()
        now = self.clock.now()
        changed = []
        for record in self.store.all(ALARM):
            try:
                judgement = alarms.judge(record, self.metrics, now)
            except ApiError as exc:  # an expression checked at Put cannot fail; log if it does
                log.warning("alarm %s not evaluated: %s", record["AlarmName"], exc.message)
                continue
            if judgement.state == record["StateValue"]:
                continue
            with self.store.lock:
                current = self.store.get(ALARM, record["AlarmName"])
                if current is None or current["StateValue"] == judgement.state:
                    continue
                data = json.dumps(
                    {"version": "1.0", "queryDate": _iso(now), "recentDatapoints": [
                        v for v in judgement.values if v is not None
                    ]}
                )  # fmt: skip
                self._transition(current, judgement.state, judgement.reason, data)
            changed.append((record["AlarmName"], judgement.state))
        return changed

    def state_of(self, name: str) -> str | None:
        """An alarm's state (for the services that act on alarms), None if there is none."""
        record = self.store.get(ALARM, name)
        return None if record is None else record["StateValue"]

    # --- internals -------------------------------------------------------------------------

    def _transition(self, record: dict, state: str, reason: str, data: str | None) -> None:
        now = self.clock.now()
        old = record["StateValue"]
        record.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=now)
        if data is not None:
            record["StateReasonData"] = data
        if old != state:
            record["StateTransitionedTimestamp"] = now
        self._history(
            record, "StateUpdate", f"Alarm updated from {old} to {state}", now,
            {"oldState": {"stateValue": old}, "newState": {"stateValue": state,
                                                           "stateReason": reason}},
        )  # fmt: skip
        self.store.put(ALARM, record["AlarmName"], record, record["_Created"])
        if old != state and record.get("ActionsEnabled", True):
            self._notify(record, old, now)

    def _notify(self, record: dict, old: str, now: float) -> None:
        field = {"ALARM": "AlarmActions", "OK": "OKActions"}.get(
            record["StateValue"], "InsufficientDataActions"
        )
        actions = record.get(field) or []
        targets = [f"sns:{a}" for a in actions if a.startswith("arn:aws:sns:")]
        if actions:  # the spec's targets go with the alarm's actions, as on SNS
            targets += [t for t in record.get("_Targets") or [] if t not in targets]
        if not targets:
            return
        payload = {
            "AlarmName": record["AlarmName"],
            "AlarmDescription": record.get("AlarmDescription"),
            "AlarmArn": record["AlarmArn"],
            "NewStateValue": record["StateValue"],
            "NewStateReason": record["StateReason"],
            "OldStateValue": old,
            "StateChangeTime": _iso(now),
            "Region": record.get("_Region", DEFAULT_REGION),
        }
        alert_log = self._log(record["AlarmName"])

        def send() -> None:
            for target in targets:
                delivered, detail = deliver(target, payload)
                alert_log.append(
                    {**payload, "target": target, "delivered": delivered, "detail": detail}
                )

        # On a thread of its own: a slow webhook (up to its timeout) must not hold the store's
        # lock, which the state change is made under, nor delay the other alarms.
        threading.Thread(target=send, name=f"alarm-{record['AlarmName']}", daemon=True).start()

    def _log(self, name: str) -> AlertLog:
        try:
            return AlertLog(child(self.roots.state / "alarms", name, "Alarm name"))
        except PathRefused:  # a name with '/' (CloudWatch allows it): a folder of its hash
            return AlertLog(self.roots.state / "alarms" / hashlib.sha256(name.encode()).hexdigest())

    def _history(
        self, record: dict, kind: str, summary: str, now: float, data: dict | None = None
    ) -> None:
        item = {
            "AlarmName": record["AlarmName"],
            "AlarmType": "MetricAlarm",
            "Timestamp": now,
            "HistoryItemType": kind,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data or {"version": "1.0"}),
        }
        record["_History"] = [*(record.get("_History") or [])[-(MAX_HISTORY - 1) :], item]

    def _page(self, operation: str, items: list, p: dict, default: int) -> tuple[list, str | None]:
        try:
            return self.listing.pager.page(
                operation, items, {**p, "MaxResults": p.get("MaxResults") or default}
            )
        except ApiError as exc:
            raise ApiError("InvalidNextToken", exc.message) from None


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _period(value: int, where: str) -> int:
    if value <= 0 or value % RESOLUTION:
        raise bad_value(
            f"The parameter {where} must be a multiple of 60 (got {value}): the local emulator "
            "keeps metrics at one-minute resolution."
        )
    return value


def _window(p: dict) -> tuple[float, float]:
    start, end = float(p["StartTime"]), float(p["EndTime"])
    if start >= end:
        raise bad_value("The parameter StartTime must be before EndTime.")
    return start, end


def _targets(tags: list[dict] | None) -> list[str]:
    for tag in tags or []:
        if tag["Key"] == TARGETS_TAG:
            try:
                return check_targets(json.loads(tag["Value"]))
            except ValueError as exc:
                raise bad_value(f"Tag {TARGETS_TAG}: {exc}") from None
    return []


def _check_queries(queries: list[dict], where: str) -> None:
    """Ids unique, each query a metric or an expression, expressions parsed and naming ids."""
    ids = [q["Id"] for q in queries]
    if len(set(ids)) != len(ids):
        raise ApiError("ValidationError", f"{where}: the query ids must be unique.")
    for index, query in enumerate(queries, start=1):
        has_stat, has_expression = "MetricStat" in query, "Expression" in query
        if has_stat == has_expression:
            raise ApiError(
                "ValidationError",
                f"{where}.member.{index}: give exactly one of MetricStat and Expression.",
            )
        if has_stat:
            _period(int(query["MetricStat"]["Period"]), f"{where}.member.{index}.MetricStat.Period")
            stat = query["MetricStat"]["Stat"]
            if stat not in STATISTICS and percentile_of(stat) is None:
                raise bad_value(
                    f"{where}.member.{index}.MetricStat.Stat: {stat} is not a statistic."
                )
        else:
            tree = expressions.parse(query["Expression"])
            unknown = tree.ids() - set(ids)
            if unknown:
                raise expressions.invalid(
                    query["Expression"], f"no query has the id {sorted(unknown)[0]!r}"
                )


def _check_alarm(p: dict) -> None:
    for field in ("EvaluationPeriods", "ComparisonOperator"):
        if field not in p:
            raise ApiError("MissingParameter", f"The parameter {field} is required.")
    if p["ComparisonOperator"] not in alarms.COMPARISONS:
        raise bad_value(
            f"ComparisonOperator {p['ComparisonOperator']} is not supported by the local "
            f"emulator; use one of {', '.join(alarms.COMPARISONS)}."
        )
    if "Threshold" not in p:
        raise ApiError(
            "MissingParameter", "The parameter Threshold is required (anomaly detection "
            "bands, ThresholdMetricId, are not emulated).",
        )  # fmt: skip
    if p.get("DatapointsToAlarm", 1) > p["EvaluationPeriods"]:
        raise bad_value("DatapointsToAlarm must not be greater than EvaluationPeriods.")
    if p.get("Metrics"):
        if p.get("MetricName") or p.get("Namespace"):
            raise ApiError(
                "InvalidParameterCombination",
                "Give either MetricName and Namespace or Metrics, not both.",
            )
        _check_queries(p["Metrics"], "Metrics")
        returned = [q for q in p["Metrics"] if q.get("ReturnData", True)]
        if len(returned) != 1:
            raise ApiError(
                "ValidationError",
                "Metrics: exactly one query must have ReturnData true (the one alarmed on).",
            )
        return
    missing = [f for f in ("MetricName", "Namespace", "Period") if f not in p]
    if missing:
        raise ApiError("MissingParameter", f"The parameter {missing[0]} is required.")
    _period(p["Period"], "Period")
    if bool(p.get("Statistic")) == bool(p.get("ExtendedStatistic")):
        raise ApiError(
            "InvalidParameterCombination",
            "Exactly one of Statistic and ExtendedStatistic must be given.",
        )
    if p.get("ExtendedStatistic") and percentile_of(p["ExtendedStatistic"]) is None:
        raise bad_value(
            f"ExtendedStatistic {p['ExtendedStatistic']} is not supported: the local emulator "
            "computes percentiles (p0.0 to p100)."
        )
