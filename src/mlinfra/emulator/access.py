"""How a client reaches a running emulator as its user: its URL, credentials and region.

One place for everyone who talks to the emulator: the local providers (`LocalProvider`), the
CLI's boto3 clients and its signed calls to mlinfra's own `/_mlinfra/...` routes, the churn
example's shell exports (`mlinfra emulator env`), and the tests.

    access = Access.for_spec("examples/churn/mlinfra.yaml")
    sagemaker = access.client("sagemaker")
    os.environ.update(access.environment())   # what `eval "$(mlinfra emulator env)"` sets

The credentials are read from the emulator's state folder (`credentials.py`); only the user
who can read that file can sign requests the emulator accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlinfra.emulator import process
from mlinfra.emulator.credentials import (
    DEFAULT_REGION,
    SIGNING_NAME,
    Credentials,
    CredentialsError,
    load,
    path_of,
)
from mlinfra.sagemaker.api import service_model

if TYPE_CHECKING:
    import urllib.request

# The boto3 services the emulator speaks, by client name.
SERVICES = (
    "sagemaker",
    "sagemaker-runtime",
    "sagemaker-featurestore-runtime",
    "cloudwatch",
    "application-autoscaling",
)
# Set by `environment()` over whatever the shell had: a stale session token would be sent with
# the emulator's key (and refused), a profile could name credentials, a role or a region of its
# own, and this variable would make botocore ignore the endpoint URLs below.
UNSET = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


class NotRunning(Exception):
    """No emulator runs for the spec's folder, or its credentials cannot be read."""


def endpoint_variable(service: str) -> str:
    """The variable botocore reads a service's endpoint URL from (`AWS_ENDPOINT_URL_<ID>`).

    botocore's own rule (`configprovider.ConfiguredEndpointProvider`): the service id,
    hyphenated, upper-cased, hyphens to underscores. The model is read from botocore's data,
    not through a session, so a shell whose AWS_PROFILE names no profile cannot break
    `emulator env`.
    """
    model = service_model(service)
    return "AWS_ENDPOINT_URL_" + model.service_id.hyphenize().replace("-", "_").upper()


@dataclass(frozen=True)
class Access:
    """A running emulator as a client sees it."""

    url: str
    credentials: Credentials
    region: str = DEFAULT_REGION

    @classmethod
    def for_spec(cls, spec_file: str | Path, region: str = DEFAULT_REGION) -> Access:
        """The emulator running for a spec's folder; NotRunning when there is none."""
        running = process.status(spec_file)
        if running is None:
            raise NotRunning(f"no emulator is running for {process.folder_of(spec_file)}")
        return cls.for_state(running.url, process.state_dir_of(spec_file), region)

    @classmethod
    def for_state(cls, url: str, state_dir: Path, region: str = DEFAULT_REGION) -> Access:
        """The emulator at `url` whose state folder (and credentials) is `state_dir`."""
        try:
            found = load(state_dir)
        except CredentialsError as exc:
            older = (
                ""
                if path_of(state_dir).exists()
                else " (an emulator started by an older mlinfra made none: restart it with "
                "`mlinfra emulator stop`, then `mlinfra emulator start`)"
            )
            raise NotRunning(f"cannot use the emulator at {url}: {exc}{older}") from None
        return cls(url, found, region)

    @classmethod
    def for_server(cls, server: Any, region: str = DEFAULT_REGION) -> Access:
        """An in-process `EmulatorServer` (tests, benchmarks), or anything with its `url` and
        `credentials` (another Access)."""
        return cls(server.url, server.credentials, region)

    # --- boto3 ---------------------------------------------------------------------------

    def client_kwargs(self, service: str = "sagemaker") -> dict[str, Any]:
        """`boto3.client(service, **kwargs)` arguments that reach this emulator."""
        return {
            "service_name": service,
            "endpoint_url": self.url,
            "region_name": self.region,
            "aws_access_key_id": self.credentials.access_key_id,
            "aws_secret_access_key": self.credentials.secret_access_key,
        }

    def client(self, service: str = "sagemaker", config: Any = None) -> Any:
        import boto3

        return boto3.client(**self.client_kwargs(service), config=config)

    def environment(self) -> dict[str, str]:
        """The variables that make unmodified boto3 code reach this emulator (see UNSET)."""
        found = {endpoint_variable(service): self.url for service in SERVICES}
        found.update(
            AWS_ACCESS_KEY_ID=self.credentials.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.credentials.secret_access_key,
            # botocore reads AWS_DEFAULT_REGION; the AWS CLI v2 and other SDKs AWS_REGION.
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
        )
        return found

    # --- mlinfra's own routes ------------------------------------------------------------

    def signed_headers(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        signing_name: str = SIGNING_NAME,
    ) -> dict[str, str]:
        """`headers` plus the SigV4 headers (X-Amz-Date, Authorization) for this request.

        `path` is the request-target as it goes on the wire (path and query, percent-encoded);
        `signing_name` the service it is signed for (`monitoring` for CloudWatch's routes).
        """
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials as BotoCredentials

        request = AWSRequest(
            method=method, url=f"{self.url}{path}", data=body, headers=dict(headers or {})
        )
        keys = BotoCredentials(self.credentials.access_key_id, self.credentials.secret_access_key)
        SigV4Auth(keys, signing_name, self.region).add_auth(request)
        return dict(request.headers.items())

    def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> urllib.request.Request:
        """A signed `urllib` request to one of the emulator's routes; open it with `open`."""
        import urllib.request

        headers = {"Content-Type": content_type} if content_type else {}
        return urllib.request.Request(  # noqa: S310 - the emulator's own http://127.0.0.1 URL
            f"{self.url}{path}",
            data=body if method not in ("GET", "HEAD", "DELETE") else None,
            method=method,
            headers=self.signed_headers(method, path, body, headers),
        )

    def open(self, request: urllib.request.Request, timeout: float) -> Any:
        """`urlopen`, but never through a proxy: the emulator is on this machine's loopback."""
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        return opener.open(request, timeout=timeout)
