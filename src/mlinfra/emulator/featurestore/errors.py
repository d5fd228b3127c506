"""The one error type of the feature store, carrying the AWS error code and HTTP status.

The emulator's server turns a `FeatureStoreError` into the error response SageMaker would send,
so the code is an AWS error shape name from botocore's service models and the status is the one
those models give it.
"""

from __future__ import annotations

# Statuses from botocore's `sagemaker-featurestore-runtime` model (`error.httpStatusCode`). The
# control-plane `sagemaker` model gives its errors no status, so they travel as 400, the JSON
# protocol's default.
HTTP_STATUS = {
    "ValidationError": 400,
    "ResourceNotFound": 404,
    "ConflictException": 409,
    "AccessForbidden": 403,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ResourceInUse": 400,
    "ResourceLimitExceeded": 400,
}


class FeatureStoreError(Exception):
    """A request the feature store refuses, as SageMaker would: `code`, `message`, `status`."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = HTTP_STATUS.get(code, 400) if status is None else status
