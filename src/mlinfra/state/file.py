"""State files on the local disk: `<dir>/<env>.json`, in the spec's `state:` folder.

Reading checks the file (JSON, schema, format version) and refuses a bad one with a message
that names it; nothing here ever overwrites a file it could not read. Writing is atomic (a
temporary file in the same folder, fsync, rename, fsync of the folder), refuses a state that
moved since it was read, and keeps the version it replaces as `<env>.json.backup`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

from mlinfra.state.lock import FileLock
from mlinfra.state.model import FORMAT_VERSION, State, StateError, loads

BACKUP_SUFFIX = ".backup"


class FileBackend:
    """The states of a project's environments in one local folder."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, env: str) -> Path:
        return self.directory / f"{env}.json"

    def describe(self, env: str) -> str:
        return str(self.path(env))

    def read(self, project: str, env: str) -> State:
        """The environment's state; an empty one when there is no file yet."""
        self._check_folder()
        return read_state(self.path(env), project, env)

    def write(self, state: State) -> State:
        """Write `state` as the next version of the one it was read as; returns what was written."""
        self._check_folder()
        return write_state(self.path(state.environment), state)

    def lock(self, env: str, command: str, timeout: float = 0.0) -> FileLock:
        self._check_folder()
        return FileLock(self.directory / f"{env}.lock", command, timeout)

    def _check_folder(self) -> None:
        """Refuse a location that is a file (`--state /dev/null`), or lies under one: the
        state is a folder of files, one per environment."""
        for place in (self.directory, *self.directory.parents):
            try:
                if place.is_dir():
                    return
                if place.exists():
                    break
            except OSError:  # e.g. a name too long for the file system: let reading say so
                return
        else:
            return
        raise StateError(
            f"{self.directory}: the state location must be a folder (or s3://BUCKET/PREFIX), "
            f"but {place} is a file"
        )


def read_state(path: Path, project: str, env: str) -> State:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return State.empty(project, env)
    except UnicodeDecodeError:
        raise StateError(
            f"{path}: the state file is not UTF-8 text (corrupt?); restore it from "
            f"{path}{BACKUP_SUFFIX} or from version control"
        ) from None
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state: {exc.strerror}") from None
    state = loads(text, str(path))
    if state.environment != env:
        raise StateError(
            f"{path}: holds the state of environment {state.environment!r}, not {env!r}; "
            "move it back where it belongs"
        )
    return state


def next_version(current: State | None, state: State, where: str) -> State:
    """`state` as the version after `current` (None: nothing written yet); refuses a state
    whose basis is not `current`, so a write never loses another writer's changes."""
    basis = (current.lineage, current.serial) if current else ("", 0)
    if (state.lineage, state.serial) != basis:
        raise StateError(
            f"{where}: the state changed since it was read (serial {state.serial} -> "
            f"{basis[1]}); plan again"
        )
    lineage = state.lineage or (current.lineage if current else "") or str(uuid.uuid4())
    # `replace` keeps whatever else the state carries (a preview's branch and expiry); a write
    # is always in the format this mlinfra writes.
    return replace(state, serial=state.serial + 1, lineage=lineage, format_version=FORMAT_VERSION)


def write_state(path: Path, state: State) -> State:
    current = read_state(path, state.project, state.environment) if path.exists() else None
    written = next_version(current, state, str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if current is not None:
            write_atomically(path.with_name(path.name + BACKUP_SUFFIX), path.read_bytes())
        write_atomically(path, written.dumps().encode("utf-8"))
    except OSError as exc:
        raise StateError(f"{path}: cannot write the state: {exc.strerror or exc}") from None
    return written


def write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (not on Windows).
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
