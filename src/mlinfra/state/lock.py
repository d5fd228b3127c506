"""One writer per environment: a lock beside the state, created only if it does not exist.

The lock holds who took it (process id, host, since when, command), so a second writer fails
at once with `LockHeld` naming the holder, or waits up to `timeout` seconds for it. A lock
whose holder is gone (same host, process no longer alive) is stale: the next locker takes
it over and says so (`Lock.taken_over`).

`Lock` has the logic; a backend supplies three primitives: create the lock only if absent
(`O_EXCL` on disk, a conditional write in S3), read it, and remove it only if it is still a
given holder's. `FileLock` is the one for local state files.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.1
# A lock file left empty or unreadable (its creator died between creating and writing it)
# is taken as stale once it is this old.
UNREADABLE_STALE_SECONDS = 5.0
# Process ids are C `pid_t`s, 32-bit signed integers on every system Python runs on.
MAX_PID = 2**31 - 1


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock."""

    pid: int
    host: str
    since: str  # ISO 8601, UTC
    command: str
    id: str  # this holding's token: only its holder removes it

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "host": self.host,
            "since": self.since,
            "command": self.command,
            "id": self.id,
        }

    @classmethod
    def from_json(cls, data: Any) -> LockInfo | None:
        """The holder a lock records, or None when it is unreadable (a pid that is not a
        whole number of the size process ids have)."""
        try:
            pid = data["pid"]
            if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
                return None
            return cls(
                pid,
                str(data["host"]),
                str(data["since"]),
                str(data.get("command", "")),
                str(data["id"]),
            )
        except (TypeError, KeyError, ValueError):
            return None

    @classmethod
    def mine(cls, command: str) -> LockInfo:
        since = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), since, command, uuid.uuid4().hex)

    def describe(self) -> str:
        what = f"`{self.command}` " if self.command else ""
        return f"{what}(process {self.pid} on {self.host}, since {self.since})"


class LockError(Exception):
    """The lock could not be taken or released for a reason other than another holder."""


class LockHeld(LockError):
    """Another writer holds the lock."""

    def __init__(self, where: str, holder: LockInfo | None, waited: float) -> None:
        self.where = where
        self.holder = holder
        held_by = holder.describe() if holder else "an unknown holder (the lock is unreadable)"
        waited_text = f" after waiting {waited:g}s" if waited else ""
        super().__init__(
            f"the state is locked by {held_by}{waited_text}: {where}. Wait for it to finish "
            "(--lock-timeout 30s waits), or, if that process is gone for good, remove "
            "the lock"
        )


def pid_alive(pid: int) -> bool:
    if not 0 < pid <= MAX_PID:  # os.kill takes a C int; no process has a larger id
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    # A zombie has exited, only its parent has not collected it yet.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def is_stale(holder: LockInfo) -> bool:
    """Held by a process of this host that is no longer alive. A process on another host
    cannot be checked, so its lock is never stale here."""
    return holder.host == socket.gethostname() and not pid_alive(holder.pid)


class Lock(abc.ABC):
    """Taken with `acquire()` or `with`; released by `release()` or leaving the block.

    The backends (a file beside the state, an object in S3) supply the three primitives."""

    def __init__(self, where: str, command: str, timeout: float = 0.0) -> None:
        self.where = where
        self.command = command
        self.timeout = max(0.0, float(timeout))
        self.info: LockInfo | None = None
        self.taken_over: LockInfo | None = None  # the stale holder replaced, if any

    # --- what a backend supplies -------------------------------------------------------------

    @abc.abstractmethod
    def _create(self, info: LockInfo) -> bool:
        """Create the lock holding `info`; False when it already exists."""

    @abc.abstractmethod
    def _read(self) -> tuple[bool, LockInfo | None, float | None]:
        """(exists, holder or None when unreadable, age in seconds when known)."""

    @abc.abstractmethod
    def _remove(self, holder: LockInfo | None) -> bool:
        """Remove the lock if it is still `holder`'s (None: still unreadable)."""

    # --- the logic ----------------------------------------------------------------------------

    def acquire(self) -> LockInfo:
        info = LockInfo.mine(self.command)
        started = time.monotonic()
        while True:
            if self._create(info):
                self.info = info
                return info
            exists, holder, age = self._read()
            if not exists:
                continue  # released in between: try again at once
            if self._stale(holder, age):
                if self._remove(holder):
                    self.taken_over = holder or LockInfo(0, "?", "?", "", "")
                continue  # removed by us or by another taker: try again
            waited = time.monotonic() - started
            if waited >= self.timeout:
                raise LockHeld(self.where, holder, round(waited, 1) if self.timeout else 0)
            time.sleep(min(POLL_SECONDS, self.timeout - waited))

    def release(self) -> None:
        if self.info is not None:
            self._remove(self.info)
            self.info = None

    def _stale(self, holder: LockInfo | None, age: float | None) -> bool:
        if holder is None:
            return age is not None and age > UNREADABLE_STALE_SECONDS
        return is_stale(holder)

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class FileLock(Lock):
    """`<env>.lock` beside the state file, created with `O_EXCL`."""

    def __init__(self, path: str | Path, command: str, timeout: float = 0.0) -> None:
        super().__init__(str(path), command, timeout)
        self.path = Path(path)

    def _create(self, info: LockInfo) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if self.path.parent.is_dir():
                return False  # the lock itself exists: held
            raise LockError(f"{self.path}: cannot create the lock: its folder is a file") from None
        except OSError as exc:
            raise LockError(f"{self.path}: cannot create the lock: {exc.strerror}") from None
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(info.to_json()) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return True

    def _read(self) -> tuple[bool, LockInfo | None, float | None]:
        try:
            age = time.time() - self.path.stat().st_mtime
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return False, None, None
        except (OSError, UnicodeDecodeError):
            return True, None, None
        try:
            return True, LockInfo.from_json(json.loads(text)), age
        except (json.JSONDecodeError, RecursionError):
            return True, None, age

    def _remove(self, holder: LockInfo | None) -> bool:
        # Removing is read-compare-unlink; a second remover between the two would delete a
        # fresh lock, so removers take turns through a short-lived `.break` file.
        breaker = self.path.with_name(self.path.name + ".break")
        if not self._take_breaker(breaker):
            return False
        try:
            exists, current, _ = self._read()
            if not exists or current != holder:
                return False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                breaker.unlink()

    def _take_breaker(self, breaker: Path) -> bool:
        deadline = time.monotonic() + UNREADABLE_STALE_SECONDS * 2
        while time.monotonic() < deadline:
            try:
                os.close(os.open(breaker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                return True
            except FileExistsError:
                pass
            # Held for microseconds: one older than this belongs to a dead remover.
            with contextlib.suppress(FileNotFoundError):
                if time.time() - breaker.stat().st_mtime > UNREADABLE_STALE_SECONDS:
                    breaker.unlink()
            time.sleep(0.005)
        return False
