"""The emulator's HTTP server: runtime APIs end to end, and AWS-shaped errors for any input."""

from __future__ import annotations

import http.client
import json
import logging
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from mlinfra.emulator.access import Access
from mlinfra.emulator.protocol import rest_routes
from mlinfra.emulator.server import MAX_BODY, EmulatorServer

ROLE = "arn:aws:iam::123456789012:role/emulator"


def client(server: EmulatorServer, service: str):
    return Access.for_server(server).client(service)


def raw(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One request over plain HTTP, signed with the emulator's credentials."""
    signed = Access.for_server(server).signed_headers(method, path, body, headers)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=signed)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def assert_aws_error(status: int, headers: dict, body: bytes, code: str, expected: int) -> dict:
    assert status == expected
    assert b"Traceback" not in body
    document = json.loads(body)
    assert document["__type"] == code
    assert headers["x-amzn-ErrorType"] == code
    return document


# --- routes -------------------------------------------------------------------------------


def test_runtime_routes_come_from_the_service_models():
    found = {(r.method, r.pattern.pattern, r.operation.name) for r in rest_routes()}
    assert ("POST", "^/endpoints/(?P<EndpointName>[^/]+)/invocations$", "InvokeEndpoint") in found
    assert ("PUT", "^/FeatureGroup/(?P<FeatureGroupName>[^/]+)$", "PutRecord") in found
    assert ("GET", "^/FeatureGroup/(?P<FeatureGroupName>[^/]+)$", "GetRecord") in found
    assert ("DELETE", "^/FeatureGroup/(?P<FeatureGroupName>[^/]+)$", "DeleteRecord") in found
    assert ("POST", "^/BatchGetRecord$", "BatchGetRecord") in found


def test_the_server_listens_on_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.socket.getsockname()[0] == "127.0.0.1"


# --- InvokeEndpoint -----------------------------------------------------------------------


def deploy(
    server,
    model_dir: Path,
    name: str = "api",
    variants=("AllTraffic",),
    destination: str = "s3://bucket/capture",
) -> None:
    sm = client(server, "sagemaker")
    sm.create_model(
        ModelName="m", PrimaryContainer={"Image": "x", "ModelDataUrl": str(model_dir)},
        ExecutionRoleArn=ROLE,
    )  # fmt: skip
    sm.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[
            {"VariantName": v, "ModelName": "m", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}
            for v in variants
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName="cfg")
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def test_invoke_endpoint_returns_predictions_and_the_variant(server, model_dir):
    deploy(server, model_dir, variants=("Blue", "Green"))
    runtime = client(server, "sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName="api",
        Body=b"1.0,0.0\n-1.0,0.0\n",
        ContentType="text/csv",
        Accept="text/csv",
        TargetVariant="Green",
        InferenceId="req-1",
    )
    assert answer["InvokedProductionVariant"] == "Green"
    assert answer["ContentType"].startswith("text/csv")
    scores = [float(v) for v in answer["Body"].read().decode().split()]
    assert len(scores) == 2 and scores[0] > 0.5 > scores[1]
    captured = list((server.state_dir / "capture" / "api").rglob("*.jsonl"))
    assert captured, "data capture wrote nothing"


def test_data_capture_goes_to_a_local_destination_as_given(server, model_dir, tmp_path):
    deploy(server, model_dir, destination=f"file://{tmp_path}/captured")
    client(server, "sagemaker-runtime").invoke_endpoint(
        EndpointName="api", Body=b"1.0,0.0\n", ContentType="text/csv"
    )
    # SageMaker's layout under the destination: <endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/.
    (captured,) = (tmp_path / "captured").rglob("*.jsonl")
    assert captured.relative_to(tmp_path / "captured").parts[:2] == ("api", "AllTraffic")
    assert not (server.state_dir / "capture" / "api").exists()


def test_invoking_an_unknown_endpoint_is_a_validation_error(server):
    runtime = client(server, "sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError) as excinfo:
        runtime.invoke_endpoint(EndpointName="missing", Body=b"1,2", ContentType="text/csv")
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    assert "missing" in excinfo.value.response["Error"]["Message"]


def test_a_model_error_is_reported_as_modelerror_not_a_traceback(server, model_dir):
    deploy(server, model_dir)
    status, headers, body = raw(
        server,
        "POST",
        "/endpoints/api/invocations",
        b"not,numbers,at,all",
        {"Content-Type": "text/csv"},
    )
    assert status in (400, 424)
    assert b"Traceback" not in body
    assert json.loads(body)["__type"] in ("ModelError", "ValidationError")


# --- Feature Store Runtime ---------------------------------------------------------------


def feature_group(server) -> None:
    client(server, "sagemaker").create_feature_group(
        FeatureGroupName="customers",
        RecordIdentifierFeatureName="customer_id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "customer_id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "Fractional"},
            {"FeatureName": "tenure_months", "FeatureType": "Integral"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
        RoleArn=ROLE,
    )


def record(customer: str, event_time: float, tenure: int) -> list[dict]:
    return [
        {"FeatureName": "customer_id", "ValueAsString": customer},
        {"FeatureName": "event_time", "ValueAsString": str(event_time)},
        {"FeatureName": "tenure_months", "ValueAsString": str(tenure)},
    ]


def test_feature_store_runtime_put_get_batch_delete(server):
    feature_group(server)
    fs = client(server, "sagemaker-featurestore-runtime")
    fs.put_record(FeatureGroupName="customers", Record=record("c1", 1700000000.0, 12))
    fs.put_record(FeatureGroupName="customers", Record=record("c2", 1700000000.0, 3))
    got = fs.get_record(FeatureGroupName="customers", RecordIdentifierValueAsString="c1")
    assert {f["FeatureName"]: f["ValueAsString"] for f in got["Record"]}["tenure_months"] == "12"
    only = fs.get_record(
        FeatureGroupName="customers",
        RecordIdentifierValueAsString="c1",
        FeatureNames=["tenure_months"],
    )
    assert only["Record"] == [{"FeatureName": "tenure_months", "ValueAsString": "12"}]
    batch = fs.batch_get_record(
        Identifiers=[
            {"FeatureGroupName": "customers", "RecordIdentifiersValueAsString": ["c1", "c2"]}
        ]
    )
    assert sorted(r["RecordIdentifierValueAsString"] for r in batch["Records"]) == ["c1", "c2"]
    fs.delete_record(
        FeatureGroupName="customers",
        RecordIdentifierValueAsString="c1",
        EventTime="1700000001.0",
    )
    gone = fs.get_record(FeatureGroupName="customers", RecordIdentifierValueAsString="c1")
    assert "Record" not in gone


def test_get_record_of_an_unknown_group_is_resource_not_found(server):
    fs = client(server, "sagemaker-featurestore-runtime")
    with pytest.raises(ClientError) as excinfo:
        fs.get_record(FeatureGroupName="missing", RecordIdentifierValueAsString="c1")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFound"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_bad_record_is_a_validation_error(server):
    feature_group(server)
    fs = client(server, "sagemaker-featurestore-runtime")
    with pytest.raises(ClientError) as excinfo:
        fs.put_record(FeatureGroupName="customers", Record=record("c1", 1.0, "twelve"))
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"


def test_an_unsupported_runtime_operation_is_named(server):
    fs = client(server, "sagemaker-featurestore-runtime")
    with pytest.raises(ClientError) as excinfo:
        fs.list_records(FeatureGroupName="customers")
    assert excinfo.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "ListRecords" in excinfo.value.response["Error"]["Message"]


# --- no traceback, ever ------------------------------------------------------------------

TARGET = {"X-Amz-Target": "SageMaker.DescribeModel", "Content-Type": "application/x-amz-json-1.1"}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'"a string"', b"null"],
)
def test_a_garbage_control_plane_body_is_an_aws_error(server, body):
    status, headers, payload = raw(server, "POST", "/", body, TARGET)
    assert status == 400
    assert b"Traceback" not in payload
    assert json.loads(payload)["__type"] == headers["x-amzn-ErrorType"]


@pytest.mark.parametrize("target", [None, "", "Other.DescribeModel", "SageMaker."])
def test_a_missing_or_foreign_target_is_unknown_operation(server, target):
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    status, headers, payload = raw(server, "POST", "/", b"{}", headers)
    assert status == 400
    assert json.loads(payload)["__type"] == "UnknownOperationException"


def test_a_huge_body_is_refused_without_being_read(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("POST", "/endpoints/api/invocations")
        # Refused for its size before anything else, so before its signature is checked.
        conn.putheader("Content-Length", str(MAX_BODY + 1))
        conn.putheader("Content-Type", "text/csv")
        conn.endheaders()
        conn.send(b"1,2,3\n" * 1000)
        response = conn.getresponse()
        body = response.read()
        assert_aws_error(
            response.status, dict(response.getheaders()), body, "ValidationException", 413
        )
    finally:
        conn.close()


def test_an_invalid_content_length_is_an_aws_error(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("POST", "/")
        conn.putheader("Content-Length", "lots")
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
        assert response.status == 400
        assert b"Traceback" not in body
    finally:
        conn.close()


def test_an_unknown_path_is_an_aws_error(server):
    status, headers, body = raw(server, "GET", "/nope/../etc/passwd")
    assert_aws_error(status, headers, body, "UnknownOperationException", 404)


def test_a_wrong_method_on_a_known_path_is_an_aws_error(server):
    status, headers, body = raw(server, "PATCH", "/FeatureGroup/customers")
    assert_aws_error(status, headers, body, "UnknownOperationException", 405)


def test_a_bug_is_internal_failure_with_the_traceback_only_in_the_log(server, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    server.control.call = broken
    with caplog.at_level(logging.ERROR, logger="mlinfra.emulator"):
        status, headers, body = raw(server, "POST", "/", b'{"ModelName": "m"}', TARGET)
    document = assert_aws_error(status, headers, body, "InternalFailure", 500)
    assert "secret detail" not in json.dumps(document)
    assert any("secret detail" in (r.exc_text or "") for r in caplog.records)


def test_the_connection_survives_errors_for_keep_alive(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    access = Access.for_server(server)
    try:
        for body in (b"{bad", b'{"ModelName": "missing"}'):
            conn.request(
                "POST", "/", body=body, headers=access.signed_headers("POST", "/", body, TARGET)
            )
            response = conn.getresponse()
            assert response.status == 400
            response.read()
    finally:
        conn.close()
