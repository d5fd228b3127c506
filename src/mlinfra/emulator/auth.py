"""AWS Signature Version 4, checked on every request the emulator answers, as MinIO does.

A request must carry `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/sagemaker/
aws4_request, SignedHeaders=..., Signature=...` made with the emulator's own credentials
(`credentials.py`), for every service boto3 talks to (SageMaker's JSON 1.1 control plane,
SageMaker Runtime, the Feature Store Runtime: all sign as `sagemaker`; CloudWatch signs as
`monitoring` and Application Auto Scaling as `application-autoscaling`, and the server says
which name a request's route needs) and for mlinfra's own `/_mlinfra/...` routes. Nothing is
left open: the CLI signs its own calls too.

The canonical request and string to sign come from botocore's `SigV4Auth`, the code that
signed the request in the client, fed with the request exactly as it arrived (the raw path
and query, the signed headers' values). Only the signing key is derived here, cached per
date, region and service, so a request costs two SHA-256 hashes and one HMAC, plus hashing
its body (the payload hash is always checked: a body changed after signing fails).

The refusals use the codes AWS's JSON services answer with:
`MissingAuthenticationTokenException` (no Authorization), `IncompleteSignatureException` (one
that is not a complete SigV4 header), `UnrecognizedClientException` (a key that is not the
emulator's, or a session token, which the emulator never issues), `InvalidSignatureException`
(a wrong signature, a tampered body, a timestamp more than 15 minutes away from now), with
AWS's messages and a hint where the credentials are. AWS answers these with 400 or 403
depending on the service's front end; the emulator answers all of them 403, a refusal.

`--insecure-any-credentials` keeps the old LocalStack-like mode: anything is accepted.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime

from botocore.auth import SigV4Auth
from botocore.credentials import Credentials as BotoCredentials

from mlinfra.emulator.credentials import DEFAULT_REGION, SIGNING_NAME, Credentials
from mlinfra.emulator.kit.errors import ApiError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60  # AWS's window, both ways
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STATUS = 403
HINT = "`mlinfra emulator env` prints the emulator's credentials"
_TIMESTAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_REGION = re.compile(r"[a-z0-9-]{1,64}")
_CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_KEY_CACHE_LIMIT = 64


class Verifier:
    """Checks requests against one pair of credentials; `any_credentials` checks nothing."""

    def __init__(
        self,
        credentials: Credentials,
        any_credentials: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.any_credentials = any_credentials
        self._clock = clock
        self._keys: dict[tuple[str, str, str], bytes] = {}
        # Per region and signing name; they keep no request state.
        self._signers: dict[tuple[str, str], SigV4Auth] = {}

    def verify(
        self,
        method: str,
        target: str,
        headers: Message,
        body: bytes,
        signing_name: str = SIGNING_NAME,
    ) -> str:
        """The region the request was signed for, or ApiError saying why it is refused.

        `target` is the request-target as received (path and query, still percent-encoded);
        `headers` the request's headers, with the Host the server already checked.
        """
        authorization = headers.get("Authorization")
        if self.any_credentials:
            return region_of(authorization)
        if authorization is None:
            raise ApiError(
                "MissingAuthenticationTokenException",
                f"Missing Authentication Token: sign the request with the emulator's "
                f"credentials ({HINT}).",
                STATUS,
            )
        parsed = _parse(authorization)
        key, date, region, service = parsed["Credential"]
        if not hmac.compare_digest(key.encode(), self.credentials.access_key_id.encode()):
            raise _unrecognized(f"access key {key[:64]!r} is not this emulator's")
        if headers.get("X-Amz-Security-Token") is not None:
            raise _unrecognized("the emulator issues no session tokens (unset AWS_SESSION_TOKEN)")
        signed = parsed["SignedHeaders"]
        _check_signed_headers(signed, headers)
        timestamp = _timestamp(headers)
        self._check_time(timestamp)
        if service != signing_name:
            raise _invalid(f"Credential should be scoped to correct service: '{signing_name}'.")
        if date != timestamp[:8]:
            raise _invalid(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{date}' != '{timestamp[:8]}', from '{timestamp}'."
            )
        # Without this header botocore's canonical request hashes the body itself; with it,
        # the header's value stands for the body, so it must be the body's.
        declared = headers.get("X-Amz-Content-SHA256")
        if declared is not None and declared != hashlib.sha256(body).hexdigest():
            raise _invalid(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        string_to_sign = _string_to_sign(
            self._signer(region, service), method, target, headers, signed, body, timestamp
        )
        expected = hmac.new(
            self._signing_key(date, region, service), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), parsed["Signature"].encode()):
            raise _invalid(
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method "
                f"({HINT})."
            )
        return region

    def _check_time(self, timestamp: str) -> None:
        found = _TIMESTAMP.fullmatch(timestamp)
        try:
            if found is None:
                raise ValueError(timestamp)
            when = calendar.timegm(tuple(int(part) for part in found.groups()) + (0, 0, 0))
        except ValueError:
            raise ApiError(
                "IncompleteSignatureException",
                f"Date must be in ISO-8601 'basic format': got '{timestamp}'.",
                STATUS,
            ) from None
        now = int(self._clock())
        if when < now - MAX_SKEW_SECONDS:
            raise _invalid(
                f"Signature expired: {timestamp} is now earlier than "
                f"{_format(now - MAX_SKEW_SECONDS)} ({_format(now)} - 15 min.)"
            )
        if when > now + MAX_SKEW_SECONDS:
            raise _invalid(
                f"Signature not yet current: {timestamp} is still later than "
                f"{_format(now + MAX_SKEW_SECONDS)} ({_format(now)} + 15 min.)"
            )

    def _signer(self, region: str, service: str) -> SigV4Auth:
        signer = self._signers.get((region, service))
        if signer is None:
            if len(self._signers) >= _KEY_CACHE_LIMIT:
                self._signers.clear()
            keys = BotoCredentials(
                self.credentials.access_key_id, self.credentials.secret_access_key
            )
            signer = self._signers[(region, service)] = SigV4Auth(keys, service, region)
        return signer

    def _signing_key(self, date: str, region: str, service: str) -> bytes:
        cached = self._keys.get((date, region, service))
        if cached is None:
            if len(self._keys) >= _KEY_CACHE_LIMIT:
                self._keys.clear()  # a new day or many regions: start over, it is cheap
            key = ("AWS4" + self.credentials.secret_access_key).encode()
            for part in (date, region, service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            cached = self._keys[(date, region, service)] = key
        return cached


def region_of(authorization: str | None) -> str:
    """The region a SigV4 request says it was signed for (insecure mode reads no further)."""
    if authorization:
        found = _CREDENTIAL_REGION.search(authorization)
        if found:
            return found.group(1)
    return DEFAULT_REGION


def _parse(authorization: str) -> dict:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise ApiError(
            "IncompleteSignatureException",
            f"Unsupported signing algorithm {algorithm!r}: the emulator verifies {ALGORITHM} "
            "(Signature Version 4) only.",
            STATUS,
        )
    fields: dict[str, str] = {}
    # Components are separated by commas, with or without spaces, as AWS accepts.
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value.strip()
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise ApiError(
            "IncompleteSignatureException",
            " ".join(f"Authorization header requires '{f}' parameter." for f in missing),
            STATUS,
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not _REGION.fullmatch(scope[2]):
        raise ApiError(
            "IncompleteSignatureException",
            f"Credential must have the form KEY/YYYYMMDD/REGION/SERVICE/aws4_request: got "
            f"'{fields['Credential']}'.",
            STATUS,
        )
    return {
        "Credential": tuple(scope[:4]),
        "SignedHeaders": fields["SignedHeaders"].lower().split(";"),
        "Signature": fields["Signature"],
    }


def _check_signed_headers(signed: list[str], headers: Message) -> None:
    if "host" not in signed:
        raise ApiError(
            "IncompleteSignatureException",
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            STATUS,
        )
    # What decides the operation and the time must be covered by the signature.
    unsigned = sorted(
        name.lower()
        for name in set(headers.keys())
        if name.lower().startswith("x-amz-") and name.lower() not in signed
    )
    if unsigned:
        raise ApiError(
            "IncompleteSignatureException",
            f"Every x-amz-* header must be signed: {', '.join(unsigned)} is not.",
            STATUS,
        )


def _timestamp(headers: Message) -> str:
    stamp = headers.get("X-Amz-Date")
    if stamp is not None:
        return stamp.strip()
    date = headers.get("Date")
    if date is not None:
        try:
            return parsedate_to_datetime(date).strftime(TIMESTAMP_FORMAT)
        except (TypeError, ValueError):
            pass
    raise ApiError(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        STATUS,
    )


@dataclass
class _Arrived:
    """The request as it arrived, with the attributes of botocore's `AWSRequest` that
    `SigV4Auth.canonical_request` reads (an AWSRequest would re-serialise its body first)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    params: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)


def _string_to_sign(
    signer: SigV4Auth,
    method: str,
    target: str,
    headers: Message,
    signed: list[str],
    body: bytes,
    timestamp: str,
) -> str:
    # botocore's own canonicalisation, on the request as it arrived: the raw target (so its
    # percent-encoding is the client's), and the signed headers only, repeated ones joined
    # by commas as the client's signer joins them.
    values = {}
    for name in signed:
        found = headers.get_all(name)
        if found:
            values[name] = ",".join(" ".join(v.split()) for v in found)
    request = _Arrived(method, f"http://{headers['Host']}{target}", values, body)
    request.context["timestamp"] = timestamp
    return signer.string_to_sign(request, signer.canonical_request(request))


def _unrecognized(why: str) -> ApiError:
    return ApiError(
        "UnrecognizedClientException",
        f"The security token included in the request is invalid: {why} ({HINT}).",
        STATUS,
    )


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidSignatureException", message, STATUS)


def _format(seconds: int) -> str:
    return time.strftime(TIMESTAMP_FORMAT, time.gmtime(seconds))
