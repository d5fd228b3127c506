"""AWS wire protocols for the emulator: errors, JSON 1.1 targets and REST-JSON routes.

Everything here is derived from botocore's service models (the same files boto3 reads), so a
request boto3 can send is parsed the way AWS parses it and a response is laid out where boto3
looks for it. Nothing here knows what an operation does; the services (`services/`) do.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from mlinfra.emulator import constraints, wire
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.sagemaker.api import service_model

CONTROL_SERVICE = "sagemaker"
RUNTIME_SERVICE = "sagemaker-runtime"
FEATURESTORE_SERVICE = "sagemaker-featurestore-runtime"
CLOUDWATCH_SERVICE = "cloudwatch"
AUTOSCALING_SERVICE = "application-autoscaling"
# The RPC services (JSON 1.x, CBOR); their operations go through the control plane's dispatch.
RPC_SERVICES = (CONTROL_SERVICE, CLOUDWATCH_SERVICE, AUTOSCALING_SERVICE)


@cache
def error_statuses(service: str) -> dict[str, int]:
    """HTTP status of each modelled error of a service (ResourceNotFound -> 404, ...), by its
    shape's name and by its code (CloudWatch's Query-protocol codes: InvalidParameterValue)."""
    found: dict[str, int] = {}
    for shape in service_model(service).error_shapes:
        error = shape.metadata.get("error") or {}
        status = error.get("httpStatusCode")
        if status:
            found[shape.name] = int(status)
            found.setdefault(error.get("code", shape.name), int(status))
    return found


_VALIDATOR = ParamValidator()


def validate(
    params: dict[str, Any], shape: Shape | None, code: str, wire_code: str | None = None
) -> None:
    """Reject what AWS rejects before acting: values their wire type cannot carry (`wire.py`,
    answered with `wire_code`, by default `code`), wrong types and missing members (what
    boto3's own validation checks), then every max, enum and pattern (`constraints.py`)."""
    if shape is None:
        return
    unfit = wire.problems(params, shape)
    if unfit:
        raise ApiError(wire_code or code, "; ".join(unfit))
    report = _VALIDATOR.validate(params, shape)
    if report.has_errors():
        raise ApiError(code, report.generate_report())
    found = list(constraints.problems(params, shape))
    if found:
        raise ApiError(code, constraints.report(found))


def check_name(service: str, shape_name: str, value: str, what: str) -> None:
    """A name from somewhere other than a modelled request (a URL of mlinfra's own routes, a
    pipeline definition) obeys the rules of its shape: ValidationException otherwise."""
    problem = constraints.check_value(value, service_model(service).shape_for(shape_name), what)
    if problem is not None:
        raise ApiError(_validation_code(service), problem)


_SCALARS = frozenset(
    ("string", "integer", "long", "boolean", "float", "double", "timestamp", "blob")
)


@cache
def _members(shape: Shape) -> tuple[tuple[str, Shape, bool], ...]:
    # Per structure, once: its members and which are scalars, kept as they are without a call
    # per leaf (a GetRecord response has three leaves per feature).
    return tuple((name, m, m.type_name in _SCALARS) for name, m in shape.members.items())


def project(value: Any, shape: Shape | None) -> Any:
    """Keep only what `shape` declares: a stored record becomes an exact output shape."""
    if shape is None or value is None:
        return value
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return None
        out = {}
        for name, member, scalar in _members(shape):
            item = value.get(name)
            if item is not None:
                out[name] = item if scalar else project(item, member)
        return out
    if shape.type_name == "list":
        return [project(item, shape.member) for item in value] if isinstance(value, list) else None
    if shape.type_name == "map":
        return (
            {k: project(v, shape.value) for k, v in value.items()}
            if isinstance(value, dict)
            else None
        )
    return value


# --- REST-JSON --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One REST operation: its method, its URI template as a regex, and its model."""

    service: str
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    static_query: dict[str, str] = field(default_factory=dict)


def _compile(uri: str) -> tuple[re.Pattern[str], dict[str, str]]:
    path, _, query = uri.partition("?")
    static = {k: v[0] for k, v in parse_qs(query).items()} if query else {}
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            regex += f"(?P<{name}>{'.+' if greedy else '[^/]+'})"
        else:
            regex += re.escape(piece)
    return re.compile(f"^{regex}$"), static


@cache
def rest_routes() -> tuple[Route, ...]:
    """Every operation of the runtime services, routed by its model's `http` block."""
    routes = []
    for service in (RUNTIME_SERVICE, FEATURESTORE_SERVICE):
        model = service_model(service)
        for name in model.operation_names:
            op = model.operation_model(name)
            pattern, static = _compile(op.http["requestUri"])
            routes.append(Route(service, op, op.http["method"].upper(), pattern, static))
    # Literal paths before templated ones, as AWS's routers do (none collide today).
    return tuple(sorted(routes, key=lambda r: r.pattern.pattern.count("(?P<")))


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a request, its URI labels, and whether the path matched another method."""
    path_matched = False
    for route in rest_routes():
        found = route.pattern.match(path)
        if not found:
            continue
        path_matched = True
        if route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
    return None, {}, path_matched


_DECIMAL = re.compile(rf"-?[0-9]{{1,{wire.MAX_DIGITS}}}")


def _scalar(text: str, shape: Shape) -> Any:
    if shape.type_name in ("integer", "long"):
        # Plain decimal digits only: Python's int() also reads "1_000", " 7" and other scripts'
        # digits, and gives up past 4,300 digits.
        if _DECIMAL.fullmatch(text):
            return int(text)
        return text  # the validator names the parameter and its wrong type
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def parse_rest_request(
    route: Route,
    labels: dict[str, str],
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Turn an HTTP request into the operation's parameters, as boto3 would have passed them."""
    shape = route.operation.input_shape
    if shape is None:
        return {}
    code = _validation_code(route.service)
    values = parse_qs(query, keep_blank_values=True)
    lower = {k.lower(): v for k, v in headers.items()}
    params: dict[str, Any] = {}
    body_members = {}
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = labels[wire]
        elif location == "querystring":
            if wire in values:
                if member.type_name == "list":
                    params[name] = [_scalar(v, member.member) for v in values[wire]]
                else:
                    params[name] = _scalar(values[wire][0], member)
        elif location == "header":
            if wire.lower() in lower:
                params[name] = _scalar(lower[wire.lower()], member)
        elif name == payload:
            if member.type_name in ("blob", "string"):
                params[name] = body
            elif body:
                params[name] = _json_object(body, code)
        else:
            body_members[name] = member
    if body_members and payload is None and body:
        document = _json_object(body, code)
        for name in body_members:
            if name in document:
                params[name] = document[name]
    validate(params, shape, code)
    return params


def serialize_rest_response(
    route: Route, result: dict[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    """Lay an operation's result out as AWS does: headers, a raw payload or a JSON body."""
    shape = route.operation.output_shape
    status = int(route.operation.http.get("responseCode", 200))
    headers: dict[str, str] = {}
    if shape is None:
        return status, {"Content-Type": "application/json"}, b"{}"
    payload = shape.serialization.get("payload")
    document = {}
    body: bytes | None = None
    for name, member in shape.members.items():
        if name not in result or result[name] is None:
            continue
        location = member.serialization.get("location")
        if location == "header":
            headers[member.serialization.get("name", name)] = str(result[name])
        elif name == payload:
            value = result[name]
            body = value.encode() if isinstance(value, str) else bytes(value)
        else:
            document[name] = _jsonable(project(result[name], member), member)
    if body is None:
        body = json.dumps(document).encode()
        headers.setdefault("Content-Type", "application/json")
    return status, headers, body


def _jsonable(value: Any, shape: Shape) -> Any:
    # REST-JSON carries blobs as base64 text; nothing else needs converting for our shapes.
    if shape.type_name == "blob" and isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    return value


def _json_object(body: bytes, code: str) -> dict[str, Any]:
    try:
        document = wire.load_json(body)
    except wire.Unreadable as exc:
        raise ApiError(code, exc.message) from None
    if not isinstance(document, dict):
        raise ApiError(code, "The request body must be a JSON object.")
    return document


def _validation_code(service: str) -> str:
    # The runtimes model their validation error as "ValidationError"; the control plane
    # (JSON 1.1, no modelled shape) answers "ValidationException", as AWS does, and so does
    # Application Auto Scaling (its modelled ValidationException). CloudWatch models
    # InvalidParameterValueException for a bad value, whose code (it keeps its Query-protocol
    # codes, `awsQueryCompatible`) is InvalidParameterValue.
    if service in (CONTROL_SERVICE, AUTOSCALING_SERVICE):
        return "ValidationException"
    if service == CLOUDWATCH_SERVICE:
        return "InvalidParameterValue"
    return "ValidationError"


def validation_code(service: str) -> str:
    return _validation_code(service)


# --- RPC services: JSON 1.x by X-Amz-Target, and Smithy RPC v2 CBOR -------------------------


@cache
def rpc_services() -> dict[str, str]:
    """The model's `targetPrefix` of each RPC service the emulator speaks -> its name."""
    return {service_model(name).metadata["targetPrefix"]: name for name in RPC_SERVICES}


def service_of_target(target: str | None) -> str:
    """The service an `X-Amz-Target` header names (SageMaker's, when it names none we speak:
    parse_json_request then refuses it with the expected form)."""
    prefix = (target or "").partition(".")[0]
    return rpc_services().get(prefix, CONTROL_SERVICE)


def service_of_cbor_path(path: str) -> str | None:
    """The service a Smithy RPC v2 path (`/service/<prefix>/operation/<Operation>`) names."""
    found = CBOR_PATH.fullmatch(path)
    return rpc_services().get(found["prefix"]) if found else None


def signing_name(service: str) -> str:
    """The name a request to `service` is signed for (`monitoring` for CloudWatch)."""
    return service_model(service).signing_name


def _operation(service: str, name: str, params: dict, code: str, wire_code: str) -> Any:
    model = service_model(service)
    if name not in model.operation_names:
        return None
    op = model.operation_model(name)
    validate(params, op.input_shape, code, wire_code)
    return op


def parse_json_request(
    target: str | None, body: bytes
) -> tuple[OperationModel | None, str, dict, str]:
    """Resolve a JSON 1.x `X-Amz-Target` and body to (operation, name, parameters, service);
    the operation is None for a name the service's model does not have."""
    service = service_of_target(target)
    prefix = service_model(service).metadata["targetPrefix"] + "."
    if not target or not target.startswith(prefix):
        raise ApiError(
            "UnknownOperationException",
            f"Missing or unrecognised X-Amz-Target header {target!r}: expected "
            f"'{prefix}<Operation>'.",
        )
    name = target[len(prefix) :]
    params = _json_object(body, "SerializationException") if body.strip() else {}
    code = _validation_code(service)
    return _operation(service, name, params, code, "SerializationException"), name, params, service


CBOR_PATH = re.compile(r"/service/(?P<prefix>[^/]+)/operation/(?P<operation>[^/]+)")


def parse_cbor_request(path: str, body: bytes) -> tuple[OperationModel | None, str, dict, str]:
    """Resolve a Smithy RPC v2 CBOR request (what boto3 sends CloudWatch by default) to
    (operation, name, parameters, service), as `parse_json_request` does."""
    found = CBOR_PATH.fullmatch(path)
    service = service_of_cbor_path(path)
    if found is None or service is None:
        raise ApiError(
            "UnknownOperationException",
            f"No service of the mlinfra local emulator is at {path}: expected "
            "/service/<service>/operation/<Operation>.",
            404,
        )
    params = cbor_object(body) if body else {}
    code = _validation_code(service)
    name = found["operation"]
    return _operation(service, name, params, code, "SerializationException"), name, params, service


def cbor_object(body: bytes) -> dict[str, Any]:
    """A CBOR request body as a dict, its timestamps as epoch seconds (as JSON carries them);
    SerializationException for anything else (bad CBOR, trailing bytes, another type)."""
    # botocore's own CBOR decoder, the one that reads the services' answers in the client.
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser(timestamp_parser=float)
    stream = parser.get_peekable_stream_from_bytes(body)
    try:
        document = parser.parse_data_item(stream)
        trailing = stream.read(1)
    except RecursionError:
        raise ApiError(
            "SerializationException", f"The CBOR body is nested too deep (over {wire.MAX_DEPTH})."
        ) from None
    except Exception as exc:  # botocore raises several types for bytes that are not CBOR
        why = str(exc) or type(exc).__name__  # a length no memory holds: MemoryError, no text
        raise ApiError(
            "SerializationException", f"The request body is not valid CBOR: {why}"
        ) from None
    if trailing:
        raise ApiError("SerializationException", "The CBOR body has bytes after its one item.")
    if not isinstance(document, dict) or not all(isinstance(k, str) for k in document):
        raise ApiError("SerializationException", "The request body must be a CBOR map.")
    _finite(document)
    return document


def _finite(document: Any) -> None:
    """Refuse NaN and infinities, which CBOR (unlike JSON) can carry: no AWS number is one."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ApiError(
                "SerializationException", f"The CBOR body holds {value}, which is not a number."
            )


def serialize_cbor(shape: Shape | None, result: dict[str, Any]) -> bytes:
    """An operation's output (projected on its shape) as a CBOR body."""
    from botocore.serialize import RpcV2CBORSerializer

    body = bytearray()
    if shape is None:
        return b"\xa0"  # an empty map
    RpcV2CBORSerializer()._serialize_data_item(body, project(result, shape), shape)
    return bytes(body)


def cbor_error(code: str, message: str, fields: dict[str, Any]) -> bytes:
    """An error body as Smithy RPC v2 CBOR has it: `__type` and `message`."""
    from botocore.serialize import RpcV2CBORSerializer

    body = bytearray()
    serializer = RpcV2CBORSerializer()
    items = {"__type": code, "message": message, **{k: str(v) for k, v in fields.items()}}
    body.append(0xA0 + len(items))  # a map of fewer than 24 pairs
    for key, value in items.items():
        serializer._serialize_type_string(body, key, None, None)
        serializer._serialize_type_string(body, value, None, None)
    return bytes(body)
