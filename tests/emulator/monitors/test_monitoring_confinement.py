"""A monitoring schedule's baseline, dataset and reports stay inside the project and state.

Each location of the job definition, pointed outside the project folder, is refused at
CreateMonitoringSchedule with a ValidationException naming the field and the allowed roots,
and nothing is read or written there (no baselining job runs over an outside dataset).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from monitor_project import MONITOR, client, create_endpoint, schedule_config, write_dataset


@pytest.fixture()
def outside(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("outside")
    write_dataset(folder)  # data/baseline.csv, a dataset a baselining job would accept
    return folder


def refused(server, config: dict) -> str:
    sm = client(server)
    with pytest.raises(ClientError) as excinfo:
        sm.create_monitoring_schedule(
            MonitoringScheduleName=MONITOR, MonitoringScheduleConfig=config
        )
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert sm.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    return error["Message"]


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_dataset_outside_the_project_is_refused_and_not_read(server, outside):
    create_endpoint(client(server))
    before = files(outside)
    config = schedule_config(
        environment={"mlinfra_baseline_dataset": f"file://{outside}/data/baseline.csv"}
    )
    message = refused(server, config)
    assert "Environment.mlinfra_baseline_dataset" in message
    assert str(server.root) in message and str(server.state_dir) in message
    assert files(outside) == before
    assert not any(server.state_dir.rglob("constraints.json"))


def test_baseline_files_outside_the_project_are_refused(server, outside):
    create_endpoint(client(server))
    write_dataset(server.root)
    config = schedule_config()
    baseline = config["MonitoringJobDefinition"]["BaselineConfig"]
    baseline["ConstraintsResource"]["S3Uri"] = f"file://{outside}/constraints.json"
    baseline["StatisticsResource"]["S3Uri"] = f"file://{outside}/statistics.json"
    before = files(outside)
    message = refused(server, config)
    assert "BaselineConfig.ConstraintsResource.S3Uri" in message
    assert files(outside) == before


def test_reports_outside_the_project_are_refused(server, outside):
    create_endpoint(client(server))
    write_dataset(server.root)
    config = schedule_config()
    outputs = config["MonitoringJobDefinition"]["MonitoringOutputConfig"]["MonitoringOutputs"]
    outputs[0]["S3Output"]["S3Uri"] = f"file://{outside}/reports"
    before = files(outside)
    message = refused(server, config)
    assert "MonitoringOutputConfig" in message
    assert files(outside) == before
