"""Errors in AWS's shape: the one exception every service raises, and the codes it carries.

`ApiError` is what AWS itself would answer: a code boto3 raises as `ClientError`, a message
and an HTTP status. The server turns it into the error body of the request's protocol. As
moto's per-service `exceptions.py`, the helpers name the codes SageMaker's control plane uses,
so a service says `invalid(...)` rather than spelling the code again.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error AWS itself would return: a code boto3 raises as `ClientError`, and a status."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: dict | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # The error shape's other members (ModelError's OriginalStatusCode...), in its body.
        self.fields = dict(fields or {})


def invalid(message: str) -> ApiError:
    """SageMaker's answer to a request it will not act on (a name taken, a missing reference)."""
    return ApiError("ValidationException", message)


def not_found(message: str) -> ApiError:
    """SageMaker's ResourceNotFound (pipelines, monitoring schedules, feature groups)."""
    return ApiError("ResourceNotFound", message)
