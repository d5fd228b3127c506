"""Finding previews in state folders, their lifetimes, and removing an emptied one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from mlinfra.preview.inventory import describe_age, list_previews, remove_state, stamped
from mlinfra.state import ResourceState, State, backend_for
from mlinfra.state.model import PreviewInfo

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
ENTRY = ResourceState("local.Endpoint", {}, {"EndpointName": "shop-preview-a-api"})


def info(branch: str = "a", expires: str | None = "2026-11-23T12:00:00Z") -> PreviewInfo:
    return PreviewInfo(branch, "local", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z", expires)


def write_states(backend) -> None:
    backend.write(State("shop", "local").with_resource("endpoint.x", ENTRY))
    backend.write(State("shop", "preview-a", preview=info()).with_resource("endpoint.x", ENTRY))
    backend.write(State("shop", "preview-b", preview=info("b", "2026-11-22T11:00:00Z")))
    backend.write(State("shop", "preview-c"))  # named like a preview, but not one


def test_stamping_keeps_the_creation_and_pushes_the_expiry_back() -> None:
    first = stamped(None, "a", "local", dt.timedelta(hours=72), NOW)
    assert (first.created_at, first.expires_at) == ("2026-11-22T12:00:00Z", "2026-11-25T12:00:00Z")
    later = stamped(first, "a", "local", dt.timedelta(hours=72), NOW + dt.timedelta(days=1))
    assert later.created_at == first.created_at
    assert later.expires_at == "2026-11-26T12:00:00Z"
    assert stamped(None, "a", "local", None, NOW).expires_at is None


def test_previews_in_a_folder_with_their_expiry(tmp_path: Path) -> None:
    backend = backend_for(".mlinfra/state", tmp_path)
    write_states(backend)
    found, problems = list_previews(backend, "shop")
    assert problems == []
    assert [(p.env, p.info.branch, p.resources) for p in found] == [
        ("preview-a", "a", 1),
        ("preview-b", "b", 0),
    ]
    assert [p.expired(NOW) for p in found] == [False, True]
    assert describe_age(found[0].age(NOW)) == "2h 0m"


def test_a_corrupt_preview_state_is_reported_and_the_others_listed(tmp_path: Path) -> None:
    backend = backend_for(".mlinfra/state", tmp_path)
    write_states(backend)
    (tmp_path / ".mlinfra" / "state" / "preview-z.json").write_text("{")
    found, problems = list_previews(backend, "shop")
    assert len(found) == 2
    assert len(problems) == 1 and "preview-z.json" in problems[0]


def test_removing_an_emptied_preview_leaves_no_file(tmp_path: Path) -> None:
    backend = backend_for(".mlinfra/state", tmp_path)
    write_states(backend)
    remove_state(backend, "preview-b")
    assert [p.env for p in list_previews(backend, "shop")[0]] == ["preview-a"]
    assert not list((tmp_path / ".mlinfra" / "state").glob("preview-b.*"))


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


def test_previews_in_s3_are_listed_and_removed(s3) -> None:
    backend = backend_for("s3://team-state/ml/shop", ".", client=s3)
    write_states(backend)
    assert [p.env for p in list_previews(backend, "shop")[0]] == ["preview-a", "preview-b"]
    remove_state(backend, "preview-a")
    assert [p.env for p in list_previews(backend, "shop")[0]] == ["preview-b"]
