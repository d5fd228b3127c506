"""The data-plane operations: SageMaker Runtime's InvokeEndpoint and the Feature Store Runtime.

Each handler takes the parameters `protocol.parse_rest_request` made from the HTTP request and
returns the operation's output dict; the serving and feature-store runtimes do the work, and
their errors become AWS errors with the codes and statuses of the runtime service models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlinfra.emulator.control import ControlPlane, unavailable
from mlinfra.emulator.protocol import ApiError

# How long an invocation waits for a restarted emulator to bring its endpoints back.
RESTORE_TIMEOUT = 120.0

Handler = Callable[[ControlPlane, dict[str, Any]], dict[str, Any]]


def invoke_endpoint(control: ControlPlane, p: dict[str, Any]) -> dict[str, Any]:
    if not control.restored.wait(RESTORE_TIMEOUT):
        raise ApiError(
            "ServiceUnavailable", "The emulator is still redeploying its endpoints.", 503
        )
    pool = control.serving_pool()
    if pool is None:
        raise unavailable("serving")
    from mlinfra.emulator.serving import ServingError

    try:
        result = pool.invoke(
            p["EndpointName"],
            p.get("Body", b""),
            p.get("ContentType", "application/octet-stream"),
            p.get("Accept"),
            target_variant=p.get("TargetVariant"),
            inference_id=p.get("InferenceId"),
        )
    except ServingError as exc:
        # SageMaker Runtime's modelled code is ValidationError ("Endpoint x of account y not
        # found."); boto3 users catch `client.exceptions.ValidationError`.
        code = "ValidationError" if exc.code == "ValidationException" else exc.code
        raise ApiError(code, exc.message, exc.status, exc.fields()) from None
    return {
        "Body": result.body,
        "ContentType": result.content_type,
        "InvokedProductionVariant": result.variant,
    }


def put_record(control: ControlPlane, p: dict[str, Any]) -> dict[str, Any]:
    ttl = p.get("TtlDuration")
    _features(
        control,
        "put_record",
        p["FeatureGroupName"],
        p["Record"],
        ttl_seconds=_ttl(ttl),
        target_stores=p.get("TargetStores"),
    )
    return {}


def get_record(control: ControlPlane, p: dict[str, Any]) -> dict[str, Any]:
    # A missing record is not an error on AWS: the response simply has no Record.
    return _features(
        control,
        "get_record_response",
        p["FeatureGroupName"],
        p["RecordIdentifierValueAsString"],
        feature_names=p.get("FeatureNames"),
        expiration_time_response=p.get("ExpirationTimeResponse") == "Enabled",
    )


def delete_record(control: ControlPlane, p: dict[str, Any]) -> dict[str, Any]:
    _features(
        control,
        "delete_record",
        p["FeatureGroupName"],
        p["RecordIdentifierValueAsString"],
        p["EventTime"],
        p.get("DeletionMode", "SoftDelete"),
        target_stores=p.get("TargetStores"),
    )
    return {}


def batch_get_record(control: ControlPlane, p: dict[str, Any]) -> dict[str, Any]:
    return _features(
        control,
        "batch_get_record",
        p["Identifiers"],
        expiration_time_response=p.get("ExpirationTimeResponse") == "Enabled",
    )


HANDLERS: dict[str, Handler] = {
    "InvokeEndpoint": invoke_endpoint,
    "PutRecord": put_record,
    "GetRecord": get_record,
    "DeleteRecord": delete_record,
    "BatchGetRecord": batch_get_record,
}


def _features(control: ControlPlane, method: str, *args: Any, **kwargs: Any) -> Any:
    store = control.feature_store()
    if store is None:
        raise unavailable("featurestore")
    from mlinfra.emulator.featurestore import FeatureStoreError

    try:
        return getattr(store, method)(*args, **kwargs)
    except FeatureStoreError as exc:
        raise ApiError(exc.code, exc.message, exc.status) from None


def _ttl(ttl: dict[str, Any] | None) -> int | None:
    if not ttl:
        return None
    unit = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
    return int(ttl["Value"]) * unit.get(ttl.get("Unit", "Seconds"), 1)
