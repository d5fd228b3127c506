"""Web pages never drive the emulator: what a browser sends is refused, in every mode.

Each attack is a request on a raw socket, as a browser would send it, against a running
server (the signed `server` fixture, and `insecure`, started with --insecure-any-credentials,
where nothing but these checks stands in the way); each test asserts the refusal and that
nothing changed.
"""

from __future__ import annotations

import pytest
from featurestore_client import create_group, get_record
from test_server import ROLE, client, deploy
from wire import error_of, request, send, signed

from mlinfra.emulator.access import Access

GROUP = "customers"
CSV = b"customer_id,event_time,tenure_months\nC1,2024-12-01T10:00:00Z,12\n"
INGEST = f"/_mlinfra/feature-groups/{GROUP}/ingest"
INVOKE = "/endpoints/api/invocations"
CREATE_MODEL = {"X-Amz-Target": "SageMaker.CreateModel"}
MODEL = (
    b'{"ModelName": "evil", "PrimaryContainer": {"Image": "x"}, "ExecutionRoleArn": "'
    + ROLE.encode()
    + b'"}'
)


@pytest.fixture(params=["server", "insecure"])
def emulator(request):
    """Each attack runs against both modes."""
    return request.getfixturevalue(request.param)


def refused(answer: tuple[int, dict, bytes], status: int = 403, code="AccessDeniedException"):
    found, headers, body = answer
    assert found == status, body
    assert error_of(body)[0] == code
    assert headers["x-amzn-errortype"] == code
    assert not [h for h in headers if h.startswith("access-control-")]
    return error_of(body)[1]


def models(emulator) -> list[str]:
    return [m["ModelName"] for m in client(emulator, "sagemaker").list_models()["Models"]]


# --- Host: DNS rebinding, another port, none ---------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",  # a page whose DNS name now resolves to 127.0.0.1
        "127.0.0.1:1",
        "localhost:{other}",
        "127.0.0.1",
        "127.0.0.2:{port}",
        "localhost.:{port}",
        "[::2]:{port}",
    ],
)
def test_a_request_for_another_host_or_port_is_refused_and_changes_nothing(emulator, host):
    host = host.format(port=emulator.port, other=emulator.port + 1)
    # Signed with the emulator's own credentials for that Host: only the Host is wrong.
    access = Access(f"http://{host}", emulator.credentials)
    headers = {"Content-Type": "application/x-amz-json-1.1", **CREATE_MODEL}
    headers = {"Host": host, **access.signed_headers("POST", "/", MODEL, headers)}
    message = refused(send(emulator.port, request("POST", "/", headers, MODEL)))
    assert repr(host) in message and "loopback" in message
    assert models(emulator) == []


def test_a_request_without_a_host_or_with_two_is_refused(emulator):
    access = Access.for_server(emulator)
    headers = access.signed_headers("GET", "/_mlinfra/health")
    assert "Host" not in headers
    refused(send(emulator.port, request("GET", "/_mlinfra/health", headers)))
    own = f"127.0.0.1:{emulator.port}"
    doubled = request("GET", "/_mlinfra/health", {"Host": own, **headers}).replace(
        b"Host:", f"Host: {own}\r\nHost:".encode(), 1
    )
    assert "2 Host headers" in refused(send(emulator.port, doubled))


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
def test_every_loopback_name_with_the_emulator_port_is_answered(server, name):
    host = f"{name}:{server.port}"
    access = Access(f"http://{host}", server.credentials)
    headers = {"Host": host, **access.signed_headers("GET", "/_mlinfra/health")}
    status, _, body = send(server.port, request("GET", "/_mlinfra/health", headers))
    assert status == 200, body


# --- cross-site requests from a page --------------------------------------------------------


def browser(emulator, target: str, body: bytes, origin: str = "https://evil.example"):
    """A page's `fetch(url, {method: "POST", mode: "no-cors", body})`: a "simple" request."""
    return request(
        "POST",
        target,
        {
            "Host": f"127.0.0.1:{emulator.port}",
            "Origin": origin,
            "Content-Type": "text/plain;charset=UTF-8",
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "no-cors",
        },
        body,
    )


def test_a_cross_site_post_to_the_ingest_route_ingests_nothing(emulator):
    create_group(emulator, GROUP, offline=False)
    message = refused(send(emulator.port, browser(emulator, INGEST, CSV)))
    assert "evil.example" in message
    assert get_record(emulator, GROUP, "C1") is None


def test_a_cross_site_post_to_invoke_endpoint_reaches_no_model(emulator, model_dir):
    deploy(emulator, model_dir)
    refused(send(emulator.port, browser(emulator, INVOKE, b"1.0,0.0\n")))
    assert not list((emulator.state_dir / "capture").rglob("*.jsonl")), "the model was invoked"


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1:1", "http://localhost"])
def test_an_origin_other_than_the_emulator_itself_is_refused(emulator, origin):
    create_group(emulator, GROUP, offline=False)
    refused(send(emulator.port, browser(emulator, INGEST, CSV, origin)))
    assert get_record(emulator, GROUP, "C1") is None


def test_the_emulator_own_origin_is_not_refused_for_it(server):
    create_group(server, GROUP, offline=False)
    access = Access.for_server(server)
    headers = signed(access, "POST", INGEST, CSV, {"Content-Type": "text/csv"})
    headers["Origin"] = f"http://localhost:{server.port}"
    status, _, body = send(server.port, request("POST", INGEST, headers, CSV))
    assert status == 200, body
    assert get_record(server, GROUP, "C1")["tenure_months"] == "12"


def test_a_cross_site_get_without_an_origin_is_refused_by_its_fetch_metadata(emulator):
    # An <img src="http://127.0.0.1:PORT/..."> sends no Origin, but Sec-Fetch-Site.
    headers = {"Host": f"127.0.0.1:{emulator.port}", "Sec-Fetch-Site": "cross-site"}
    message = refused(send(emulator.port, request("GET", "/_mlinfra/health", headers)))
    assert "Sec-Fetch-Site: cross-site" in message


def test_a_cors_preflight_is_refused_and_grants_nothing(emulator):
    headers = {
        "Host": f"127.0.0.1:{emulator.port}",
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-amz-target",
        "Access-Control-Request-Private-Network": "true",
    }
    refused(send(emulator.port, request("OPTIONS", "/", headers)))
    # Without an Origin (not a browser), OPTIONS is refused all the same.
    del headers["Origin"]
    message = refused(send(emulator.port, request("OPTIONS", INGEST, headers)))
    assert "CORS" in message


@pytest.mark.parametrize("method", ["BREW", "TRACE", "CONNECT"])
def test_an_unknown_method_is_an_aws_error_without_cors(emulator, method):
    headers = {"Host": f"127.0.0.1:{emulator.port}"}
    message = refused(
        send(emulator.port, request(method, "/", headers)), 405, "UnknownOperationException"
    )
    assert method in message


def test_a_malformed_request_line_is_an_aws_error_not_html(emulator):
    status, headers, body = send(emulator.port, b"GET / HTTP/9.9\r\n\r\n")
    assert status >= 400
    assert headers["content-type"] == "application/json"
    assert error_of(body)[0] == "ValidationException"


# --- content types: what each route takes ------------------------------------------------


def signed_for(emulator, method: str, target: str, body: bytes, headers: dict) -> dict:
    """Signed correctly (the insecure emulator reads no signature): only the type is wrong."""
    return signed(Access.for_server(emulator), method, target, body, headers)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_the_ingest_route_takes_csv_only(emulator, content_type):
    create_group(emulator, GROUP, offline=False)
    headers = {} if content_type is None else {"Content-Type": content_type}
    headers = signed_for(emulator, "POST", INGEST, CSV, headers)
    message = refused(
        send(emulator.port, request("POST", INGEST, headers, CSV)),
        415,
        "UnsupportedMediaTypeException",
    )
    assert "text/csv" in message
    assert get_record(emulator, GROUP, "C1") is None


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_invoke_endpoint_refuses_the_form_content_types(emulator, model_dir, content_type):
    deploy(emulator, model_dir)
    headers = signed_for(emulator, "POST", INVOKE, b"1.0,0.0\n", {"Content-Type": content_type})
    refused(
        send(emulator.port, request("POST", INVOKE, headers, b"1.0,0.0\n")),
        415,
        "UnsupportedMediaTypeException",
    )
    assert not list((emulator.state_dir / "capture").rglob("*.jsonl"))


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
def test_the_control_plane_takes_its_json_protocol_only(emulator, content_type):
    headers = dict(CREATE_MODEL, **({"Content-Type": content_type} if content_type else {}))
    headers = signed_for(emulator, "POST", "/", MODEL, headers)
    refused(
        send(emulator.port, request("POST", "/", headers, MODEL)),
        415,
        "UnsupportedMediaTypeException",
    )
    assert models(emulator) == []


def test_put_record_takes_json_only(emulator):
    create_group(emulator, GROUP, offline=False)
    target = f"/FeatureGroup/{GROUP}"
    body = b'{"Record": [{"FeatureName": "customer_id", "ValueAsString": "C1"}]}'
    headers = signed_for(emulator, "PUT", target, body, {"Content-Type": "text/plain"})
    refused(
        send(emulator.port, request("PUT", target, headers, body)),
        415,
        "UnsupportedMediaTypeException",
    )
    assert get_record(emulator, GROUP, "C1") is None
