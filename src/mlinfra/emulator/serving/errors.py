"""The one error type of model serving, carrying SageMaker's error code and HTTP status."""

from __future__ import annotations

from mlinfra.emulator.kit.arns import ACCOUNT


class ServingError(Exception):
    """An invocation or deployment failed; ``code`` is the AWS error code the server returns."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        original_status_code: int | None = None,
        original_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # SageMaker's ModelError also reports what the container itself answered with.
        self.original_status_code = original_status_code
        self.original_message = original_message
        # Set by the pool when a variant's worker failed: whose error metrics count it.
        self.variant: str | None = None
        self.instances = 1

    def fields(self) -> dict:
        """ModelError's members besides the message, as InvokeEndpoint's error body has them."""
        found: dict = {}
        if self.original_status_code is not None:
            found["OriginalStatusCode"] = self.original_status_code
        if self.original_message is not None:
            found["OriginalMessage"] = self.original_message
        return found

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def endpoint_not_found(name: str) -> ServingError:
    # Same text as SageMaker's InvokeEndpoint, so clients matching on it behave the same.
    return ServingError("ValidationException", f"Endpoint {name} of account {ACCOUNT} not found.")


def model_error(endpoint: str, status: int, text: str) -> ServingError:
    """A failure inside the model container, worded like SageMaker's ModelError (HTTP 424)."""
    kind = "client" if 400 <= status < 500 else "server"
    message = (
        f'Received {kind} error ({status}) from primary with message "{text}". '
        f"See the emulator log for endpoint {endpoint} in account {ACCOUNT} "
        "for more information."
    )
    return ServingError(
        "ModelError", message, 424, original_status_code=status, original_message=text
    )
