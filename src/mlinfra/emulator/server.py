"""The emulator's HTTP server: one loopback port speaking the SageMaker APIs boto3 calls.

- `POST /` with `X-Amz-Target: SageMaker.<Operation>`: the control plane (AWS JSON 1.1);
  `AnyScaleFrontendService.<Operation>` is Application Auto Scaling (JSON 1.1) and
  `GraniteServiceVersion20100801.<Operation>` CloudWatch (JSON 1.0).
- `POST /service/GraniteServiceVersion20100801/operation/<Operation>`: CloudWatch in Smithy
  RPC v2 CBOR, what boto3 sends it by default (`protocol.parse_cbor_request`).
- `POST /endpoints/{EndpointName}/invocations`: SageMaker Runtime's InvokeEndpoint.
- `/FeatureGroup/...`, `/BatchGetRecord`: the Feature Store Runtime (REST-JSON).
- `/_mlinfra/...`: mlinfra's own routes, not AWS's: `GET /_mlinfra/health`, and
  `POST /_mlinfra/feature-groups/{FeatureGroupName}/ingest` whose body is CSV text (what
  `mlinfra featurestore ingest` sends; the server never opens a path a client names);
  `POST /_mlinfra/monitoring-schedules/{name}/executions` starts a monitoring execution now
  (`mlinfra monitor run`; optional JSON body `{"since": ISO time}`), `GET .../executions/{job}`
  is one execution's whole record, `GET /_mlinfra/monitoring-schedules/{name}/alerts` the
  monitor's alert log as `{"alerts": [...]}`.

While it serves, the control plane's scheduler starts monitors and scheduled pipelines.

Every request passes, in this order: `guard.admit` (a loopback Host with the emulator's port,
no foreign Origin, no browser fetch, no OPTIONS; refused before its body is read), the body
size limit, `auth.Verifier` (SigV4 with the emulator's own credentials, signed for the route's
service, unless it was started with `--insecure-any-credentials`), then its route's content
type:

| route | Content-Type |
|---|---|
| `POST /` (control plane) | `application/x-amz-json-1.1` or `-1.0`, as boto3 sends |
| `POST /service/{prefix}/operation/{name}` | `application/cbor` (or no body) |
| `PUT /FeatureGroup/{name}`, `POST /BatchGetRecord` | `application/json`, as boto3 sends |
| `POST /endpoints/{name}/invocations` | any (the model's), or none, but not a form type (*) |
| `POST /_mlinfra/feature-groups/{name}/ingest` | `text/csv` |
| `POST /_mlinfra/monitoring-schedules/{name}/executions` | `application/json` |
| `GET` and `DELETE` routes | none read (they take no body) |

(*) `text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`: what a browser
sends cross-site without a preflight. So no such "simple" request reaches a handler.

Routes and parameter locations come from botocore's service models (`protocol.py`). Every
failure leaves as an AWS error shape (also what the standard library answers itself: an
unknown method, a malformed request line) and no response carries an `Access-Control-*`
header; an unexpected exception is logged with its traceback and answered with a bare
`InternalFailure`, never with the traceback.

Why the standard library's `ThreadingHTTPServer`: no dependency, synchronous code end to end (the
control plane is SQLite, inference is a blocking call into a model worker), HTTP/1.1 keep-alive
so boto3's pooled connections are reused, and Nagle disabled so small responses leave at once.
On 2 cores the per-request cost is dominated by inference and boto3 itself, not by the server.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from mlinfra.emulator import credentials, guard, wire
from mlinfra.emulator.auth import Verifier
from mlinfra.emulator.control import ControlPlane
from mlinfra.emulator.kit.clock import scale_from_environment
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.protocol import (
    CLOUDWATCH_SERVICE,
    CONTROL_SERVICE,
    FEATURESTORE_SERVICE,
    cbor_error,
    check_name,
    error_statuses,
    match_route,
    parse_cbor_request,
    parse_json_request,
    parse_rest_request,
    serialize_cbor,
    serialize_rest_response,
    service_of_cbor_path,
    service_of_target,
    signing_name,
)

HOST = "127.0.0.1"
# No request the emulator takes is larger (botocore's model caps InvokeEndpoint's body at 6 MiB,
# and the constraint check says so by name); anything larger is refused before it is read.
MAX_BODY = 32 * 1024 * 1024
JSON_1_1 = "application/x-amz-json-1.1"
JSON_1_0 = "application/x-amz-json-1.0"
CBOR = "application/cbor"
REST_JSON = "application/json"
CSV = "text/csv"
HEALTH_PATH = "/_mlinfra/health"
INGEST_PATH = re.compile(r"/_mlinfra/feature-groups/(?P<name>[^/]+)/ingest")
MONITOR_PATH = re.compile(
    r"/_mlinfra/monitoring-schedules/(?P<name>[^/]+)/(?P<what>executions|alerts)(?:/(?P<job>[^/]+))?"
)

log = logging.getLogger("mlinfra.emulator")


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server bound to loopback, holding the control plane it serves."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        root: Path,
        state_dir: Path,
        port: int = 0,
        schedule: bool = True,
        insecure_any_credentials: bool = False,
        clock_scale: float | None = None,
        metrics: bool = True,
    ) -> None:
        """`schedule=False` serves without the scheduler: nothing starts by itself (tests).

        The emulator's credentials are made in `state_dir` at its first start (CredentialsError
        if the file there is unusable). `insecure_any_credentials` accepts any signature, or
        none; Host, Origin and content types are checked all the same. `clock_scale` speeds up
        the clock of metrics, alarms and autoscaling (default: MLINFRA_EMULATOR_CLOCK_SCALE,
        else 1; `kit.clock`); `metrics=False` records no invocation metrics.
        """
        self.root = root
        self.state_dir = state_dir
        self.schedule = schedule
        self.credentials = credentials.load_or_create(state_dir)
        self.verifier = Verifier(self.credentials, any_credentials=insecure_any_credentials)
        if clock_scale is None:
            clock_scale = scale_from_environment()
        self.control = ControlPlane(root, state_dir, clock_scale, metrics)
        super().__init__((HOST, port), EmulatorHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        # Schedules run while the emulator serves, not merely while a server object exists.
        if self.schedule:
            self.control.start_scheduler()
        super().serve_forever(poll_interval)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A broken connection or a bug outside a handler: the log, never stderr of a daemon.
        log.exception("connection from %s failed", client_address)

    def server_close(self) -> None:
        super().server_close()
        self.control.close()


class EmulatorHandler(BaseHTTPRequestHandler):
    """Parses one request, dispatches it, and always answers with an AWS-shaped response."""

    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its pooled connections
    disable_nagle_algorithm = True
    server_version = "mlinfra-emulator"
    timeout = 120  # idle keep-alive connections release their thread eventually
    server: EmulatorServer

    def do_POST(self) -> None:
        self._handle()

    # OPTIONS goes through the same checks, which refuse it: no CORS preflight ever succeeds.
    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_POST

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """What the standard library answers itself, AWS-shaped too and never a 5xx, since the
        request is what is wrong: an unknown method, a malformed request line, headers too
        long, HTTP/2. Never its HTML page."""
        self.close_connection = True
        if code == 501:  # no do_<METHOD>: a method the emulator has no route for
            error = ApiError(
                "UnknownOperationException",
                f"The emulator does not support the method {self.command!r}.",
                405,
            )
        else:
            status = 400 if int(code) >= 500 else int(code)  # 505: an HTTP version it lacks
            reason = message or self.responses.get(int(code), ("Bad request",))[0]
            error = ApiError("ValidationException", f"Malformed request: {reason}.", status)
        self._error(error, "rest", str(uuid.uuid4()))

    def log_message(self, format: str, *args: Any) -> None:
        # Access logs cost throughput and fill the log; opt in with MLINFRA_EMULATOR_ACCESS_LOG.
        if _ACCESS_LOG:
            log.info("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        request_id = str(uuid.uuid4())
        path = self.path.split("?", 1)[0]
        protocol, service = "rest", CONTROL_SERVICE  # the runtimes sign as SageMaker too
        if self.command == "POST" and path == "/":
            protocol, service = "json", service_of_target(self.headers.get("X-Amz-Target"))
        elif self.command == "POST" and service_of_cbor_path(path):
            protocol, service = "cbor", service_of_cbor_path(path) or CONTROL_SERVICE
        try:
            try:
                guard.admit(self.command, self.path, self.headers, self.server.port)
            except ApiError:
                self.close_connection = True  # its body, if any, is never read
                raise
            body = self._body()
            region = self.server.verifier.verify(
                self.command, self.path, self.headers, body, signing_name(service)
            )
            if protocol == "json":
                self._control(body, request_id, region)
            elif protocol == "cbor":
                self._cbor(path, body, request_id, region)
            else:
                self._rest(body, request_id)
        except ApiError as error:
            self._error(error, protocol, request_id, service)
        except Exception:
            log.exception("internal failure handling %s %s", self.command, self.path)
            self._error(
                ApiError("InternalFailure", "The emulator failed to handle the request.", 500),
                protocol,
                request_id,
                service,
            )

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ApiError("ValidationException", "Chunked request bodies are not supported.", 411)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError("ValidationException", "Invalid Content-Length header.") from None
        if length < 0 or length > MAX_BODY:
            # Not reading the body leaves the connection unusable: close it after answering.
            self.close_connection = True
            raise ApiError(
                "ValidationException",
                f"Request body of {length} bytes exceeds the emulator's limit of {MAX_BODY}.",
                413,
            )
        return self.rfile.read(length) if length else b""

    def _control(self, body: bytes, request_id: str, region: str) -> None:
        guard.require_content_type(self.headers, (JSON_1_1, JSON_1_0), "The JSON APIs (POST /)")
        target = self.headers.get("X-Amz-Target")
        operation, name, params, service = parse_json_request(target, body)
        result = self.server.control.call(name, params, region, service)
        del operation  # validated in parse_json_request; the control plane dispatches by name
        payload = json.dumps(result, default=_epoch).encode()
        self._send(
            200,
            {"Content-Type": guard.content_type(self.headers), "x-amzn-RequestId": request_id},
            payload,
        )

    def _cbor(self, path: str, body: bytes, request_id: str, region: str) -> None:
        """A Smithy RPC v2 CBOR request: what boto3 sends CloudWatch by default."""
        if body:
            guard.require_content_type(self.headers, (CBOR,), "The CBOR API (/service/...)")
        operation, name, params, service = parse_cbor_request(path, body)
        result = self.server.control.call(name, params, region, service)
        payload = serialize_cbor(operation.output_shape if operation else None, result)
        self._send(200, _cbor_headers(request_id), payload)

    def _rest(self, body: bytes, request_id: str) -> None:
        path, _, query = self.path.partition("?")
        if path == HEALTH_PATH and self.command == "GET":
            payload = json.dumps(
                {"service": "mlinfra-emulator", "pid": os.getpid(), "root": str(self.server.root)}
            ).encode()
            self._send(200, {"Content-Type": "application/json"}, payload)
            return
        ingest = INGEST_PATH.fullmatch(path)
        if ingest and self.command == "POST":
            guard.require_content_type(self.headers, (CSV,), "The ingest route")
            self._ingest(unquote(ingest["name"]), query, body)
            return
        monitor = MONITOR_PATH.fullmatch(path)
        if monitor:
            self._monitor(unquote(monitor["name"]), monitor["what"], monitor["job"], body)
            return
        route, labels, path_known = match_route(self.command, path)
        if route is None:
            if path_known:
                raise ApiError(
                    "UnknownOperationException",
                    f"{self.command} is not supported on {path}.",
                    405,
                )
            raise ApiError(
                "UnknownOperationException",
                f"No operation of the mlinfra local emulator matches {self.command} {path}.",
                404,
            )
        name = route.operation.name
        handler = self.server.control.runtime_operations.get(name)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"The operation {name} is not supported by the mlinfra local emulator.",
                400,
            )
        if name == "InvokeEndpoint":
            guard.refuse_form_types(self.headers, name)
        elif self.command in ("POST", "PUT"):
            guard.require_content_type(self.headers, (REST_JSON,), name)
        params = parse_rest_request(route, labels, query, dict(self.headers), body)
        result = handler(params)
        status, headers, payload = serialize_rest_response(route, result)
        headers["x-amzn-RequestId"] = request_id
        self._send(status, headers, payload)

    def _ingest(self, group_name: str, query: str, body: bytes) -> None:
        """Load a CSV body into a feature group, all rows or none (`FeatureStore.ingest_csv_lines`).

        `?source=NAME` only names the CSV in messages.
        """
        check_name(FEATURESTORE_SERVICE, "FeatureGroupNameOrArn", group_name, "FeatureGroupName")
        source = (parse_qs(query).get("source") or ["the CSV"])[0]
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = exc.object[: exc.start].count(b"\n") + 1
            raise ApiError(
                "ValidationError",
                f"{source}: nothing was ingested: line {line} is not UTF-8 text",
            ) from None
        # The runtime's feature-store call: a FeatureStoreError becomes the AWS error it carries.
        runtime = self.server.control.runtime
        group = runtime.feature_store("describe_group", group_name)
        lines = io.StringIO(text, newline="")
        ingested = runtime.feature_store("ingest_csv_lines", group_name, lines, source)
        stores = [
            store
            for store, enabled in (
                ("OnlineStore", group.definition.online),
                ("OfflineStore", group.definition.offline),
            )
            if enabled
        ]
        payload = json.dumps(
            {
                "FeatureGroupName": group_name,
                "RecordCount": ingested.records,
                "TargetStores": stores,
                # Identifiers whose latest record is past the online TTL already.
                "ExpiredOnlineCount": ingested.expired,
                # Records the offline store already held: not appended again.
                "OfflineAlreadyHeld": ingested.offline_held,
            }
        ).encode()
        self._send(200, {"Content-Type": "application/json"}, payload)

    def _monitor(self, name: str, what: str, job: str | None, body: bytes) -> None:
        """mlinfra's monitoring routes: run a monitor now, one execution, the alert log.

        The names come from the URL, unquoted: they obey their API shapes before any use
        (`..%2F` is no schedule name)."""
        check_name(CONTROL_SERVICE, "MonitoringScheduleName", name, "MonitoringScheduleName")
        if job is not None:
            job = unquote(job)
            check_name(CONTROL_SERVICE, "ProcessingJobName", job, "ProcessingJobName")
        monitoring = self.server.control.monitors
        if what == "executions" and job is None and self.command == "POST":
            guard.require_content_type(self.headers, (REST_JSON,), "The executions route")
            try:
                request = wire.load_json(body) if body.strip() else {}
            except wire.Unreadable:
                request = None
            if not isinstance(request, dict):
                raise ApiError("ValidationException", 'The body is a JSON object: {"since": ...}.')
            result: dict[str, Any] = monitoring.run_now(name, request.get("since"))
        elif what == "executions" and job is not None and self.command == "GET":
            result = monitoring.detail(name, job)
        elif what == "alerts" and job is None and self.command == "GET":
            result = {"alerts": monitoring.alerts(name)}
        else:
            raise ApiError(
                "UnknownOperationException", f"{self.command} is not supported on {self.path}.", 405
            )
        self._send(200, {"Content-Type": "application/json"}, json.dumps(result).encode())

    def _error(
        self, error: ApiError, protocol: str, request_id: str, service: str = CONTROL_SERVICE
    ) -> None:
        status = error.status
        if protocol == "rest" and error.status == 400:
            # A runtime error's status is the one its service model gives it (404, 409, ...).
            for runtime in ("sagemaker-runtime", "sagemaker-featurestore-runtime"):
                status = error_statuses(runtime).get(error.code, status)
        elif service != CONTROL_SERVICE and error.status == 400:
            status = error_statuses(service).get(error.code, status)
        if protocol == "cbor":
            headers = _cbor_headers(request_id)
            if service == CLOUDWATCH_SERVICE:
                # CloudWatch keeps its Query codes (`awsQueryCompatible`): boto3 reads the code
                # from this header, so `client.exceptions.ResourceNotFound` matches.
                fault = "Receiver" if status >= 500 else "Sender"
                headers["x-amzn-query-error"] = f"{error.code};{fault}"
            headers["x-amzn-ErrorType"] = error.code
            self._send(status, headers, cbor_error(error.code, error.message, error.fields))
            return
        payload = json.dumps(
            {"__type": error.code, "message": error.message, **error.fields}
        ).encode()
        content_type = JSON_1_1 if protocol == "json" else REST_JSON
        self._send(
            status,
            {
                "Content-Type": content_type,
                "x-amzn-ErrorType": error.code,
                "x-amzn-RequestId": request_id,
            },
            payload,
        )

    def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        # What send_response/send_header/end_headers write, but with the body in the same single
        # write: a small response leaves as one TCP segment instead of headers, then body.
        self.log_request(status)
        lines = [
            f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            *(f"{key}: {value}" for key, value in headers.items()),
            f"Content-Length: {len(payload)}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        self.wfile.write(head if self.command == "HEAD" else head + payload)


_ACCESS_LOG = bool(os.environ.get("MLINFRA_EMULATOR_ACCESS_LOG"))


def _cbor_headers(request_id: str) -> dict[str, str]:
    return {"Content-Type": CBOR, "smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id}


def _epoch(value: Any) -> Any:
    # Timestamps that services keep as datetimes go out as JSON's epoch seconds.
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")


__all__ = ["CONTROL_SERVICE", "EmulatorServer", "HOST", "MAX_BODY"]
