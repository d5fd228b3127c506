"""Metric math and alarm judgement, without a server: what each expression and each
TreatMissingData does with the values of the evaluation periods."""

from __future__ import annotations

import pytest

from mlinfra.emulator.kit.clock import Clock, ClockError, scale_from_environment
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.services.cloudwatch import alarms, expressions
from mlinfra.emulator.services.cloudwatch.metrics import MetricKey, Metrics
from mlinfra.emulator.store import Store


def value(text: str, **series):
    return expressions.evaluate(expressions.parse(text), series, text)


def test_arithmetic_over_series_aligns_times_and_drops_division_by_zero():
    errors = {0: 1.0, 60: 0.0, 120: 2.0}
    invocations = {0: 10.0, 60: 0.0, 180: 5.0}
    assert value("100 * errors / invocations", errors=errors, invocations=invocations) == {0: 10.0}
    assert value("-(errors + 1) * 2", errors=errors) == {0: -4.0, 60: -2.0, 120: -6.0}
    assert value("1 + 2 * 3 - 4 / 2") == 5.0
    assert value("errors - errors / 2", errors={0: 4.0}) == {0: 2.0}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("SUM(METRICS())", "the function SUM() is not supported"),
        ("errors +", "it ends where a value is expected"),
        ("(errors", "a '(' is not closed"),
        ("errors ^ 2", "unexpected character '^' at position 8"),
        ("Errors * 2", "'Errors' is no query id"),
        ("errors errors", "unexpected 'errors'"),
        ("(" * 1000 + "errors" + ")" * 1000, "more than 100 operations nested"),
        ("-" * 2000 + "errors", "more than 100 operations nested"),
        ("+".join(["errors"] * 200), "more than 100 operations nested"),
        ("__import__('os')", 'unexpected character "\'" at position 12'),
    ],
)
def test_what_is_not_supported_is_a_validation_error_saying_why(text, why):
    with pytest.raises(ApiError) as excinfo:
        expressions.parse(text)
    assert excinfo.value.code == "ValidationError"
    assert why in excinfo.value.message
    assert text[:40] in excinfo.value.message


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        super().__init__()
        self.at = now

    def now(self) -> float:
        return self.at


@pytest.fixture()
def metrics(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    yield Metrics(store, FixedClock(6000.0))
    store.close()


ALARM = {
    "Namespace": "N",
    "MetricName": "M",
    "Statistic": "Maximum",
    "Period": 60,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 10.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "StateValue": "OK",
}


def put(metrics, when: float, v: float) -> None:
    metrics.put(MetricKey.of("N", "M", []), when, [(v, 1.0)])


@pytest.mark.parametrize(
    ("treat", "state"),
    [
        ("missing", "OK"),  # one breach of the one datapoint there is; two needed
        ("notBreaching", "OK"),
        ("breaching", "ALARM"),  # the two missing periods breach too
        ("ignore", "OK"),
    ],
)
def test_missing_data_counts_as_treat_missing_data_says(metrics, treat, state):
    put(metrics, 5940.0, 50.0)  # the last whole period before 6000
    judged = alarms.judge({**ALARM, "TreatMissingData": treat}, metrics, 6000.0)
    assert judged.state == state
    assert judged.values == (None, None, 50.0)


def test_no_data_at_all_is_insufficient_unless_ignored(metrics):
    assert alarms.judge(ALARM, metrics, 6000.0).state == "INSUFFICIENT_DATA"
    ignored = {**ALARM, "TreatMissingData": "ignore", "StateValue": "ALARM"}
    assert alarms.judge(ignored, metrics, 6000.0).state == "ALARM"


def test_datapoints_to_alarm_of_evaluation_periods(metrics):
    put(metrics, 5820.0, 11.0)
    put(metrics, 5880.0, 5.0)
    put(metrics, 5940.0, 12.0)
    judged = alarms.judge(ALARM, metrics, 6000.0)
    assert judged.state == "ALARM"
    assert "2 datapoint(s) of [11, 5, 12]" in judged.reason
    assert alarms.judge({**ALARM, "DatapointsToAlarm": 3}, metrics, 6000.0).state == "OK"


def test_the_clock_scale_speeds_time_and_is_checked():
    walls = iter([100.0, 101.0])
    clock = Clock(60.0, wall=lambda: next(walls))
    assert clock.now() == 160.0  # one wall second is a minute
    assert clock.wall_seconds(60) == 1.0
    assert scale_from_environment({}) == 1.0
    assert scale_from_environment({"MLINFRA_EMULATOR_CLOCK_SCALE": "30"}) == 30.0
    for bad in ("fast", "0.5", "1e9"):
        with pytest.raises(ClockError, match="MLINFRA_EMULATOR_CLOCK_SCALE|from 1 to"):
            scale_from_environment({"MLINFRA_EMULATOR_CLOCK_SCALE": bad})


def test_metrics_are_written_a_minute_at_a_time_and_forgotten_after_retention(tmp_path):
    from mlinfra.emulator.services.cloudwatch.metrics import KIND, RESOLUTION, RETENTION

    store = Store(tmp_path / "s.sqlite3")
    clock = FixedClock(600_000.0)
    metrics = Metrics(store, clock)
    metrics.record_invocation("e", "v", 0.001, 0.0001, 1)
    put(metrics, 596_400.0, 7.0)  # into a minute an hour past: written all the same
    metrics.flush()
    names = {r["MetricName"] for r in store.all(KIND)}
    assert "Invocations" in names and "M" in names
    assert len(store.all(KIND)) == 7  # six invocation metrics, one minute each; and M's
    reread = Metrics(store, clock)
    key = MetricKey.of("N", "M", [])
    assert reread.statistics(key, 596_400, 596_460, 60)[596_400].total == 7.0

    clock.at += RETENTION * RESOLUTION + 120  # a day later
    metrics.flush()
    assert store.all(KIND) == []  # both minutes are past retention, in memory and stored
    store.close()
