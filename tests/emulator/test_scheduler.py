"""The emulator's scheduler: monitors and scheduled pipelines start on time, once, never late."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlinfra.emulator.control import ControlPlane
from mlinfra.emulator.scheduler import Fired, Scheduler
from mlinfra.emulator.server import EmulatorServer
from mlinfra.spec.values import schedule_tag

START = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/mlinfra-local"
REGION = "us-east-1"
EMPTY_PIPELINE = json.dumps({"Version": "2020-12-01", "Steps": []})


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def control(tmp_path: Path):
    control = ControlPlane(tmp_path, tmp_path / ".mlinfra" / "emulator")
    # An endpoint that captures nothing: a fired monitor fails at once, running no job.
    control.store.put("endpoint-config", "api-config", {"EndpointConfigName": "api-config"}, 0)
    control.store.put(
        "endpoint", "api", {"EndpointName": "api", "EndpointConfigName": "api-config"}, 0
    )
    yield control
    control.close()


def at(hours: float) -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=hours)


def add_monitor(control: ControlPlane, name: str, expression: str) -> None:
    folder = f".mlinfra/emulator/monitors/{name}/baseline"
    (control.root / folder).mkdir(parents=True, exist_ok=True)
    for file in ("constraints.json", "statistics.json"):
        (control.root / folder / file).write_text("{}")
    definition = {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"file:{folder}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"file:{folder}/statistics.json"},
        },
        "MonitoringInputs": [{"EndpointInput": {"EndpointName": "api", "LocalPath": "/in"}}],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": f"file:reports/{name}", "LocalPath": "/o"}}
            ]
        },
        "MonitoringResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "VolumeSizeInGB": 20,
            }
        },
        "MonitoringAppSpecification": {"ImageUri": "model-monitor"},
        "RoleArn": ROLE,
    }
    config = {
        "ScheduleConfig": {"ScheduleExpression": expression},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": definition,
    }
    control.call(
        "CreateMonitoringSchedule",
        {"MonitoringScheduleName": name, "MonitoringScheduleConfig": config},
        REGION,
    )


def add_pipeline(control: ControlPlane, name: str, schedule: str | None) -> None:
    """A pipeline tagged with `schedule` as the local lowering tags it (`schedule_tag`)."""
    tags = [{"Key": "mlinfra:schedule", "Value": schedule_tag(schedule)}] if schedule else []
    control.call(
        "CreatePipeline",
        {"PipelineName": name, "PipelineDefinition": EMPTY_PIPELINE, "RoleArn": ROLE, "Tags": tags},
        REGION,
    )


def executions(control: ControlPlane, name: str) -> list[float]:
    found = control.call("ListMonitoringExecutions", {"MonitoringScheduleName": name}, REGION)
    return sorted(e["ScheduledTime"] for e in found["MonitoringExecutionSummaries"])


def test_a_monitor_fires_once_at_each_due_time(control):
    add_monitor(control, "drift", "hourly")
    scheduler = Scheduler(control.store, control.monitors, control.call, Clock())
    assert scheduler.tick(at(0.99)) == []
    assert scheduler.tick(at(1)) == [Fired("monitor", "drift", at(1))]
    assert scheduler.tick(at(1)) == []
    assert scheduler.tick(at(1.5)) == []
    assert scheduler.tick(at(2)) == [Fired("monitor", "drift", at(2))]
    assert executions(control, "drift") == [at(1).timestamp(), at(2).timestamp()]


def test_runs_missed_while_asleep_fire_once_for_the_latest_due_time(control):
    add_monitor(control, "drift", "hourly")
    scheduler = Scheduler(control.store, control.monitors, control.call, Clock())
    assert scheduler.tick(at(5.5)) == [Fired("monitor", "drift", at(5))]
    assert scheduler.tick(at(5.9)) == []
    assert scheduler.tick(at(6)) == [Fired("monitor", "drift", at(6))]


def test_runs_missed_while_the_emulator_was_stopped_are_not_replayed(control):
    add_monitor(control, "drift", "hourly")
    Scheduler(control.store, control.monitors, control.call, Clock()).tick(at(1))
    restarted = Scheduler(control.store, control.monitors, control.call, Clock(at(4.5)))
    assert restarted.tick(at(4.6)) == []
    assert restarted.tick(at(5)) == [Fired("monitor", "drift", at(5))]
    assert executions(control, "drift") == [at(1).timestamp(), at(5).timestamp()]


def test_a_stopped_monitor_does_not_fire(control):
    add_monitor(control, "drift", "hourly")
    control.call("StopMonitoringSchedule", {"MonitoringScheduleName": "drift"}, REGION)
    assert Scheduler(control.store, control.monitors, control.call, Clock()).tick(at(3)) == []


def test_a_schedule_set_while_running_counts_from_then(control):
    scheduler = Scheduler(control.store, control.monitors, control.call, Clock())
    assert scheduler.tick(at(1.5)) == []
    add_pipeline(control, "train", "hourly")  # its 01:00 had passed: not run late
    assert scheduler.tick(at(1.6)) == []
    assert [f.due for f in scheduler.tick(at(2))] == [at(2)]


def test_a_pipeline_tagged_with_a_schedule_starts_on_it_saying_so(control):
    add_pipeline(control, "train", "cron(0 3 * * ? *)")
    add_pipeline(control, "manual", None)
    scheduler = Scheduler(control.store, control.monitors, control.call, Clock())
    assert scheduler.tick(at(3)) == [Fired("pipeline", "train", at(3))]
    assert scheduler.tick(at(3)) == []
    found = control.call("ListPipelineExecutions", {"PipelineName": "train"}, REGION)
    (summary,) = found["PipelineExecutionSummaries"]
    described = control.call(
        "DescribePipelineExecution",
        {"PipelineExecutionArn": summary["PipelineExecutionArn"]},
        REGION,
    )
    assert described["PipelineExecutionDescription"] == "Started by schedule cron(0 3 * * ? *)"
    assert control.call("ListPipelineExecutions", {"PipelineName": "manual"}, REGION) == {
        "PipelineExecutionSummaries": []
    }


def test_an_invalid_schedule_tag_is_logged_and_skipped(control, caplog):
    add_pipeline(control, "broken", "dialy")
    add_pipeline(control, "train", "daily")
    scheduler = Scheduler(control.store, control.monitors, control.call, Clock())
    with caplog.at_level(logging.WARNING, logger="mlinfra.emulator.scheduler"):
        assert scheduler.tick(at(24)) == [Fired("pipeline", "train", at(24))]
        scheduler.tick(at(25))
    warnings = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(warnings) == 1 and "dialy" in warnings[0].getMessage()


def test_the_scheduler_runs_while_the_emulator_serves_and_stops_with_it(tmp_path):
    server = EmulatorServer(tmp_path, tmp_path / ".mlinfra" / "emulator", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while server.control._scheduler is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    scheduler_thread = server.control._scheduler._thread
    assert scheduler_thread.is_alive()
    server.shutdown()
    server.server_close()
    thread.join(5)
    assert not scheduler_thread.is_alive()
