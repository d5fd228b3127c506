"""The git adapter: branches, where a branch forked, and files and folders at a revision."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from mlinfra.git import (
    GitError,
    Repository,
    current_branch,
    existing_branches,
    merge_base,
)


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """`main` with two commits (`specs/a.yaml` changed by the second), `feat/x` checked out."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text("one\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "specs" / "a.yaml").write_text("two\n")
    git(tmp_path, "commit", "-qam", "two")
    git(tmp_path, "checkout", "-qb", "feat/x")
    return tmp_path


def test_the_branch_checked_out_and_the_branches_that_exist(repo: Path) -> None:
    assert current_branch(repo / "specs") == "feat/x"
    assert existing_branches(repo) == {"main", "feat/x"}


def test_a_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(GitError, match="HEAD is detached"):
        current_branch(repo)


def test_a_folder_outside_a_repository_says_so(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="is not in a git repository") as raised:
        Repository.around(tmp_path)
    assert raised.value.detail  # git's own words, for callers that show them
    with pytest.raises(GitError, match="is not in a git repository"):
        current_branch(tmp_path)


def test_the_merge_base_is_where_the_branch_forked_from_the_first_upstream_found(
    repo: Path,
) -> None:
    (repo / "specs" / "a.yaml").write_text("three\n")
    git(repo, "commit", "-qam", "three")
    upstream, commit = merge_base(repo)
    assert upstream == "main" and commit == git(repo, "rev-parse", "main")
    with pytest.raises(GitError, match="shares history with HEAD"):
        merge_base(repo, ("nope",))


def test_files_and_folders_are_read_at_a_revision(repo: Path) -> None:
    repository = Repository.around(repo / "specs")
    assert repository.root == repo.resolve()
    path = repository.path_of(repo / "specs" / "a.yaml")
    assert path == PurePosixPath("specs/a.yaml")
    first = repository.commit("main~1")
    assert repository.read_at(first, path) == b"one\n"
    assert repository.read_at(first, PurePosixPath("specs/none.yaml")) is None
    assert repository.is_file_at(first, path)
    assert not repository.is_file_at(first, PurePosixPath("specs"))
    with tarfile.open(fileobj=io.BytesIO(repository.archive(first, path.parent))) as tar:
        assert tar.extractfile("specs/a.yaml").read() == b"one\n"
    assert repository.file_id_at("main~1", path) != repository.file_id_at("main", path)
    (repo / "specs" / "a.yaml").write_text("one\n")
    assert repository.file_id(path) == repository.file_id_at("main~1", path)


def test_a_revision_is_resolved_or_refused(repo: Path) -> None:
    repository = Repository.around(repo)
    assert repository.commit("HEAD") == git(repo, "rev-parse", "HEAD")
    with pytest.raises(GitError, match="unknown git revision 'v9'"):
        repository.commit("v9")
    # A revision that looks like an option would be read as one.
    with pytest.raises(GitError, match="is not a git revision"):
        repository.commit("--output=/tmp/x")
