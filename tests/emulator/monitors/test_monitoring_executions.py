"""Monitoring executions that really run: baselines, analyses, alerts and retraining."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import wire
from botocore.exceptions import ClientError
from monitor_project import (
    EMPTY_PIPELINE,
    ENDPOINT,
    MONITOR,
    PIPELINE,
    ROLE,
    baseline_folder,
    client,
    create_endpoint,
    rows,
    schedule_config,
    write_capture,
    write_dataset,
)

from mlinfra.emulator.access import Access

JSON = "application/json"


@pytest.fixture()
def sm(server):
    sagemaker = client(server)
    create_endpoint(sagemaker)
    write_dataset(server.root)
    return sagemaker


@pytest.fixture()
def webhook():
    """A receiver on loopback: records what is POSTed; answers 500 on /fail."""
    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "body": json.loads(body)})
            self.send_response(500 if self.path == "/fail" else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{receiver.server_address[1]}", received
    receiver.shutdown()
    receiver.server_close()
    thread.join(5)


def create(sm, name: str = MONITOR, **changes) -> None:
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name, MonitoringScheduleConfig=schedule_config(name, **changes)
    )


def private(server, path: str, body: dict | None = None) -> dict:
    """One of mlinfra's own monitoring routes, called as the CLI does (signed)."""
    access = Access.for_server(server)
    if body is None:
        request = access.request("GET", f"/_mlinfra{path}")
    else:
        request = access.request("POST", f"/_mlinfra{path}", json.dumps(body).encode(), JSON)
    with access.open(request, timeout=30) as response:
        return json.loads(response.read())


def run(server, sm, name: str = MONITOR) -> dict:
    """Run the monitor now, as `mlinfra monitor run` does; the finished processing job."""
    started = private(server, f"/monitoring-schedules/{name}/executions", {})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = sm.describe_processing_job(ProcessingJobName=started["ProcessingJobName"])
        if job["ProcessingJobStatus"] != "InProgress":
            return job
        time.sleep(0.1)
    raise AssertionError(f"{started['ProcessingJobName']} did not finish")


def detail(server, job: dict, name: str = MONITOR) -> dict:
    return private(server, f"/monitoring-schedules/{name}/executions/{job['ProcessingJobName']}")


def execution_status(sm, job: dict) -> str:
    found = sm.list_monitoring_executions(MonitoringScheduleName=MONITOR)
    by_arn = {e["ProcessingJobArn"]: e for e in found["MonitoringExecutionSummaries"]}
    return by_arn[job["ProcessingJobArn"]]["MonitoringExecutionStatus"]


# --- baselines ---------------------------------------------------------------------------


def test_creating_a_schedule_suggests_its_baseline_once(sm, server):
    create(sm)
    folder = server.root / baseline_folder()
    constraints = json.loads((folder / "constraints.json").read_text())
    assert {f["name"] for f in constraints["features"]} == {"tenure", "monthly_charges", "plan"}
    made = (folder / "statistics.json").stat().st_mtime_ns

    sm.delete_monitoring_schedule(MonitoringScheduleName=MONITOR)
    (server.root / "data" / "baseline.csv").unlink()  # reused, so never read again
    create(sm)
    assert (folder / "statistics.json").stat().st_mtime_ns == made


def test_a_missing_dataset_is_refused_with_the_jobs_message(sm):
    with pytest.raises(ClientError) as excinfo:
        create(sm, environment={"mlinfra_baseline_dataset": "file:data/missing.csv"})
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "data set not found" in error["Message"] and "missing.csv" in error["Message"]


# --- executions ---------------------------------------------------------------------------


def test_normal_traffic_completes_without_violations(sm, server):
    create(sm)
    write_capture(server.root, rows(300, seed=1))
    job = run(server, sm)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert execution_status(sm, job) == "Completed"
    assert job["ProcessingJobName"].startswith("model-monitoring-")
    assert job["MonitoringScheduleArn"].endswith(f":monitoring-schedule/{MONITOR}")
    assert job["ProcessingEndTime"] >= job["ProcessingStartTime"]
    uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert uri == f"file:.mlinfra/emulator/monitors/{MONITOR}/reports/{job['ProcessingJobName']}"
    report = server.root / uri.removeprefix("file:")
    assert json.loads((report / "constraint_violations.json").read_text())["violations"] == []
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    last = described["LastMonitoringExecutionSummary"]
    assert last["MonitoringExecutionStatus"] == "Completed"
    assert last["ProcessingJobArn"] == job["ProcessingJobArn"]


def test_drifted_traffic_completes_with_violations_and_alerts_every_target(sm, server, webhook):
    url, received = webhook
    targets = [f"webhook:{url}/hook", f"webhook:{url}/fail", "email:ml-oncall@example.com"]
    create(sm, environment={"mlinfra_alert_targets": json.dumps(targets)})
    write_capture(server.root, rows(300, drifted=True, seed=2))
    job = run(server, sm)
    assert execution_status(sm, job) == "CompletedWithViolations"
    assert job["ProcessingJobStatus"] == "Completed"
    assert job["ExitMessage"].startswith("CompletedWithViolations")

    hook = next(r["body"] for r in received if r["path"] == "/hook")
    assert hook["monitor"] == MONITOR and hook["endpoint"] == ENDPOINT
    assert hook["execution"] == job["ProcessingJobName"]
    assert hook["status"] == "CompletedWithViolations"
    assert hook["violations"] and {"feature_name", "constraint_check_type"} <= set(
        hook["violations"][0]
    )
    assert Path(hook["report"]).is_dir()

    alerts = private(server, f"/monitoring-schedules/{MONITOR}/alerts")["alerts"]
    by_target = {a["target"]: a for a in alerts}
    assert by_target[targets[0]]["delivered"] is True
    assert by_target[targets[1]]["delivered"] is False
    assert "500" in by_target[targets[1]]["detail"]
    assert by_target[targets[2]]["delivered"] is False
    assert "no email" in by_target[targets[2]]["detail"]
    assert all(a["violations"] == len(hook["violations"]) for a in alerts)
    assert [a["delivered"] for a in detail(server, job)["Alerts"]] == [True, False, False]


def test_an_unreachable_webhook_is_recorded_as_not_delivered(sm, server):
    create(sm, environment={"mlinfra_alert_targets": json.dumps(["webhook:http://127.0.0.1:9/x"])})
    write_capture(server.root, rows(100, drifted=True))
    run(server, sm)
    (alert,) = private(server, f"/monitoring-schedules/{MONITOR}/alerts")["alerts"]
    assert alert["delivered"] is False and alert["detail"]


def test_no_captured_requests_fail_the_execution_saying_so(sm, server):
    create(sm)
    job = run(server, sm)
    assert job["ProcessingJobStatus"] == "Failed"
    assert execution_status(sm, job) == "Failed"
    assert "no records were captured" in job["FailureReason"]


def test_an_endpoint_without_data_capture_fails_the_execution_saying_so(sm, server):
    create_endpoint(sm, "churn-local-plain-api", capture=False)
    create(sm, endpoint="churn-local-plain-api")
    job = run(server, sm)
    assert job["ProcessingJobStatus"] == "Failed"
    assert "does not capture data" in job["FailureReason"]


def test_the_next_execution_analyses_only_what_was_captured_since_the_last(sm, server):
    create(sm)
    write_capture(server.root, rows(200))
    first = run(server, sm)
    assert first["ProcessingJobStatus"] == "Completed", first.get("FailureReason")
    second = run(server, sm)
    assert detail(server, second)["Since"] == detail(server, first)["Until"]
    assert "no records were captured" in second["FailureReason"]


# --- retraining ---------------------------------------------------------------------------


def test_violations_start_the_retraining_pipeline(sm, server):
    sm.create_pipeline(PipelineName=PIPELINE, PipelineDefinition=EMPTY_PIPELINE, RoleArn=ROLE)
    create(sm, environment={"mlinfra_retrain_pipeline": PIPELINE})
    write_capture(server.root, rows(200, drifted=True))
    job = run(server, sm)
    deadline = time.monotonic() + 10
    while "RetrainPipelineExecutionArn" not in (found := detail(server, job)):
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    executions = sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in executions] == [found["RetrainPipelineExecutionArn"]]
    described = sm.describe_pipeline_execution(
        PipelineExecutionArn=executions[0]["PipelineExecutionArn"]
    )
    assert MONITOR in described["PipelineExecutionDescription"]
    (entry,) = private(server, f"/monitoring-schedules/{MONITOR}/alerts")["alerts"]
    assert entry["target"] == f"retrain:{PIPELINE}" and entry["delivered"] is True
    assert entry["pipeline_execution_arn"] == found["RetrainPipelineExecutionArn"]


def test_a_missing_retraining_pipeline_is_recorded_as_not_started(sm, server):
    create(sm, environment={"mlinfra_retrain_pipeline": "churn-local-gone"})
    write_capture(server.root, rows(200, drifted=True))
    job = run(server, sm)
    deadline = time.monotonic() + 10
    while "RetrainFailure" not in (found := detail(server, job)):
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    assert "churn-local-gone" in found["RetrainFailure"]
    (entry,) = private(server, f"/monitoring-schedules/{MONITOR}/alerts")["alerts"]
    assert entry["delivered"] is False


# --- end to end ---------------------------------------------------------------------------


def test_a_monitor_analyses_what_a_served_endpoint_captured(server, model_dir):
    """Serving's capture files and the analysis agree on where and what they are."""
    sm = client(server)
    sm.create_model(
        ModelName="served",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": f"file://{model_dir}"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="served-config",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "served", "InitialInstanceCount": 1}
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "file:.mlinfra/emulator/capture/served",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sm.create_endpoint(EndpointName="served", EndpointConfigName="served-config")
    assert sm.describe_endpoint(EndpointName="served")["EndpointStatus"] == "InService"
    points = [(((i * 37) % 100 - 50) / 25, ((i * 53) % 100 - 50) / 25) for i in range(400)]
    dataset = server.root / "data" / "baseline.csv"
    dataset.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_text("x,y\n" + "".join(f"{x},{y}\n" for x, y in points))
    runtime = client(server, "sagemaker-runtime")
    for x, y in points[:120]:
        runtime.invoke_endpoint(EndpointName="served", Body=f"{x},{y}", ContentType="text/csv")

    create(sm, endpoint="served")
    job = run(server, sm)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert execution_status(sm, job) == "Completed"
    sm.delete_endpoint(EndpointName="served")


def test_a_run_now_may_open_its_window_at_a_given_time(sm, server):
    create(sm)
    started = private(
        server, f"/monitoring-schedules/{MONITOR}/executions", {"since": "2020-01-01T00:00:00"}
    )
    found = private(
        server, f"/monitoring-schedules/{MONITOR}/executions/{started['ProcessingJobName']}"
    )
    assert found["Since"] == "2020-01-01T00:00:00+00:00"
    assert found["ReportFolder"] == str(server.root / found["ReportUri"].removeprefix("file:"))


def test_a_run_now_with_a_bad_since_is_refused(sm, server):
    create(sm)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        private(server, f"/monitoring-schedules/{MONITOR}/executions", {"since": "yesterday"})
    assert excinfo.value.code == 400
    assert "since" in json.loads(excinfo.value.read())["message"]


# --- only its user starts a monitor ------------------------------------------------------


def executions(sm) -> list:
    found = sm.list_monitoring_executions(MonitoringScheduleName=MONITOR)
    return found["MonitoringExecutionSummaries"]


def test_a_cross_site_post_from_a_page_starts_no_execution(sm, server):
    create(sm)
    target = f"/_mlinfra/monitoring-schedules/{MONITOR}/executions"
    page = wire.request(
        "POST",
        target,
        {
            "Host": f"127.0.0.1:{server.port}",
            "Origin": "https://evil.example",
            "Content-Type": "text/plain;charset=UTF-8",
        },
        b"{}",
    )
    status, headers, body = wire.send(server.port, page)
    assert (status, wire.error_of(body)[0]) == (403, "AccessDeniedException")
    assert not [h for h in headers if h.startswith("access-control-")]
    assert executions(sm) == []


def test_an_unsigned_or_text_plain_run_now_starts_no_execution(sm, server):
    create(sm)
    target = f"/_mlinfra/monitoring-schedules/{MONITOR}/executions"
    host = {"Host": f"127.0.0.1:{server.port}"}
    unsigned = wire.request("POST", target, {**host, "Content-Type": JSON}, b"{}")
    status, _, body = wire.send(server.port, unsigned)
    assert (status, wire.error_of(body)[0]) == (403, "MissingAuthenticationTokenException")
    access = Access.for_server(server)
    plain = wire.signed(access, "POST", target, b"{}", {"Content-Type": "text/plain"})
    status, _, body = wire.send(server.port, wire.request("POST", target, plain, b"{}"))
    assert (status, wire.error_of(body)[0]) == (415, "UnsupportedMediaTypeException")
    assert executions(sm) == []
