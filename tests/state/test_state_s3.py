"""State in S3 (against moto, since the build machines have no AWS): round trip, backup,
conditional writes, and the lock created with If-None-Match."""

from __future__ import annotations

import json
import os
import socket

import boto3
import pytest
from moto import mock_aws

from mlinfra.state.backend import backend_for
from mlinfra.state.lock import LockHeld, LockInfo
from mlinfra.state.model import ResourceState, StateError
from mlinfra.state.s3 import S3Backend

ENTRY = ResourceState(type="local.Model", properties={"ModelName": "m"})


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="team-state")
        yield client


def backend(s3) -> S3Backend:
    return backend_for("s3://team-state/ml/churn", ".", client=s3)


def test_round_trip_with_a_backup_of_the_previous_version(s3) -> None:
    first = backend(s3).write(backend(s3).read("churn", "dev").with_resource("a", ENTRY))
    second = backend(s3).write(backend(s3).read("churn", "dev").without("a"))
    assert (second.serial, second.lineage) == (2, first.lineage)
    kept = s3.get_object(Bucket="team-state", Key="ml/churn/dev.json.backup")["Body"].read()
    assert json.loads(kept)["resources"] == {"a": ENTRY.to_json()}
    assert backend(s3).read("churn", "dev") == second


def test_a_missing_state_is_empty(s3) -> None:
    assert backend(s3).read("churn", "dev").is_empty


def test_a_write_over_a_state_that_moved_is_refused(s3) -> None:
    mine, theirs = backend(s3), backend(s3)
    stale = mine.read("churn", "dev")
    theirs.write(theirs.read("churn", "dev").with_resource("a", ENTRY))
    with pytest.raises(StateError, match="changed since it was read"):
        mine.write(stale.with_resource("b", ENTRY))


def test_a_corrupt_state_names_the_object(s3) -> None:
    s3.put_object(Bucket="team-state", Key="ml/churn/dev.json", Body=b'{"format_')
    with pytest.raises(StateError, match="s3://team-state/ml/churn/dev.json: .*not valid JSON"):
        backend(s3).read("churn", "dev")


def test_a_second_locker_fails_naming_the_holder(s3) -> None:
    with backend(s3).lock("dev", "mlinfra apply"):
        held = json.loads(
            s3.get_object(Bucket="team-state", Key="ml/churn/dev.lock")["Body"].read()
        )
        assert held["pid"] == os.getpid()
        with pytest.raises(LockHeld, match=f"process {os.getpid()} on"):
            backend(s3).lock("dev", "mlinfra apply").acquire()
    with backend(s3).lock("dev", "mlinfra apply"):
        pass


def test_a_stale_lock_in_s3_is_taken_over(s3) -> None:
    gone = LockInfo(2**22 + 12345, socket.gethostname(), "2026-01-01T00:00:00+00:00", "", "x")
    s3.put_object(Bucket="team-state", Key="ml/churn/dev.lock", Body=json.dumps(gone.to_json()))
    with backend(s3).lock("dev", "apply") as lock:
        assert lock.taken_over == gone


def test_the_lock_is_created_with_if_none_match(s3) -> None:
    # moto 5.2.5 honours If-None-Match: * on PutObject (and If-Match on PutObject and
    # DeleteObject), which this backend relies on.
    s3.put_object(Bucket="team-state", Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(s3.exceptions.ClientError, match="PreconditionFailed"):
        s3.put_object(Bucket="team-state", Key="k", Body=b"2", IfNoneMatch="*")
