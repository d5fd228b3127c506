"""Only its user's processes drive the emulator: SigV4 with the credentials it made, checked.

Real boto3 clients of the three services it speaks, and raw sockets for requests boto3 would
never send; each refusal is asserted with AWS's error code, and that nothing changed.
"""

from __future__ import annotations

import datetime
import json
import os
import stat

import boto3
import pytest
from botocore.exceptions import ClientError
from featurestore_client import create_group, get_record
from test_server import ROLE, client, deploy
from wire import error_of, request, send, signed

from mlinfra.emulator import credentials
from mlinfra.emulator.access import Access
from mlinfra.emulator.credentials import CredentialsError
from mlinfra.emulator.server import EmulatorServer

GROUP = "customers"
CSV = b"customer_id,event_time,tenure_months\nC1,2024-12-01T10:00:00Z,12\n"
INGEST = f"/_mlinfra/feature-groups/{GROUP}/ingest"
SERVICES = ("sagemaker", "sagemaker-runtime", "sagemaker-featurestore-runtime")


def call(boto_client) -> None:
    """One harmless call of each service (its answer, when admitted, is an AWS error too)."""
    service = boto_client.meta.service_model.service_name
    if service == "sagemaker":
        boto_client.list_models()
    elif service == "sagemaker-runtime":
        boto_client.invoke_endpoint(EndpointName="api", Body=b"1,2", ContentType="text/csv")
    else:
        boto_client.get_record(FeatureGroupName=GROUP, RecordIdentifierValueAsString="C1")


def refusal(excinfo) -> tuple[str, str, int]:
    error = excinfo.value.response["Error"]
    return (
        error["Code"],
        error["Message"],
        excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def stranger(server, service: str, key: str, secret: str, **extra):
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        **extra,
    )


def raw_ingest(server, headers: dict, body: bytes = CSV, target: str = INGEST):
    return send(server.port, request("POST", target, headers, body))


# --- boto3, all three services -----------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_boto3_with_the_emulator_credentials_is_answered(server, service):
    create_group(server, GROUP, offline=False)
    boto_client = client(server, service)
    try:
        call(boto_client)
    except ClientError as exc:  # no endpoint "api": answered, not refused
        assert exc.response["Error"]["Code"] == "ValidationError"


@pytest.mark.parametrize("service", SERVICES)
def test_an_unknown_access_key_is_unrecognized(server, service):
    with pytest.raises(ClientError) as excinfo:
        secret = server.credentials.secret_access_key
        call(stranger(server, service, "AKIAIOSFODNN7EXAMPLE", secret))
    code, message, status = refusal(excinfo)
    assert (code, status) == ("UnrecognizedClientException", 403)
    assert "The security token included in the request is invalid" in message
    assert "mlinfra emulator env" in message


@pytest.mark.parametrize("service", SERVICES)
def test_a_wrong_secret_is_an_invalid_signature(server, service):
    key = server.credentials.access_key_id
    with pytest.raises(ClientError) as excinfo:
        call(stranger(server, service, key, "not-the-secret-at-all"))
    code, message, status = refusal(excinfo)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match")


def test_a_wrong_secret_changes_nothing(server):
    sm = stranger(server, "sagemaker", server.credentials.access_key_id, "wrong-secret-0000")
    with pytest.raises(ClientError):
        sm.create_model(ModelName="m", PrimaryContainer={"Image": "x"}, ExecutionRoleArn=ROLE)
    assert client(server, "sagemaker").list_models()["Models"] == []


def test_a_session_token_is_refused_the_emulator_issues_none(server):
    key, secret = server.credentials.access_key_id, server.credentials.secret_access_key
    sm = stranger(server, "sagemaker", key, secret, aws_session_token="stale-sts-token")
    with pytest.raises(ClientError) as excinfo:
        sm.list_models()
    code, message, _ = refusal(excinfo)
    assert code == "UnrecognizedClientException"
    assert "AWS_SESSION_TOKEN" in message


def test_the_region_signed_for_names_the_arns(server):
    arn = (
        Access.for_server(server, "eu-west-1")
        .client("sagemaker")
        .create_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    )
    assert arn.startswith("arn:aws:sagemaker:eu-west-1:")


# --- hostile requests on a socket ----------------------------------------------------------


def test_an_unsigned_request_is_missing_authentication_and_ingests_nothing(server):
    create_group(server, GROUP, offline=False)
    headers = {"Host": f"127.0.0.1:{server.port}", "Content-Type": "text/csv"}
    status, response_headers, body = raw_ingest(server, headers)
    assert status == 403
    code, message = error_of(body)
    assert code == response_headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert "mlinfra emulator env" in message
    assert get_record(server, GROUP, "C1") is None


def test_an_unsigned_invocation_reaches_no_model(server, model_dir):
    deploy(server, model_dir)
    headers = {"Host": f"127.0.0.1:{server.port}", "Content-Type": "text/csv"}
    status, _, body = send(
        server.port, request("POST", "/endpoints/api/invocations", headers, b"1.0,0.0\n")
    )
    assert (status, error_of(body)[0]) == (403, "MissingAuthenticationTokenException")
    assert not list((server.state_dir / "capture").rglob("*.jsonl"))


def test_the_health_route_is_signed_too(server):
    headers = {"Host": f"127.0.0.1:{server.port}"}
    status, _, body = send(server.port, request("GET", "/_mlinfra/health", headers))
    assert (status, error_of(body)[0]) == (403, "MissingAuthenticationTokenException")
    headers = signed(Access.for_server(server), "GET", "/_mlinfra/health")
    status, _, body = send(server.port, request("GET", "/_mlinfra/health", headers))
    assert status == 200 and json.loads(body)["service"] == "mlinfra-emulator"


def test_a_body_changed_after_signing_is_refused_and_ingests_nothing(server):
    create_group(server, GROUP, offline=False)
    headers = signed(Access.for_server(server), "POST", INGEST, CSV, {"Content-Type": "text/csv"})
    tampered = CSV.replace(b",12\n", b",99\n")
    status, _, body = raw_ingest(server, headers, tampered)
    assert (status, error_of(body)[0]) == (403, "InvalidSignatureException")
    assert get_record(server, GROUP, "C1") is None
    # The same signed request, untouched, is accepted: only the change was refused.
    status, _, body = raw_ingest(server, headers)
    assert status == 200, body
    assert get_record(server, GROUP, "C1")["tenure_months"] == "12"


def test_a_path_changed_after_signing_is_refused(server):
    for group in (GROUP, "other"):
        create_group(server, group, offline=False)
    headers = signed(Access.for_server(server), "POST", INGEST, CSV, {"Content-Type": "text/csv"})
    status, _, body = raw_ingest(server, headers, target=INGEST.replace(GROUP, "other"))
    assert (status, error_of(body)[0]) == (403, "InvalidSignatureException")
    assert get_record(server, "other", "C1") is None


def test_a_declared_payload_hash_must_be_the_body_s(server):
    create_group(server, GROUP, offline=False)
    declared = {"Content-Type": "text/csv", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    headers = signed(Access.for_server(server), "POST", INGEST, CSV, declared)
    status, _, body = raw_ingest(server, headers)
    assert (status, error_of(body)[0]) == (403, "InvalidSignatureException")
    assert "x-amz-content-sha256" in error_of(body)[1]
    assert get_record(server, GROUP, "C1") is None


@pytest.mark.parametrize(
    ("minutes", "says"), [(-16, "Signature expired"), (16, "Signature not yet current")]
)
def test_a_timestamp_more_than_15_minutes_off_is_refused(server, monkeypatch, minutes, says):
    create_group(server, GROUP, offline=False)
    then = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: then.replace(tzinfo=None))
    headers = signed(Access.for_server(server), "POST", INGEST, CSV, {"Content-Type": "text/csv"})
    status, _, body = raw_ingest(server, headers)
    code, message = error_of(body)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith(f"{says}: {then.strftime('%Y%m%dT%H%M%SZ')} is ")
    assert message.endswith("15 min.)")
    monkeypatch.undo()  # boto3 signs with the right time again
    assert get_record(server, GROUP, "C1") is None


def test_a_timestamp_within_15_minutes_is_accepted(server, monkeypatch):
    create_group(server, GROUP, offline=False)
    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=14)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: then.replace(tzinfo=None))
    headers = signed(Access.for_server(server), "POST", INGEST, CSV, {"Content-Type": "text/csv"})
    assert raw_ingest(server, headers)[0] == 200


@pytest.mark.parametrize(
    ("authorization", "code", "says"),
    [
        ("AWS AKIAEXAMPLE:c2lnbmF0dXJl", "IncompleteSignatureException", "AWS4-HMAC-SHA256"),
        (
            "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/sagemaker/aws4_request",
            "IncompleteSignatureException",
            "'SignedHeaders' parameter",
        ),
        (
            "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            "InvalidSignatureException",
            "scoped to correct service: 'sagemaker'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=" + "0" * 64,
            "IncompleteSignatureException",
            "'Host' must be a 'SignedHeader'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            "InvalidSignatureException",
            "does not match",
        ),
    ],
)
def test_a_malformed_or_forged_authorization_is_refused(server, authorization, code, says):
    create_group(server, GROUP, offline=False)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": "text/csv",
        "X-Amz-Date": now,
        "Authorization": authorization.format(key=server.credentials.access_key_id, date=now[:8]),
    }
    status, _, body = raw_ingest(server, headers)
    assert (status, error_of(body)[0]) == (403, code)
    assert says in error_of(body)[1]
    assert get_record(server, GROUP, "C1") is None


def test_an_x_amz_header_left_out_of_the_signature_is_refused(server):
    # The operation a JSON 1.1 request runs is its X-Amz-Target: it must be signed.
    access = Access.for_server(server)
    body = b'{"ModelPackageGroupName": "churn"}'
    headers = signed(access, "POST", "/", body, {"Content-Type": "application/x-amz-json-1.1"})
    headers["X-Amz-Target"] = "SageMaker.CreateModelPackageGroup"
    status, _, answer = send(server.port, request("POST", "/", headers, body))
    assert (status, error_of(answer)[0]) == (403, "IncompleteSignatureException")
    assert "x-amz-target" in error_of(answer)[1]
    groups = client(server, "sagemaker").list_model_package_groups()
    assert groups["ModelPackageGroupSummaryList"] == []


# --- --insecure-any-credentials ------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_insecure_mode_accepts_any_credentials(insecure, service):
    create_group(insecure, GROUP, offline=False)
    try:
        call(stranger(insecure, service, "anything", "at-all"))
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ValidationError"  # answered, not refused


def test_insecure_mode_accepts_an_unsigned_ingest(insecure):
    create_group(insecure, GROUP, offline=False)
    headers = {"Host": f"127.0.0.1:{insecure.port}", "Content-Type": "text/csv"}
    assert raw_ingest(insecure, headers)[0] == 200
    assert get_record(insecure, GROUP, "C1")["tenure_months"] == "12"


# --- the credentials file ------------------------------------------------------------------


def test_the_first_start_makes_credentials_readable_by_their_owner_only(tmp_path):
    previous = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        made = credentials.load_or_create(tmp_path)
    finally:
        os.umask(previous)
    path = tmp_path / credentials.CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document == {
        "format": credentials.FORMAT_VERSION,
        "access_key_id": made.access_key_id,
        "secret_access_key": made.secret_access_key,
    }
    assert len(made.access_key_id) == 20 and made.access_key_id.startswith("MLI")
    assert len(made.secret_access_key) == 40
    assert made.secret_access_key not in repr(made)
    assert not [p for p in tmp_path.iterdir() if p.name != credentials.CREDENTIALS_FILE]


def test_credentials_are_reused_across_restarts(tmp_path):
    state = tmp_path / ".mlinfra" / "emulator"
    first = EmulatorServer(tmp_path, state, 0)
    first.server_close()
    second = EmulatorServer(tmp_path, state, 0)
    second.server_close()
    assert second.credentials == first.credentials


def test_two_pairs_are_never_alike():
    assert credentials.generate() != credentials.generate()


def test_a_credentials_file_others_can_read_is_refused(tmp_path):
    credentials.load_or_create(tmp_path)
    path = tmp_path / credentials.CREDENTIALS_FILE
    path.chmod(0o644)
    with pytest.raises(CredentialsError) as excinfo:
        EmulatorServer(tmp_path, tmp_path, 0)
    assert "readable by other users (mode 0644)" in str(excinfo.value)
    assert "chmod 600" in str(excinfo.value)


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"format": 2, "access_key_id": "MLIABCDEFGHIJKLMNOPQ"}', '{"format": 1}'],
)
def test_an_unusable_credentials_file_says_what_to_do(tmp_path, text):
    path = tmp_path / credentials.CREDENTIALS_FILE
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(CredentialsError) as excinfo:
        credentials.load(tmp_path)
    assert str(path) in str(excinfo.value)


def test_access_without_credentials_is_not_running(tmp_path):
    from mlinfra.emulator.access import NotRunning

    with pytest.raises(NotRunning) as excinfo:
        Access.for_state("http://127.0.0.1:9", tmp_path)
    assert "does not exist" in str(excinfo.value)
