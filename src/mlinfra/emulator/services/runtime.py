"""The data plane: SageMaker Runtime's InvokeEndpoint and the Feature Store Runtime.

Each handler takes the parameters `protocol.parse_rest_request` made from the HTTP request and
returns the operation's output dict; the serving and feature-store runtimes do the work, and
their errors become AWS errors with the codes and statuses of the runtime service models.
Invocations never take the control plane's lock: they run side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mlinfra.emulator.featurestore.errors import FeatureStoreError
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.kit.times import ttl_seconds
from mlinfra.emulator.services.cloudwatch.metrics import Metrics
from mlinfra.emulator.serving import EndpointPool, ServingError

# How long an invocation waits for a restarted emulator to bring its endpoints back.
RESTORE_TIMEOUT = 120.0


class Runtime:
    """The runtime operations, on the serving pool and the feature store (`features`)."""

    OPERATIONS = (
        "InvokeEndpoint", "PutRecord", "GetRecord", "DeleteRecord", "BatchGetRecord",
        "BatchWriteRecord",
    )  # fmt: skip

    def __init__(
        self,
        serving: EndpointPool,
        features: Callable[[], Any],
        restored: threading.Event,
        metrics: Metrics,
    ) -> None:
        """`restored` is set once endpoints a restart found are serving again; every
        invocation's CloudWatch metrics go to `metrics`."""
        self.serving = serving
        self.features = features
        self.restored = restored
        self.metrics = metrics

    def invoke_endpoint(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.restored.wait(RESTORE_TIMEOUT):
            raise ApiError(
                "ServiceUnavailable", "The emulator is still redeploying its endpoints.", 503
            )
        started = time.perf_counter()
        try:
            result = self.serving.invoke(
                p["EndpointName"],
                p.get("Body", b""),
                p.get("ContentType", "application/octet-stream"),
                p.get("Accept"),
                target_variant=p.get("TargetVariant"),
                inference_id=p.get("InferenceId"),
            )
        except ServingError as exc:
            if exc.variant is not None:  # the model failed: SageMaker counts the container's
                status = exc.original_status_code or exc.status  # status, 4XX or 5XX
                self.metrics.record_invocation(
                    p["EndpointName"], exc.variant, 0.0, 0.0, exc.instances, status
                )
            # SageMaker Runtime's modelled code is ValidationError ("Endpoint x of account y not
            # found."); boto3 users catch `client.exceptions.ValidationError`.
            code = "ValidationError" if exc.code == "ValidationException" else exc.code
            raise ApiError(code, exc.message, exc.status, exc.fields()) from None
        overhead = time.perf_counter() - started - result.model_seconds
        self.metrics.record_invocation(
            p["EndpointName"], result.variant, result.model_seconds, overhead, result.instances
        )
        return {
            "Body": result.body,
            "ContentType": result.content_type,
            "InvokedProductionVariant": result.variant,
        }

    def put_record(self, p: dict[str, Any]) -> dict[str, Any]:
        self.feature_store(
            "put_record",
            p["FeatureGroupName"],
            p["Record"],
            ttl_seconds=ttl_seconds(p.get("TtlDuration")),
            target_stores=p.get("TargetStores"),
        )
        return {}

    def get_record(self, p: dict[str, Any]) -> dict[str, Any]:
        # A missing record is not an error on AWS: the response simply has no Record.
        return self.feature_store(
            "get_record_response",
            p["FeatureGroupName"],
            p["RecordIdentifierValueAsString"],
            feature_names=p.get("FeatureNames"),
            expiration_time_response=p.get("ExpirationTimeResponse") == "Enabled",
        )

    def delete_record(self, p: dict[str, Any]) -> dict[str, Any]:
        self.feature_store(
            "delete_record",
            p["FeatureGroupName"],
            p["RecordIdentifierValueAsString"],
            p["EventTime"],
            p.get("DeletionMode", "SoftDelete"),
            target_stores=p.get("TargetStores"),
        )
        return {}

    def batch_get_record(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.feature_store(
            "batch_get_record",
            p["Identifiers"],
            expiration_time_response=p.get("ExpirationTimeResponse") == "Enabled",
        )

    def batch_write_record(self, p: dict[str, Any]) -> dict[str, Any]:
        """Each entry written as PutRecord would write it; an entry that fails is an `Errors`
        item (its code and message), and the others are still written, as on AWS."""
        errors = []
        for entry in p["Entries"]:
            try:
                self.feature_store(
                    "put_record",
                    entry["FeatureGroupName"],
                    entry["Record"],
                    ttl_seconds=ttl_seconds(entry.get("TtlDuration") or p.get("TtlDuration")),
                    target_stores=entry.get("TargetStores"),
                )
            except ApiError as exc:
                errors.append({"Entry": entry, "ErrorCode": exc.code, "ErrorMessage": exc.message})
        return {"Errors": errors, "UnprocessedEntries": []}

    def feature_store(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A feature store call; a FeatureStoreError becomes the runtime API's error it carries."""
        try:
            return getattr(self.features(), method)(*args, **kwargs)
        except FeatureStoreError as exc:
            raise ApiError(exc.code, exc.message, exc.status) from None
