"""Monitoring schedules in the emulator, driven by boto3 as on SageMaker."""

from __future__ import annotations

import json
import time
import urllib.error

import pytest
from botocore.exceptions import ClientError
from monitor_project import (
    ENDPOINT,
    MONITOR,
    client,
    create_endpoint,
    schedule_config,
    write_placeholder_baseline,
)

from mlinfra.emulator.access import Access
from mlinfra.emulator.control import ControlPlane


@pytest.fixture()
def sm(server):
    sagemaker = client(server)
    create_endpoint(sagemaker)
    write_placeholder_baseline(server.root)
    return sagemaker


def create(sm, name: str = MONITOR, **changes) -> str:
    return sm.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig=schedule_config(name, **changes),
        Tags=[{"Key": "mlinfra:project", "Value": "churn"}],
    )["MonitoringScheduleArn"]


def refused(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_schedule_is_created_described_and_listed(sm):
    arn = create(sm)
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{MONITOR}"
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["MonitoringType"] == "DataQuality"
    assert described["EndpointName"] == ENDPOINT
    config = described["MonitoringScheduleConfig"]
    assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 0 ? * * *)"
    assert config["MonitoringJobDefinition"]["Environment"]["mlinfra_drift_psi"] == "0.2"
    assert "LastMonitoringExecutionSummary" not in described

    listed = sm.list_monitoring_schedules(EndpointName=ENDPOINT)["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in listed] == [MONITOR]
    assert listed[0]["MonitoringScheduleArn"] == arn
    assert sm.list_monitoring_schedules(EndpointName="other")["MonitoringScheduleSummaries"] == []


def test_schedules_list_by_status_and_name(sm, server):
    write_placeholder_baseline(server.root, "churn-local-other-drift")
    create(sm)
    create(sm, "churn-local-other-drift")
    sm.stop_monitoring_schedule(MonitoringScheduleName="churn-local-other-drift")
    stopped = sm.list_monitoring_schedules(StatusEquals="Stopped")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in stopped] == ["churn-local-other-drift"]
    by_name = sm.list_monitoring_schedules(SortBy="Name", SortOrder="Ascending")
    names = [s["MonitoringScheduleName"] for s in by_name["MonitoringScheduleSummaries"]]
    assert names == ["churn-local-churn-drift", "churn-local-other-drift"]
    found = sm.list_monitoring_schedules(NameContains="OTHER")["MonitoringScheduleSummaries"]
    assert len(found) == 1


def test_a_schedule_is_stopped_and_started_again(sm):
    create(sm)
    sm.stop_monitoring_schedule(MonitoringScheduleName=MONITOR)
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    assert described["MonitoringScheduleStatus"] == "Stopped"
    sm.start_monitoring_schedule(MonitoringScheduleName=MONITOR)
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    assert described["MonitoringScheduleStatus"] == "Scheduled"


def test_an_update_replaces_the_configuration(sm):
    create(sm)
    before = sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    time.sleep(0.01)
    sm.update_monitoring_schedule(
        MonitoringScheduleName=MONITOR,
        MonitoringScheduleConfig=schedule_config(expression="hourly"),
    )
    after = sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    assert after["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "hourly"
    assert after["LastModifiedTime"] > before["LastModifiedTime"]
    assert after["CreationTime"] == before["CreationTime"]


def test_a_deleted_schedule_is_gone(sm):
    create(sm)
    sm.delete_monitoring_schedule(MonitoringScheduleName=MONITOR)
    assert sm.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        sm.describe_monitoring_schedule(MonitoringScheduleName=MONITOR)
    assert refused(excinfo)[0] == "ResourceNotFound"


def test_a_schedule_is_tagged_like_other_resources(sm):
    arn = create(sm)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "mlinfra:project", "Value": "churn"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "growth"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["mlinfra:project"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "growth"}]


def test_a_second_schedule_of_the_same_name_is_refused(sm):
    create(sm)
    with pytest.raises(ClientError) as excinfo:
        create(sm)
    assert refused(excinfo)[0] == "ResourceInUse"


def test_a_job_definition_by_name_is_refused_saying_definitions_are_inline(sm):
    config = schedule_config()
    del config["MonitoringJobDefinition"]
    config["MonitoringJobDefinitionName"] = "churn-data-quality"
    with pytest.raises(ClientError) as excinfo:
        sm.create_monitoring_schedule(
            MonitoringScheduleName=MONITOR, MonitoringScheduleConfig=config
        )
    code, message = refused(excinfo)
    assert code == "ValidationException"
    assert "MonitoringJobDefinitionName" in message and "inline" in message


def test_an_invalid_schedule_expression_is_refused_naming_the_field(sm):
    with pytest.raises(ClientError) as excinfo:
        create(sm, expression="dialy")
    code, message = refused(excinfo)
    assert code == "ValidationException"
    assert "ScheduleConfig.ScheduleExpression" in message and "daily" in message


def test_other_monitoring_types_are_refused(sm):
    config = dict(schedule_config(), MonitoringType="ModelBias")
    with pytest.raises(ClientError) as excinfo:
        sm.create_monitoring_schedule(
            MonitoringScheduleName=MONITOR, MonitoringScheduleConfig=config
        )
    assert "DataQuality and ModelQuality" in refused(excinfo)[1]


def test_a_model_quality_schedule_without_its_settings_is_refused_naming_one(sm):
    config = dict(schedule_config(), MonitoringType="ModelQuality")
    with pytest.raises(ClientError) as excinfo:
        sm.create_monitoring_schedule(
            MonitoringScheduleName=MONITOR, MonitoringScheduleConfig=config
        )
    assert "Environment.mlinfra_problem_type is required" in refused(excinfo)[1]


def test_an_unknown_endpoint_is_refused(sm):
    with pytest.raises(ClientError) as excinfo:
        create(sm, endpoint="nope")
    code, message = refused(excinfo)
    assert code == "ValidationException" and "endpoint" in message and "nope" in message


def test_an_alert_target_of_an_unknown_kind_is_refused(sm):
    targets = json.dumps(["pager:ml-oncall"])
    with pytest.raises(ClientError) as excinfo:
        create(sm, environment={"mlinfra_alert_targets": targets})
    message = refused(excinfo)[1]
    assert "mlinfra_alert_targets" in message and "pager:ml-oncall" in message


def test_a_missing_baseline_without_a_dataset_is_refused(sm, server):
    with pytest.raises(ClientError) as excinfo:
        create(sm, "churn-local-new-drift", environment={"mlinfra_baseline_dataset": ""})
    message = refused(excinfo)[1]
    assert "BaselineConfig" in message and "mlinfra_baseline_dataset" in message


def test_an_unknown_processing_job_is_not_found(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.describe_processing_job(ProcessingJobName="model-monitoring-202601010000-abc")
    assert refused(excinfo)[0] == "ResourceNotFound"


def test_the_private_routes_answer_an_unknown_schedule_with_an_error(server):
    access = Access.for_server(server)
    request = access.request(
        "POST", "/_mlinfra/monitoring-schedules/nope/executions", b"{}", "application/json"
    )
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        access.open(request, timeout=5)
    assert excinfo.value.code == 404
    assert json.loads(excinfo.value.read())["__type"] == "ResourceNotFound"


def test_an_execution_interrupted_by_a_stop_says_failed_after_a_restart(tmp_path):
    state = tmp_path / ".mlinfra" / "emulator"
    control = ControlPlane(tmp_path, state)
    control.store.put(
        "monitoring-execution",
        "model-monitoring-202601010000-abc",
        {
            "MonitoringScheduleName": MONITOR,
            "ProcessingJobName": "model-monitoring-202601010000-abc",
            "MonitoringExecutionStatus": "InProgress",
            "ProcessingJobStatus": "InProgress",
            "ScheduledTime": 1.0,
            "CreationTime": 1.0,
            "LastModifiedTime": 1.0,
        },
        1.0,
    )
    control.close()
    restarted = ControlPlane(tmp_path, state)
    try:
        found = restarted.call(
            "DescribeProcessingJob", {"ProcessingJobName": "model-monitoring-202601010000-abc"}, ""
        )
        assert found["ProcessingJobStatus"] == "Failed"
        assert "stopped" in found["FailureReason"]
    finally:
        restarted.close()
