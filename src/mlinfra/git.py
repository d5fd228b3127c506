"""The one way mlinfra asks git: which branch is checked out, which branches exist, where a
branch forked, and what a file or a folder was at a revision.

Previews ask it for the branch they are for and what the branch changed; the compliance diff
for the spec at two revisions. Every question runs `git -C FOLDER ...` with an argument list,
never a shell: revisions, branch names and paths are the user's text. A missing git, a folder
outside a repository or an unknown revision is a `GitError` saying so; callers put it in
their own words ("comparing revisions needs ...").
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Long enough for `git archive` of a large spec folder; git answers the rest at once.
TIMEOUT_SECONDS = 120


class GitError(Exception):
    """git cannot answer; the message says why. `detail` is git's own first line, if any."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class GitMissing(GitError):
    """No `git` on PATH."""

    def __init__(self) -> None:
        super().__init__("git is not installed (or not on PATH)")


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`git -C folder ARGS...`, its output as bytes; a non-zero exit is the caller's to read."""
    try:
        return subprocess.run(  # noqa: S603 - an argument list: the user's text stays data
            ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, as the user runs it
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise GitMissing() from None
    except subprocess.TimeoutExpired:
        raise GitError(
            f"git {args[0]} did not answer within {TIMEOUT_SECONDS} s in {folder}"
        ) from None


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").strip()


def _first_line(data: bytes) -> str | None:
    lines = _text(data).splitlines()
    return lines[0] if lines else None


# --- branches -------------------------------------------------------------------------------


def current_branch(folder: Path) -> str:
    """The branch checked out in `folder`'s repository."""
    Repository.around(folder)
    found = run(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    if found.returncode != 0 or not _text(found.stdout):
        raise GitError(f"HEAD is detached in {folder}: no branch is checked out")
    return _text(found.stdout)


def existing_branches(folder: Path) -> frozenset[str]:
    """Every branch name that exists locally or as a remote-tracking branch (`origin/x` -> `x`).

    Run `git fetch --prune` first for remote branches deleted on merge to disappear here.
    """
    Repository.around(folder)
    found = run(folder, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")
    if found.returncode != 0:
        raise GitError(f"git cannot list the branches: {_text(found.stderr)}")
    names: set[str] = set()
    for ref in _text(found.stdout).split():
        if ref.startswith("refs/heads/"):
            names.add(ref[len("refs/heads/") :])
        elif ref.startswith("refs/remotes/"):
            _, _, name = ref[len("refs/remotes/") :].partition("/")
            if name and name != "HEAD":
                names.add(name)
    return frozenset(names)


# Where a branch most likely forked from, when no revision is given: the remote's default
# branch first, then the usual local names.
DEFAULT_UPSTREAMS = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


def merge_base(folder: Path, candidates: tuple[str, ...] = DEFAULT_UPSTREAMS) -> tuple[str, str]:
    """The first of `candidates` that exists, and the commit where HEAD forked from it."""
    Repository.around(folder)
    for candidate in candidates:
        found = run(folder, "merge-base", "HEAD", candidate)
        if found.returncode == 0 and _text(found.stdout):
            return candidate, _text(found.stdout)
    raise GitError(f"none of {', '.join(candidates)} shares history with HEAD in {folder}")


# --- files at a revision --------------------------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """The git repository around a folder; paths given to it are relative to its root."""

    root: Path

    @classmethod
    def around(cls, folder: Path) -> Repository:
        found = run(folder, "rev-parse", "--show-toplevel")
        if found.returncode != 0:
            raise GitError(f"{folder} is not in a git repository", _first_line(found.stderr))
        return cls(Path(_text(found.stdout)).resolve())

    def path_of(self, path: Path) -> PurePosixPath:
        """`path` relative to the root; a ValueError when it is outside the repository."""
        return PurePosixPath(path.resolve().relative_to(self.root).as_posix())

    def commit(self, revision: str) -> str:
        """The commit `revision` names (a branch, a tag, `HEAD~1`, a hash)."""
        # A revision starting with "-" would be read as an option.
        if not revision or revision.startswith("-"):
            raise GitError(f"{revision!r} is not a git revision")
        found = run(self.root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        if found.returncode != 0:
            raise GitError(f"unknown git revision {revision!r} in {self.root}")
        return _text(found.stdout)

    def origin(self) -> str | None:
        """Where the repository was cloned from (`remote.origin.url`), if it names one."""
        found = run(self.root, "config", "--get", "remote.origin.url")
        return _text(found.stdout) or None if found.returncode == 0 else None

    def is_file_at(self, revision: str, path: PurePosixPath) -> bool:
        """Whether `path` is a file (not a folder) at `revision`."""
        kind = run(self.root, "cat-file", "-t", f"{revision}:{path}")
        return kind.returncode == 0 and _text(kind.stdout) == "blob"

    def read_at(self, revision: str, path: PurePosixPath) -> bytes | None:
        """The content of file `path` at `revision`; None when it has none there."""
        shown = run(self.root, "show", f"{revision}:{path}")
        return shown.stdout if shown.returncode == 0 else None

    def archive(self, revision: str, folder: PurePosixPath) -> bytes:
        """Folder `folder` at `revision` as a tar archive (paths relative to the root)."""
        # Run at the root: `git archive` run from a subfolder archives only that subfolder.
        pathspec = [] if str(folder) == "." else ["--", str(folder)]
        found = run(self.root, "archive", "--format=tar", revision, *pathspec)
        if found.returncode != 0:
            why = _text(found.stderr)
            raise GitError(f"cannot read {folder} at revision {revision}: {why}", why)
        return found.stdout

    def file_id(self, path: PurePosixPath) -> str | None:
        """The blob id of working-tree file `path` (as `git hash-object`), None if unreadable."""
        found = run(self.root, "hash-object", "--", str(path))
        return _text(found.stdout) if found.returncode == 0 else None

    def file_id_at(self, revision: str, path: PurePosixPath) -> str | None:
        """The blob id of file `path` at `revision`; None when it is no file there."""
        found = run(self.root, "ls-tree", revision, "--", str(path))
        fields = _text(found.stdout).split(None, 3) if found.returncode == 0 else []
        # Blobs only: a folder of the same name is no file.
        return fields[2] if len(fields) == 4 and fields[1] == "blob" else None
