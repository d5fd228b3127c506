"""`paths.confine`: a location becomes a path only inside the project or the state folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots, child, confine, within


@pytest.fixture()
def roots(tmp_path: Path) -> Roots:
    project = tmp_path / "project"
    state = tmp_path / "state"  # a state folder of its own, as EmulatorServer allows
    (project / "data").mkdir(parents=True)
    state.mkdir()
    (tmp_path / "outside").mkdir()
    return Roots(project, state)


def test_relative_locations_are_in_the_project_folder(roots):
    assert confine(roots.project, roots.state, "file:data/x.csv") == roots.project / "data/x.csv"
    assert confine(roots.project, roots.state, "data/x.csv") == roots.project / "data/x.csv"


def test_absolute_locations_inside_either_root_are_allowed(roots):
    inside = roots.state / "capture"
    assert confine(roots.project, roots.state, f"file://{inside}") == inside
    assert roots.confine(str(roots.project / "data")) == roots.project / "data"


@pytest.mark.parametrize("location", ["s3://bucket/key", "https://host/x", ""])
def test_what_is_not_local_is_said_so(roots, location):
    with pytest.raises(NotLocal):
        roots.confine(location)


def test_outside_both_roots_is_refused_naming_them(roots, tmp_path):
    with pytest.raises(PathRefused) as excinfo:
        roots.confine(f"file://{tmp_path}/outside/x")
    assert str(roots.project) in excinfo.value.message
    assert str(roots.state) in excinfo.value.message
    assert "Copy the file into the project folder" in excinfo.value.message


@pytest.mark.parametrize("location", ["../outside", "data/../../outside/x", "file:../outside"])
def test_dot_dot_out_of_the_project_is_refused(roots, location):
    with pytest.raises(PathRefused):
        roots.confine(location)


def test_a_symlink_that_resolves_out_is_refused_and_says_where_it_goes(roots, tmp_path):
    (roots.project / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(PathRefused) as excinfo:
        roots.confine("link/file.csv")
    assert f"resolves to {tmp_path / 'outside' / 'file.csv'}" in excinfo.value.message


def test_a_symlink_from_the_project_into_the_state_folder_is_fine(roots):
    (roots.project / "state-link").symlink_to(roots.state, target_is_directory=True)
    assert roots.confine("state-link/x") == roots.state / "x"


def test_a_path_with_a_nul_byte_is_refused(roots):
    with pytest.raises(PathRefused):
        roots.confine("data/x\0.csv")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../a", "a\\b", "/abs", "a\0b"])
def test_a_child_name_must_be_one_plain_component(tmp_path, name):
    with pytest.raises(PathRefused):
        child(tmp_path, name, "step")


def test_within_follows_links(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").symlink_to("/etc/hostname")
    with pytest.raises(PathRefused):
        within(tmp_path / "code", tmp_path / "code" / "train.py", "program")
    assert within(tmp_path / "code", tmp_path / "code" / "x.py", "p") == tmp_path / "code/x.py"


PIECES = st.sampled_from(["..", ".", "data", "x.csv", "", "link", "%2e%2e", "..%2F", "~"])


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(PIECES, min_size=1, max_size=6),
    scheme=st.sampled_from(["", "file:", "file://"]),
    absolute=st.booleans(),
)
def test_whatever_confine_accepts_is_inside_a_root(roots, tmp_path, parts, scheme, absolute):
    link = roots.project / "link"
    if not link.is_symlink():
        link.symlink_to(tmp_path / "outside", target_is_directory=True)
    text = "/".join(parts)
    if absolute or scheme == "file://":
        text = f"{roots.project}/{text}"
    try:
        found = confine(roots.project, roots.state, scheme + text)
    except (NotLocal, PathRefused):
        return
    real = Path(os.path.realpath(found))
    assert real.is_relative_to(roots.project.resolve()) or real.is_relative_to(
        roots.state.resolve()
    )
