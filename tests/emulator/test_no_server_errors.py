"""No request makes the emulator fail: property tests over every operation it serves.

Requests are drawn from botocore's input shapes (`request_strategies.py`), conforming and
mutated, and sent over HTTP to a real emulator that holds one resource of every kind (so
conforming requests reach the handlers, not just "not found"). Every answer must be a
success or a 4xx with AWS's error shape: `__type` and `message` in a JSON body, the same code
in `x-amzn-ErrorType`, a code the service models (or one of AWS's common errors). A 5xx, or
a 4xx without that shape, fails the test and shows the request (Hypothesis shrinks it).

`MLINFRA_FUZZ_EXAMPLES` sets the examples per operation (default 12, kept small so the file
runs in well under a minute on 2 cores); the README's reliability section records a run with
many more.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from every_kind import Populated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from request_strategies import Raw, request, to_json

from mlinfra.emulator.control import SUPPORTED, supported
from mlinfra.emulator.protocol import (
    AUTOSCALING_SERVICE,
    CLOUDWATCH_SERVICE,
    CONTROL_SERVICE,
    FEATURESTORE_SERVICE,
    RUNTIME_SERVICE,
)
from mlinfra.sagemaker.api import service_model

MAX_LABEL = 4096  # characters of a value sent in a URL or a header
EXAMPLES = int(os.environ.get("MLINFRA_FUZZ_EXAMPLES", "12"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # each run draws afresh; a failure prints its request
    suppress_health_check=list(HealthCheck),
)
# AWS's errors common to all services (API reference, "Common Errors"), beside each
# service's modelled ones.
COMMON_ERRORS = frozenset({
    "AccessDeniedException", "IncompleteSignature", "InternalFailure", "InvalidAction",
    "InvalidClientTokenId", "NotAuthorized", "OptInRequired", "RequestExpired",
    "ServiceUnavailable", "ThrottlingException", "ValidationError", "ValidationException",
    "SerializationException", "UnknownOperationException", "MissingAction",
})  # fmt: skip
RUNTIME_OPERATIONS = [
    (RUNTIME_SERVICE, "InvokeEndpoint"),
    *((FEATURESTORE_SERVICE, name) for name in
      ("PutRecord", "GetRecord", "DeleteRecord", "BatchGetRecord", "BatchWriteRecord")),
]  # fmt: skip


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    emulator = Populated(tmp_path_factory.mktemp("fuzzed"))
    yield emulator
    emulator.close()


def assert_answered(service: str, operation: str, status: int, headers: dict, body: bytes,
                    sent: Any) -> None:  # fmt: skip
    """A success, or a 4xx in AWS's error shape with a code the service knows."""
    where = f"{operation} {to_json(sent)[:2000] if not isinstance(sent, bytes) else sent[:200]!r}"
    assert status < 500, f"{status} for {where}: {body[:500]!r}"
    if status < 400:
        return
    document = json.loads(body)
    assert isinstance(document, dict), where
    code = document.get("__type")
    assert isinstance(code, str) and code, where
    assert isinstance(document.get("message"), str), where
    assert headers.get("x-amzn-ErrorType") == code, where
    assert b"Traceback" not in body, where
    assert code in COMMON_ERRORS | known_errors(service), f"{code} for {where}"


def known_errors(service: str) -> frozenset[str]:
    # By shape name, and by code: CloudWatch answers with its Query codes (InvalidParameterValue).
    shapes = service_model(service).error_shapes
    return frozenset(
        name
        for shape in shapes
        for name in (shape.name, (shape.metadata.get("error") or {}).get("code", shape.name))
    )


def send_control(fuzzed: Populated, operation: str, params: Any) -> tuple:
    headers = {"X-Amz-Target": f"SageMaker.{operation}",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    return fuzzed.send("POST", "/", to_json(params).encode("utf-8", "surrogatepass"), headers)


def send_rest(fuzzed: Populated, service: str, operation: str, params: Any) -> tuple:
    """The request boto3 would send for `params`, however hostile its values: labels in the
    path, query strings, headers and the JSON (or raw) body, each where the model says."""
    op = service_model(service).operation_model(operation)
    shape = op.input_shape
    params = params if isinstance(params, dict) else {}
    path, _, query = op.http["requestUri"].partition("?")
    queries = [query] if query else []
    headers: dict[str, str] = {"Content-Type": "application/json"}
    document: dict[str, Any] = {}
    body: bytes | None = None
    for name, member in shape.members.items():
        if name not in params:
            continue
        value, location = params[name], member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            path = path.replace("{" + wire + "}", _quote(_text(value)))
        elif location == "querystring":
            for item in value if isinstance(value, list) else [value]:
                queries.append(f"{quote(wire)}={_quote(_text(item))}")
        elif location == "header":
            headers[wire] = _text(value)[:MAX_LABEL].encode("latin-1", "replace").decode("latin-1")
            headers[wire] = headers[wire].replace("\r", " ").replace("\n", " ")
        elif name == shape.serialization.get("payload"):
            body = _text(value).encode("utf-8", "surrogatepass")
        else:
            document[name] = value
    path = path.replace("{EndpointName}", "fz-endpoint").replace("{FeatureGroupName}", "x")
    if body is None:
        body = to_json(document).encode("utf-8", "surrogatepass")
    target = path + ("?" + "&".join(queries) if queries else "")
    return fuzzed.send(op.http["method"], target, body, headers)


def _quote(text: str) -> str:
    # Past 64 KiB a request line is refused before any route (tested on its own below).
    return quote(text[:MAX_LABEL], safe="", errors="surrogatepass")


def _text(value: Any) -> str:
    return value.text if isinstance(value, Raw) else value if isinstance(value, str) else \
        to_json(value)  # fmt: skip


@pytest.mark.parametrize("operation", SUPPORTED)
@FUZZ
@given(data=st.data())
def test_no_control_plane_request_gets_a_server_error(fuzzed, operation, data):
    shape = service_model(CONTROL_SERVICE).operation_model(operation).input_shape
    params, _ = data.draw(request(shape, fuzzed.seeds), label="request")
    status, headers, body = send_control(fuzzed, operation, params)
    assert_answered(CONTROL_SERVICE, operation, status, headers, body, params)
    if status < 400 and operation.startswith(("Delete", "Update", "Stop")):
        fuzzed.restore()


# CloudWatch and Application Auto Scaling, over JSON (CloudWatch's JSON 1.0 reaches the same
# handlers as the CBOR boto3 sends; its raw CBOR bodies are tested in test_cloudwatch.py).
OTHER_APIS = [
    (api, name, content_type)
    for api, content_type in ((CLOUDWATCH_SERVICE, "application/x-amz-json-1.0"),
                              (AUTOSCALING_SERVICE, "application/x-amz-json-1.1"))
    for name in supported(api)
]  # fmt: skip


@pytest.mark.parametrize(("service", "operation", "content_type"), OTHER_APIS)
@FUZZ
@given(data=st.data())
def test_no_cloudwatch_or_autoscaling_request_gets_a_server_error(
    fuzzed, service, operation, content_type, data
):
    shape = service_model(service).operation_model(operation).input_shape
    params, _ = data.draw(request(shape, fuzzed.seeds), label="request")
    prefix = service_model(service).metadata["targetPrefix"]
    headers = {"X-Amz-Target": f"{prefix}.{operation}", "Content-Type": content_type}
    body = to_json(params).encode("utf-8", "surrogatepass")
    status, answer_headers, answer = fuzzed.send("POST", "/", body, headers)
    assert_answered(service, operation, status, answer_headers, answer, params)


@pytest.mark.parametrize(("service", "operation"), RUNTIME_OPERATIONS)
@FUZZ
@given(data=st.data())
def test_no_runtime_request_gets_a_server_error(fuzzed, service, operation, data):
    shape = service_model(service).operation_model(operation).input_shape
    params, _ = data.draw(request(shape, fuzzed.seeds), label="request")
    status, headers, body = send_rest(fuzzed, service, operation, params)
    assert_answered(service, operation, status, headers, body, params)


BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"[]", b"null", b"1e999", b'"x"', b"\xff\xfe", b"{}" * 3,
                     b"[" * 100_000, b'{"a":' * 50_000, b'{"\\ud800": 1}', b"NaN"]),
)  # fmt: skip


@FUZZ
@given(
    operation=st.sampled_from([*SUPPORTED, "CreateTrainingJob", "Nope", ""]),
    body=BODIES,
)
def test_no_control_plane_body_gets_a_server_error(fuzzed, operation, body):
    headers = {"X-Amz-Target": f"SageMaker.{operation}",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    status, headers, answer = fuzzed.send("POST", "/", body, headers)
    assert_answered(CONTROL_SERVICE, operation, status, headers, answer, body)
