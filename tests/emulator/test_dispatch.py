"""The emulator's dispatch table: each operation handled by the one service that names it."""

from __future__ import annotations

import pytest

from mlinfra.emulator.control import (
    API_OF,
    OPERATIONS,
    SERVICES,
    SUPPORTED,
    ControlPlane,
    dispatch_table,
    supported,
)
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.protocol import CONTROL_SERVICE
from mlinfra.emulator.services.runtime import Runtime
from mlinfra.sagemaker.api import service_model

REGION = "us-east-1"


@pytest.fixture
def control(tmp_path):
    plane = ControlPlane(tmp_path, tmp_path / ".mlinfra" / "emulator")
    yield plane
    plane.close()


def test_every_supported_operation_has_a_handler_and_is_in_its_apis_model(control):
    assert sorted(control.operations) == sorted(OPERATIONS)
    assert len(set(OPERATIONS)) == len(OPERATIONS)
    for operation in OPERATIONS:
        assert operation in service_model(API_OF[operation]).operation_names, operation
    assert SUPPORTED == supported(CONTROL_SERVICE)
    assert set(OPERATIONS) == {
        *SUPPORTED,
        *supported("cloudwatch"),
        *supported("application-autoscaling"),
    }
    assert sorted(control.runtime_operations) == sorted(Runtime.OPERATIONS)


def test_an_operation_is_run_only_for_the_api_that_has_it(control):
    # PutMetricAlarm is CloudWatch's: sent as SageMaker's (X-Amz-Target: SageMaker.PutMetricAlarm)
    # it must not reach CloudWatch's handler, whose input SageMaker's model never checked.
    with pytest.raises(ApiError) as excinfo:
        control.call("PutMetricAlarm", {"AlarmName": "x"}, REGION)
    assert excinfo.value.code == "UnknownOperationException"
    assert "DescribeAlarms" not in excinfo.value.message
    with pytest.raises(ApiError) as excinfo:
        control.call("CreateModel", {}, REGION, "cloudwatch")
    assert excinfo.value.code == "UnknownOperationException"
    assert "PutMetricData" in excinfo.value.message


def test_an_operation_no_service_names_is_unknown(control):
    with pytest.raises(ApiError) as excinfo:
        control.call("CreateCompilationJob", {}, REGION)
    assert excinfo.value.code == "UnknownOperationException"
    assert "CreateModel" in excinfo.value.message  # the message lists what is supported


def test_a_service_is_joined_to_the_table_by_its_operations():
    class Alarms:
        OPERATIONS = ("DescribeAlarms", "PutMetricAlarm")

        def describe_alarms(self, p, region):
            return {"MetricAlarms": [p["AlarmName"]]}

        def put_metric_alarm(self, p, region):
            return None

    table = dispatch_table([Alarms()])
    assert sorted(table) == ["DescribeAlarms", "PutMetricAlarm"]
    assert table["DescribeAlarms"]({"AlarmName": "drift"}, REGION) == {"MetricAlarms": ["drift"]}


def test_an_operation_two_services_name_is_refused_at_start_up():
    class Models:
        OPERATIONS = ("CreateModel",)

        def create_model(self, p, region):
            return {}

    with pytest.raises(ValueError, match="CreateModel is handled by two services"):
        dispatch_table([Models(), Models()])


def test_every_kind_of_record_a_service_keeps_can_be_tagged(control):
    kinds = {kind.name for service in SERVICES for kind in service.KINDS}
    assert {kind.name for kind in control.tags.kinds} == kinds
    assert {"model", "endpoint", "model-package", "pipeline", "monitoring-schedule"} <= kinds
