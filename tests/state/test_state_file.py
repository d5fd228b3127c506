"""State files: round trip, atomic write with a backup, and bad files refused untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlinfra.spec.validate import validate_text
from mlinfra.state.backend import backend_for
from mlinfra.state.file import FileBackend
from mlinfra.state.model import FORMAT_VERSION, ResourceState, State, StateError


def entry(count: int = 1) -> ResourceState:
    return ResourceState(
        type="local.Endpoint",
        properties={"EndpointName": "e", "Count": count},
        inputs={"EndpointName": "e"},
        outputs={"arn": "arn:e"},
        dependencies=("endpoint.e/config",),
        source="mlinfra.yaml:3:5",
    )


def test_a_missing_state_is_empty(tmp_path: Path) -> None:
    state = FileBackend(tmp_path).read("churn", "dev")
    assert state.is_empty and state.serial == 0 and state.lineage == ""


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    state = backend.read("churn", "dev").with_resource("endpoint.e", entry())
    written = backend.write(state)
    assert written.serial == 1 and written.lineage
    again = backend.read("churn", "dev")
    assert again == written
    assert again.get("endpoint.e") == entry()


def test_each_write_adds_one_to_serial_and_keeps_the_lineage(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    first = backend.write(backend.read("churn", "dev").with_resource("a", entry()))
    second = backend.write(first.with_resource("b", entry(2)))
    assert (second.serial, second.lineage) == (2, first.lineage)
    assert list(backend.read("churn", "dev").resources) == ["a", "b"]


def test_a_write_keeps_the_previous_version_as_backup(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    first = backend.write(backend.read("churn", "dev").with_resource("a", entry()))
    before = backend.path("dev").read_bytes()
    backend.write(first.without("a"))
    assert (tmp_path / "dev.json.backup").read_bytes() == before
    assert backend.read("churn", "dev").is_empty


def test_a_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    first = backend.write(backend.read("churn", "dev").with_resource("a", entry()))
    backend.write(first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev.json", "dev.json.backup"]


def test_a_state_that_moved_since_it_was_read_is_not_written(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    stale = backend.read("churn", "dev")
    backend.write(stale.with_resource("a", entry()))
    with pytest.raises(StateError, match="changed since it was read"):
        backend.write(stale.with_resource("b", entry()))
    assert list(backend.read("churn", "dev").resources) == ["a"]


def written_file(tmp_path: Path) -> Path:
    backend = FileBackend(tmp_path)
    backend.write(backend.read("churn", "dev").with_resource("a", entry()))
    return backend.path("dev")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "", "empty"),
        (lambda text: "\x00\x01garbage", "not valid JSON"),
        (lambda text: "[1, 2]", "not a valid mlinfra state"),
        (lambda text: text.replace('"serial": 1', '"serial": "one"'), "serial"),
        (
            lambda text: text.replace(
                f'"format_version": {FORMAT_VERSION}', f'"format_version": {FORMAT_VERSION + 1}'
            ),
            "newer than this mlinfra reads",
        ),
    ],
    ids=["truncated", "empty", "binary", "not-an-object", "wrong-type", "newer-version"],
)
def test_a_bad_state_is_refused_naming_the_file_and_is_never_overwritten(
    tmp_path: Path, damage, message: str
) -> None:
    path = written_file(tmp_path)
    path.write_text(damage(path.read_text()))
    before = path.read_bytes()
    backend = FileBackend(tmp_path)
    with pytest.raises(StateError, match=message) as caught:
        backend.read("churn", "dev")
    assert str(path) in str(caught.value)
    with pytest.raises(StateError):
        backend.write(State.empty("churn", "dev").with_resource("b", entry()))
    assert path.read_bytes() == before


def test_a_state_of_another_environment_is_refused(tmp_path: Path) -> None:
    path = written_file(tmp_path)
    (tmp_path / "prod.json").write_text(path.read_text())
    with pytest.raises(StateError, match="environment 'dev', not 'prod'"):
        FileBackend(tmp_path).read("churn", "prod")


def test_the_written_file_matches_the_schema(tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator

    from mlinfra.state.documents import first_error, validator

    data = json.loads(written_file(tmp_path).read_text())
    Draft202012Validator.check_schema(validator("state.schema.json").schema)
    assert first_error(data, "state.schema.json") is None


def test_the_default_location_is_beside_the_spec(tmp_path: Path) -> None:
    spec = validate_text("version: 1\nproject: p\nenvironments: {dev: {target: local}}\n")
    backend = backend_for(spec.environments["dev"].state, tmp_path)  # the schema's default
    assert backend.describe("dev") == str(tmp_path / ".mlinfra" / "state" / "dev.json")
    assert backend_for("s3://bucket/team/churn", tmp_path).describe("dev") == (
        "s3://bucket/team/churn/dev.json"
    )


def test_reading_and_writing_again_gives_the_same_bytes(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    state = backend.read("churn", "dev")
    for index, address in enumerate(["b", "a", "c/x", "c"]):  # recorded order, not sorted
        state = backend.write(state.with_resource(address, entry(index)))
    text = backend.path("dev").read_text()
    again = backend.read("churn", "dev")
    assert list(again.resources) == ["b", "a", "c/x", "c"]
    assert again.dumps() == text
