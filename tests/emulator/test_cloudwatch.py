"""CloudWatch in the emulator, through boto3's own client (Smithy RPC v2 CBOR, its default):
SageMaker's invocation metrics, PutMetricData and the statistics read back, metric math,
alarms judged on the scheduler and their notifications, and hostile requests answered 4xx."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cloudwatch_helpers import Receiver, deploy, dimensions, wait_for

from conftest import serving
from mlinfra.emulator.access import Access

SCALE = 60.0  # a one-minute period passes in a second


@pytest.fixture()
def fast(tmp_path: Path):
    """An emulator whose metric clock runs 60 times faster, with its scheduler."""
    yield from serving(tmp_path, clock_scale=SCALE)


@pytest.fixture()
def clients(fast):
    access = Access.for_server(fast)
    return (
        access.client("sagemaker"),
        access.client("sagemaker-runtime"),
        access.client("cloudwatch"),
    )


def window(server, minutes: int = 30) -> dict:
    now = server.control.clock.now()
    return {"StartTime": now - minutes * 60, "EndTime": now + 60}


def stats(cloudwatch, server, name: str, metric: str, statistics: list[str], **extra) -> list:
    found = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=dimensions(name),
        Period=3600,
        Statistics=statistics,
        **window(server, 60),
        **extra,
    )
    return found["Datapoints"]


def summed(query_id: str, namespace: str, name: str, period: int, dims=()) -> dict:
    """A GetMetricData query of a metric's Sum, fed to an expression rather than returned."""
    metric = {"Namespace": namespace, "MetricName": name, "Dimensions": list(dims)}
    stat = {"Metric": metric, "Period": period, "Stat": "Sum"}
    return {"Id": query_id, "MetricStat": stat, "ReturnData": False}


def total(cloudwatch, server, name: str, metric: str) -> float:
    return sum(p["Sum"] for p in stats(cloudwatch, server, name, metric, ["Sum"]))


# --- SageMaker's metrics -----------------------------------------------------------------------


def test_every_invocation_publishes_sagemakers_metrics_for_its_variant(fast, clients, model_dir):
    sagemaker, runtime, cloudwatch = clients
    deploy(sagemaker, "scored", {"Image": "sklearn", "ModelDataUrl": str(model_dir)}, instances=2)
    for _ in range(7):
        runtime.invoke_endpoint(EndpointName="scored", Body=b"1.0,0.5", ContentType="text/csv")

    listed = cloudwatch.list_metrics(Namespace="AWS/SageMaker", Dimensions=[
        {"Name": "EndpointName", "Value": "scored"}
    ])["Metrics"]  # fmt: skip
    assert {m["MetricName"] for m in listed} == {
        "Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors",
        "ModelLatency", "OverheadLatency",
    }  # fmt: skip
    assert all(m["Dimensions"] == dimensions("scored") for m in listed)
    assert total(cloudwatch, fast, "scored", "Invocations") == 7
    # 1/InstanceCount per invocation, as SageMaker sends it: 7 calls over 2 instances.
    assert total(cloudwatch, fast, "scored", "InvocationsPerInstance") == pytest.approx(3.5)
    assert total(cloudwatch, fast, "scored", "Invocation5XXErrors") == 0
    latency = stats(cloudwatch, fast, "scored", "ModelLatency", ["Average", "SampleCount"])
    assert sum(p["SampleCount"] for p in latency) == 7
    assert all(p["Unit"] == "Microseconds" for p in latency)
    # Microseconds: a local sklearn prediction takes more than 10 us and less than 10 s.
    assert all(10 < p["Average"] < 10_000_000 for p in latency)
    p99 = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=dimensions("scored"),
        Period=3600,
        ExtendedStatistics=["p99"],
        **window(fast, 60),
    )["Datapoints"]
    assert max(p["ExtendedStatistics"]["p99"] for p in p99) >= max(p["Average"] for p in latency)


def test_a_failing_model_counts_its_errors_and_the_error_rate_math_sees_them(
    fast, clients, model_dir, tmp_path
):
    sagemaker, runtime, cloudwatch = clients
    model = tmp_path / "failing"
    (model / "code").mkdir(parents=True)
    shutil.copy2(model_dir / "model.joblib", model / "model.joblib")
    (model / "code" / "inference.py").write_text(
        "def predict_fn(data, model):\n"
        "    if data[0][0] < 0:\n"
        "        raise ValueError('negative')\n"
        "    return model.predict(data)\n"
    )
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(model),
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    }  # fmt: skip
    assert deploy(sagemaker, "flaky", container)["EndpointStatus"] == "InService"
    for body in (b"1.0,0.0", b"-1.0,0.0", b"2.0,0.0", b"-3.0,0.0"):
        try:
            runtime.invoke_endpoint(EndpointName="flaky", Body=body, ContentType="text/csv")
        except runtime.exceptions.ModelError:
            pass
    assert total(cloudwatch, fast, "flaky", "Invocations") == 4
    assert total(cloudwatch, fast, "flaky", "Invocation5XXErrors") == 2

    def metric(query_id: str, name: str) -> dict:
        return summed(query_id, "AWS/SageMaker", name, 3600, dimensions("flaky"))

    # The SLO's error-rate alarm expression, as ir/sagemaker renders it.
    found = cloudwatch.get_metric_data(
        MetricDataQueries=[
            metric("errors", "Invocation5XXErrors"),
            metric("invocations", "Invocations"),
            {"Id": "error_rate", "Expression": "100 * errors / invocations", "Label": "rate"},
        ],
        **window(fast, 60),
    )["MetricDataResults"]
    assert [r["Id"] for r in found] == ["error_rate"]
    assert found[0]["Label"] == "rate"
    assert sum(found[0]["Values"]) == pytest.approx(50.0)


# --- PutMetricData and the statistics read back -----------------------------------------------


def test_put_metric_data_is_read_back_as_statistics_and_percentiles(fast, clients):
    _, _, cloudwatch = clients
    now = fast.control.clock.now()
    minute = now // 60 * 60 - 120
    cloudwatch.put_metric_data(
        Namespace="Churn/Quality",
        MetricData=[
            {"MetricName": "Accuracy", "Value": 0.9, "Timestamp": minute + 5, "Unit": "Percent"},
            {"MetricName": "Accuracy", "Values": [0.8, 0.7], "Counts": [1, 2],
             "Timestamp": minute + 10, "Unit": "Percent"},
        ],
    )  # fmt: skip

    def accuracy(**wanted) -> list[dict]:
        return cloudwatch.get_metric_statistics(
            Namespace="Churn/Quality",
            MetricName="Accuracy",
            StartTime=minute - 60,
            EndTime=minute + 120,
            Period=60,
            **wanted,
        )["Datapoints"]

    points = accuracy(Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"])
    assert len(points) == 1
    point = points[0]
    assert point["Timestamp"].timestamp() == minute
    assert point["SampleCount"] == 4
    assert point["Sum"] == pytest.approx(0.9 + 0.8 + 1.4)
    assert point["Average"] == pytest.approx((0.9 + 0.8 + 1.4) / 4)
    assert (point["Minimum"], point["Maximum"]) == (0.7, 0.9)
    assert point["Unit"] == "Percent"
    p50 = accuracy(ExtendedStatistics=["p50", "p100"])[0]["ExtendedStatistics"]
    assert p50 == {"p50": 0.8, "p100": 0.9}


def test_what_cloudwatch_refuses_is_refused_with_its_codes(fast, clients):
    _, _, cloudwatch = clients
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException) as excinfo:
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker", MetricData=[{"MetricName": "Invocations", "Value": 1}]
        )
    assert "Namespace" in str(excinfo.value)
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException) as excinfo:
        cloudwatch.get_metric_statistics(
            Namespace="X", MetricName="Y", Period=45, Statistics=["Sum"], **window(fast)
        )
    assert "multiple of 60" in str(excinfo.value)
    with pytest.raises(cloudwatch.exceptions.InvalidParameterCombinationException):
        cloudwatch.get_metric_statistics(Namespace="X", MetricName="Y", Period=60, **window(fast))
    with pytest.raises(cloudwatch.exceptions.ClientError) as excinfo:
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "total", "Expression": "SUM(METRICS())"}], **window(fast)
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert "SUM() is not supported" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(cloudwatch.exceptions.ClientError) as excinfo:
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "rate", "Expression": "errors / 2"}], **window(fast)
        )
    assert "no query has the id 'errors'" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(cloudwatch.exceptions.ResourceNotFound):
        cloudwatch.delete_alarms(AlarmNames=["never-made"])
    with pytest.raises(cloudwatch.exceptions.ResourceNotFound):
        cloudwatch.set_alarm_state(AlarmName="never-made", StateValue="OK", StateReason="test")


# --- alarms --------------------------------------------------------------------------------


def test_an_alarm_fires_on_the_scheduler_and_notifies_the_spec_targets(fast, clients):
    _, _, cloudwatch = clients
    receiver = Receiver()
    try:
        cloudwatch.put_metric_alarm(
            AlarmName="churn-api-latency-p99",
            Namespace="Churn/Serving",
            MetricName="Latency",
            ExtendedStatistic="p99",
            Period=60,
            EvaluationPeriods=3,
            DatapointsToAlarm=2,
            Threshold=100.0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=["arn:aws:sns:us-east-1:123456789012:churn-alerts"],
            Tags=[{"Key": "mlinfra:alert-targets", "Value": json.dumps([
                f"webhook:{receiver.url}"
            ])}],
        )  # fmt: skip
        alarm = cloudwatch.describe_alarms(AlarmNames=["churn-api-latency-p99"])["MetricAlarms"]
        assert alarm[0]["StateValue"] == "INSUFFICIENT_DATA"

        now = fast.control.clock.now()
        last = now // 60 * 60 - 60
        cloudwatch.put_metric_data(
            Namespace="Churn/Serving",
            MetricData=[
                {"MetricName": "Latency", "Value": 250.0, "Timestamp": last},
                {"MetricName": "Latency", "Value": 300.0, "Timestamp": last - 60},
            ],
        )

        def state() -> str:
            found = cloudwatch.describe_alarms(AlarmNames=["churn-api-latency-p99"])
            return found["MetricAlarms"][0]["StateValue"]

        # notBreaching: the periods without data do not hold it back; two breaches fire it.
        wait_for(lambda: state() == "ALARM", what="the alarm to fire")
        wait_for(lambda: receiver.received, what="the webhook")
        sent = receiver.received[0]
        assert sent["AlarmName"] == "churn-api-latency-p99"
        assert (sent["OldStateValue"], sent["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")
        log = wait_for(
            lambda: (
                (found := fast.control.cloudwatch.alert_log("churn-api-latency-p99"))
                and len(found) == 2
                and found
            ),
            what="both targets in the alert log",
        )
        assert {entry["target"] for entry in log} == {
            "sns:arn:aws:sns:us-east-1:123456789012:churn-alerts",
            f"webhook:{receiver.url}",
        }
        assert [e["delivered"] for e in log if e["target"].startswith("webhook:")] == [True]

        # Once the breaching minutes leave the window, the alarm returns to OK by itself.
        wait_for(lambda: state() == "OK", timeout=30, what="the alarm to clear")
        history = cloudwatch.describe_alarm_history(
            AlarmName="churn-api-latency-p99", HistoryItemType="StateUpdate"
        )["AlarmHistoryItems"]
        summaries = [item["HistorySummary"] for item in history]
        assert summaries[:2] == [
            "Alarm updated from ALARM to OK",
            "Alarm updated from INSUFFICIENT_DATA to ALARM",
        ]
    finally:
        receiver.close()


def test_a_metric_math_alarm_and_set_alarm_state(fast, clients):
    _, _, cloudwatch = clients

    def metric(query_id: str, name: str) -> dict:
        return summed(query_id, "Churn/Serving", name, 60)

    cloudwatch.put_metric_alarm(
        AlarmName="error-rate",
        Metrics=[
            metric("errors", "Errors"),
            metric("invocations", "Calls"),
            {"Id": "error_rate", "Expression": "100 * errors / invocations", "ReturnData": True},
        ],
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )

    def breaching() -> list:
        # Each poll fills the minute just ended: the sped-up clock may move past a minute
        # written once before the alarm is evaluated on a loaded machine.
        last = fast.control.clock.now() // 60 * 60 - 60
        cloudwatch.put_metric_data(
            Namespace="Churn/Serving",
            MetricData=[
                {"MetricName": "Errors", "Value": 3, "Timestamp": last},
                {"MetricName": "Calls", "Value": 20, "Timestamp": last},
            ],
        )
        return cloudwatch.describe_alarms(StateValue="ALARM")["MetricAlarms"]

    wait_for(breaching, what="the error-rate alarm (15% > 5%)")
    cloudwatch.set_alarm_state(
        AlarmName="error-rate", StateValue="OK", StateReason="silenced by a test",
        StateReasonData=json.dumps({"by": "test"}),
    )  # fmt: skip
    history = cloudwatch.describe_alarm_history(AlarmName="error-rate")["AlarmHistoryItems"]
    # The scheduler may judge it ALARM again since (its data still breaches): look for ours.
    assert any("silenced by a test" in item["HistoryData"] for item in history)
    with pytest.raises(cloudwatch.exceptions.InvalidFormatFault):
        cloudwatch.set_alarm_state(
            AlarmName="error-rate", StateValue="OK", StateReason="x", StateReasonData="{not json"
        )
    with pytest.raises(cloudwatch.exceptions.ClientError) as excinfo:
        cloudwatch.put_metric_alarm(
            AlarmName="two-returned",
            Metrics=[{**metric("errors", "Errors"), "ReturnData": True},
                     {"Id": "rate", "Expression": "errors * 2", "ReturnData": True}],
            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    assert "exactly one query must have ReturnData" in str(excinfo.value)
    cloudwatch.delete_alarms(AlarmNames=["error-rate"])
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_metrics_survive_a_restart_of_the_emulator(tmp_path, model_dir):
    for server in serving(tmp_path, clock_scale=SCALE):
        access = Access.for_server(server)
        deploy(access.client("sagemaker"), "kept", {"Image": "sklearn",
                                                    "ModelDataUrl": str(model_dir)})  # fmt: skip
        access.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="kept", Body=b"1.0,0.0", ContentType="text/csv"
        )
    for server in serving(tmp_path, clock_scale=SCALE):
        cloudwatch = Access.for_server(server).client("cloudwatch")
        assert total(cloudwatch, server, "kept", "Invocations") == 1


# --- the wire ---------------------------------------------------------------------------------


def raw(server, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(  # noqa: S310 - the test's own loopback server
        server.url + path, data=body, method="POST", headers=headers
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


CBOR_HEADERS = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff",  # not CBOR
        b"\xa1\x61",  # a map cut short
        b"\x83\x01\x02\x03",  # an array, not a map
        b"\xa0\x00",  # bytes after the item
        b"\x81" * 5000 + b"\xa0",  # nested deeper than anything AWS takes
        b"\xa1\x69Namespace\x19\x01\x00",  # a number where a string belongs
        b"\x5b" + (2**62).to_bytes(8, "big"),  # a byte string longer than any memory
        b"\xa1\x69Namespace\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00",  # NaN
    ],
)
def test_a_malformed_cbor_body_is_a_4xx_never_a_5xx(insecure, body):
    status, headers, payload = raw(
        insecure, "/service/GraniteServiceVersion20100801/operation/ListMetrics", body,
        CBOR_HEADERS,
    )  # fmt: skip
    assert 400 <= status < 500, payload
    assert headers["Content-Type"] == "application/cbor"


def test_unknown_operations_and_services_are_aws_shaped_4xx(insecure):
    status, headers, _ = raw(
        insecure, "/service/GraniteServiceVersion20100801/operation/DeleteEverything", b"\xa0",
        CBOR_HEADERS,
    )  # fmt: skip
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    status, _, _ = raw(insecure, "/service/NoSuchService/operation/ListMetrics", b"\xa0",
                       CBOR_HEADERS)  # fmt: skip
    assert 400 <= status < 500
    status, _, payload = raw(
        insecure, "/", b"{}",
        {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": "AnyScaleFrontendService.ScaleEverything"},
    )  # fmt: skip
    assert status == 400
    assert json.loads(payload)["__type"] == "UnknownOperationException"
    # CloudWatch's old Query protocol is a form body, which no route takes (see guard.py).
    status, _, _ = raw(
        insecure, "/", b"Action=ListMetrics&Version=2010-08-01",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 415


def test_a_request_signed_for_another_service_is_refused(fast):
    access = Access.for_server(fast)
    # Signed as SageMaker (what Access.signed_headers does), sent to CloudWatch's route.
    path = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    headers = access.signed_headers("POST", path, b"\xa0", CBOR_HEADERS)
    status, _, payload = raw(fast, path, b"\xa0", headers)
    assert status == 403
    assert b"monitoring" in payload
