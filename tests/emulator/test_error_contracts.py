"""Requests AWS answers with a 400 get a 4xx in AWS's error shape from the emulator, never a
500, and leave nothing behind: each case of issue 16 sent over HTTP to a real emulator."""

from __future__ import annotations

import json
import socket
import time

import pytest
from test_server import assert_aws_error, client, raw

ROLE = "arn:aws:iam::123456789012:role/emulator"
CONTROL = {"Content-Type": "application/x-amz-json-1.1"}


def control(server, operation: str, body: str | bytes) -> tuple[int, dict, bytes]:
    headers = {**CONTROL, "X-Amz-Target": f"SageMaker.{operation}"}
    return raw(server, "POST", "/", body.encode() if isinstance(body, str) else body, headers)


def put_record(server, group: str, body: str) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/json"}
    return raw(server, "PUT", f"/FeatureGroup/{group}", body.encode(), headers)


def listed(server, operation: str, member: str) -> list:
    status, _, body = control(server, operation, "{}")
    assert status == 200
    return json.loads(body)[member]


@pytest.fixture()
def group(server) -> str:
    """An online feature group: `id` (Integral), `time` (Fractional), `name` (String)."""
    client(server, "sagemaker").create_feature_group(
        FeatureGroupName="customers",
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="time",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "Integral"},
            {"FeatureName": "time", "FeatureType": "Fractional"},
            {"FeatureName": "name", "FeatureType": "String"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
    )
    return "customers"


def stored(server, group: str, identifier: str) -> dict:
    runtime = client(server, "sagemaker-featurestore-runtime")
    return runtime.get_record(
        FeatureGroupName=group,
        RecordIdentifierValueAsString=identifier,
        ExpirationTimeResponse="Enabled",
    )


def record(identifier: str, event_time: str, name: str = "a") -> list[dict]:
    return [
        {"FeatureName": "id", "ValueAsString": identifier},
        {"FeatureName": "time", "ValueAsString": event_time},
        {"FeatureName": "name", "ValueAsString": name},
    ]


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("ListModels", '{"CreationTimeBefore": 1e308}'),
        ("ListEndpoints", '{"LastModifiedTimeAfter": -1e308}'),
        ("ListModelPackages", '{"CreationTimeAfter": -1e12}'),  # the year -29719
        ("ListPipelines", '{"CreatedAfter": "0001-01-01T00:00:00+14:00"}'),
        ("ListPipelineExecutions", '{"PipelineName": "p", "CreatedBefore": 253402300800}'),
        ("ListMonitoringExecutions", '{"ScheduledTimeBefore": NaN}'),
        ("ListMonitoringSchedules", '{"CreationTimeAfter": Infinity}'),
        ("ListFeatureGroups", '{"CreationTimeBefore": -Infinity}'),
        ("ListEndpointConfigs", '{"CreationTimeBefore": true}'),
    ],
)
def test_a_timestamp_out_of_range_is_a_serialization_exception(server, operation, body):
    status, headers, answer = control(server, operation, body)
    document = assert_aws_error(status, headers, answer, "SerializationException", 400)
    assert "timestamp" in document["message"] or "not a JSON number" in document["message"]


def test_a_timestamp_in_range_still_filters(server):
    sm = client(server, "sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="g")
    status, _, body = control(server, "ListModelPackageGroups", '{"CreationTimeAfter": -1}')
    assert status == 200
    assert [g["ModelPackageGroupName"] for g in json.loads(body)["ModelPackageGroupSummaryList"]]
    status, _, body = control(
        server, "ListModelPackageGroups", '{"CreationTimeBefore": 253402300799}'
    )
    assert len(json.loads(body)["ModelPackageGroupSummaryList"]) == 1


@pytest.mark.parametrize(
    "event_time", ["1e308", "-1e308", "-1e12", "1e400", "NaN", "Infinity", "0001-01-01T00:00:00Z"]
)
def test_an_event_time_out_of_range_stores_nothing(server, group, event_time):
    body = json.dumps({"Record": record("1", event_time)})
    status, headers, answer = put_record(server, group, body)
    assert_aws_error(status, headers, answer, "ValidationError", 400)
    assert "Record" not in stored(server, group, "1")


# --- text that is not Unicode -------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("CreateModelPackageGroup", '{"ModelPackageGroupName": "\\ud800"}'),
        ("CreateModelPackageGroup", '{"ModelPackageGroupName": "g", "Tags": '
         '[{"Key": "team", "Value": "a\\udfffb"}]}'),  # fmt: skip
        ("CreateModelPackageGroup", '{"ModelPackageGroupName": "g", '
         '"ModelPackageGroupDescription": "\\uDBFF"}'),  # fmt: skip
    ],
)
def test_a_lone_surrogate_stores_nothing(server, operation, body):
    status, headers, answer = control(server, operation, body)
    document = assert_aws_error(status, headers, answer, "SerializationException", 400)
    assert "lone surrogate" in document["message"]
    assert listed(server, "ListModelPackageGroups", "ModelPackageGroupSummaryList") == []


def test_a_lone_surrogate_in_a_record_stores_nothing(server, group):
    body = '{"Record": [{"FeatureName": "id", "ValueAsString": "1"}, {"FeatureName": "time", ' \
        '"ValueAsString": "1"}, {"FeatureName": "name", "ValueAsString": "\\ud800"}]}'  # fmt: skip
    status, headers, answer = put_record(server, group, body)
    assert_aws_error(status, headers, answer, "ValidationError", 400)
    assert "Record" not in stored(server, group, "1")


def test_a_surrogate_pair_is_text_and_is_kept(server):
    body = '{"ModelPackageGroupName": "g", "ModelPackageGroupDescription": "\\ud83d\\ude00"}'
    assert control(server, "CreateModelPackageGroup", body)[0] == 200
    described = client(server, "sagemaker").describe_model_package_group(
        ModelPackageGroupName="g"
    )
    assert described["ModelPackageGroupDescription"] == "\U0001f600"


# --- pipelines ----------------------------------------------------------------------------


def test_listing_the_steps_of_no_execution_is_a_validation_exception(server):
    status, headers, body = control(server, "ListPipelineExecutionSteps", "{}")
    document = assert_aws_error(status, headers, body, "ValidationException", 400)
    assert "PipelineExecutionArn" in document["message"]


@pytest.mark.parametrize(
    "definition",
    [{"PipelineDefinitionS3Location": {"Bucket": "bucket", "ObjectKey": "pipeline.json"}}, {}],
    ids=["s3-location-only", "no-definition"],
)
def test_a_pipeline_without_a_definition_is_refused_and_not_stored(server, definition):
    body = json.dumps(
        {"PipelineName": "p", "RoleArn": ROLE, "ClientRequestToken": "t" * 32, **definition}
    )
    status, headers, answer = control(server, "CreatePipeline", body)
    document = assert_aws_error(status, headers, answer, "ValidationException", 400)
    assert "PipelineDefinition" in document["message"]
    assert listed(server, "ListPipelines", "PipelineSummaries") == []


def test_starting_a_stored_pipeline_that_has_no_definition_runs_nothing(server):
    # A record an emulator wrote before CreatePipeline required a definition.
    now = time.time()
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/old"
    record_ = {"PipelineName": "old", "PipelineArn": arn, "RoleArn": ROLE,
               "PipelineStatus": "Active", "CreationTime": now,
               "LastModifiedTime": now}  # fmt: skip
    server.control.store.put("pipeline", "old", record_, now)
    start = json.dumps({"PipelineName": "old", "ClientRequestToken": "t" * 32})
    status, headers, body = control(server, "StartPipelineExecution", start)
    document = assert_aws_error(status, headers, body, "ValidationException", 400)
    assert "no PipelineDefinition" in document["message"]
    status, _, body = control(server, "ListPipelineExecutions", '{"PipelineName": "old"}')
    assert json.loads(body)["PipelineExecutionSummaries"] == []


# --- what the parser cannot hold ----------------------------------------------------------


DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, '{"Tags": ' + "[" * 101 + "]" * 101 + "}"])
def test_json_nested_too_deep_is_a_serialization_exception(server, body):
    status, headers, answer = control(server, "CreateModelPackageGroup", body)
    document = assert_aws_error(status, headers, answer, "SerializationException", 400)
    assert "nested more than 100 levels" in document["message"]


def test_json_nested_too_deep_in_a_record_stores_nothing(server, group):
    status, headers, body = put_record(server, group, '{"Record": ' + DEEP + "}")
    assert_aws_error(status, headers, body, "ValidationError", 400)


def test_json_nested_too_deep_in_mlinfras_own_routes_is_refused(server):
    status, headers, body = raw(
        server,
        "POST",
        "/_mlinfra/monitoring-schedules/m/executions",
        DEEP_OBJECT.encode(),
        {"Content-Type": "application/json"},
    )
    assert_aws_error(status, headers, body, "ValidationException", 400)


def test_an_integer_of_5000_digits_is_a_serialization_exception(server):
    status, headers, body = control(server, "ListModels", '{"MaxResults": ' + "7" * 5000 + "}")
    document = assert_aws_error(status, headers, body, "SerializationException", 400)
    assert "5000 digits" in document["message"]


@pytest.mark.parametrize("value", [str(2**31), str(-(2**31) - 1), str(10**18)])
def test_an_integer_out_of_an_int32_is_a_serialization_exception(server, value):
    status, headers, body = control(server, "ListModels", '{"MaxResults": ' + value + "}")
    assert_aws_error(status, headers, body, "SerializationException", 400)


def test_an_integral_feature_of_5000_digits_stores_nothing(server, group):
    body = json.dumps({"Record": record("1" * 5000, "1")})
    status, headers, answer = put_record(server, group, body)
    document = assert_aws_error(status, headers, answer, "ValidationError", 400)
    assert "64-bit integer" in document["message"]
    assert len(document["message"]) < 1000  # the value is not echoed whole
    leading_zeros = json.dumps({"Record": record("0" * 5000 + "7", "1")})
    assert put_record(server, group, leading_zeros)[0] == 200
    assert "Record" in stored(server, group, "7")


def test_a_ttl_of_10_to_the_18_stores_nothing(server, group):
    body = json.dumps(
        {"Record": record("1", "1"), "TtlDuration": {"Unit": "Weeks", "Value": 10**18}}
    )
    status, headers, answer = put_record(server, group, body)
    assert_aws_error(status, headers, answer, "ValidationError", 400)
    assert "Record" not in stored(server, group, "1")


def test_the_longest_ttl_expires_at_the_end_of_year_9999(server, group):
    body = json.dumps(
        {"Record": record("1", str(time.time())), "TtlDuration": {"Unit": "Weeks",
                                                                  "Value": 2**31 - 1}}
    )  # fmt: skip
    assert put_record(server, group, body)[0] == 200
    assert stored(server, group, "1")["ExpiresAt"] == "9999-12-31T23:59:59.999Z"


# --- HTTP the standard library refuses ------------------------------------------------------


def test_a_request_line_over_64_kib_gets_an_aws_error(server):
    status, headers, body = raw(server, "GET", "/endpoints/" + "a" * 70_000 + "/invocations")
    assert_aws_error(status, headers, body, "ValidationException", 414)


def test_a_header_over_64_kib_gets_an_aws_error(server):
    status, headers, body = raw(server, "GET", "/_mlinfra/health", headers={"X-Big": "b" * 70_000})
    assert_aws_error(status, headers, body, "ValidationException", 431)


def test_an_unknown_http_method_is_a_405_not_a_501(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"BREW / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ")
    assert json.loads(body)["__type"] == "UnknownOperationException"


# --- locations that are not URLs -----------------------------------------------------------


def test_a_malformed_network_location_is_an_s3_location_not_a_crash(server):
    sm = client(server, "sagemaker")
    sm.create_model_package(
        ModelPackageName="odd",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn", "ModelDataUrl": "s3://[bucket/model.tar.gz",
                            "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "s3://[code"}}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )  # fmt: skip
    described = sm.describe_model_package(ModelPackageName="odd")
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == "s3://[bucket/model.tar.gz"
