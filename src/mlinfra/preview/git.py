"""What previews ask git: the current branch, and which branches still exist.

Every question runs `git` in the spec's folder; a missing git, a folder outside a repository
or a detached HEAD is a `GitError` saying what to pass instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(Exception):
    """git cannot answer; the message says why and what to do instead."""


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        # An argument list, never a shell: branch names are the user's text.
        return subprocess.run(  # noqa: S603
            ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, as the user runs it
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {' '.join(args)} did not answer within 30 s") from None


def _in_repository(folder: Path) -> None:
    found = _git(folder, "rev-parse", "--is-inside-work-tree")
    if found.returncode != 0 or found.stdout.strip() != "true":
        raise GitError(f"{folder} is not in a git repository")


def current_branch(folder: Path) -> str:
    """The branch checked out in `folder`'s repository."""
    _in_repository(folder)
    found = _git(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    if found.returncode != 0 or not found.stdout.strip():
        raise GitError(f"HEAD is detached in {folder}: no branch is checked out")
    return found.stdout.strip()


def existing_branches(folder: Path) -> frozenset[str]:
    """Every branch name that exists locally or as a remote-tracking branch (`origin/x` -> `x`).

    Run `git fetch --prune` first for remote branches deleted on merge to disappear here.
    """
    _in_repository(folder)
    found = _git(
        folder,
        "for-each-ref",
        "--format=%(refname)",
        "refs/heads",
        "refs/remotes",
    )
    if found.returncode != 0:
        raise GitError(f"git cannot list the branches: {found.stderr.strip()}")
    names: set[str] = set()
    for ref in found.stdout.split():
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
    _in_repository(folder)
    for candidate in candidates:
        found = _git(folder, "merge-base", "HEAD", candidate)
        if found.returncode == 0 and found.stdout.strip():
            return candidate, found.stdout.strip()
    raise GitError(f"none of {', '.join(candidates)} shares history with HEAD in {folder}")
