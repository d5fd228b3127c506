"""State in S3, for teams: `s3://bucket/prefix` holds `<prefix>/<env>.json` and its lock.

S3 has no rename, but a PUT replaces an object atomically, and conditional requests make the
rest safe: the lock `<prefix>/<env>.lock` is created with `If-None-Match: *` (the PUT fails
when it exists), a state is written with `If-Match: <etag it was read with>` (it fails when
someone wrote in between), and a lock is removed with `If-Match` too, so only its holder's
version goes. The version a write replaces is copied to `<env>.json.backup` first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from mlinfra.state.file import BACKUP_SUFFIX, next_version
from mlinfra.state.lock import Lock, LockError, LockInfo
from mlinfra.state.model import State, StateError, loads

SCHEME = "s3://"
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def parse_location(location: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    rest = location[len(SCHEME) :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StateError(f"{location}: no bucket named; write s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _attempt(request: Callable[[], Any], failure: Callable[[str], Exception], passing=()) -> Any:
    """`request()`; an S3 error whose code is in `passing` is returned, not raised; any other
    is raised as `failure(reason)`, never as a botocore traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return request()
    except ClientError as exc:
        if _code(exc) in passing:
            return exc
        raise failure(str(exc)) from None
    except BotoCoreError as exc:
        raise failure(str(exc)) from None


class S3Backend:
    def __init__(self, location: str, client: Any = None, region: str | None = None) -> None:
        self.bucket, self.prefix = parse_location(location)
        self._client = client
        self._region = region
        self._etags: dict[str, str | None] = {}  # env -> ETag of the version last read

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3", region_name=self._region)
        return self._client

    def key(self, env: str, suffix: str = ".json") -> str:
        name = f"{env}{suffix}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def describe(self, env: str) -> str:
        return f"{SCHEME}{self.bucket}/{self.key(env)}"

    def _get(self, key: str) -> dict[str, Any] | None:
        found = _attempt(
            lambda: self.client.get_object(Bucket=self.bucket, Key=key),
            lambda why: StateError(f"{SCHEME}{self.bucket}/{key}: cannot read: {why}"),
            MISSING_CODES,
        )
        return None if isinstance(found, Exception) else found

    def read(self, project: str, env: str) -> State:
        where = self.describe(env)
        found = self._get(self.key(env))
        if found is None:
            self._etags[env] = None
            return State.empty(project, env)
        body = found["Body"].read()
        self._etags[env] = found.get("ETag")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise StateError(f"{where}: the state is not UTF-8 text (corrupt?)") from None
        state = loads(text, where)
        if state.environment != env:
            raise StateError(f"{where}: holds the state of environment {state.environment!r}")
        return state

    def write(self, state: State) -> State:
        env = state.environment
        where = self.describe(env)
        if env not in self._etags:
            self.read(state.project, env)
        etag = self._etags[env]
        current = None
        if etag is not None:
            found = self._get(self.key(env))
            current = loads(found["Body"].read().decode("utf-8"), where) if found else None
        written = next_version(current, state, where)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}

        def failed(why: str) -> StateError:
            return StateError(f"{where}: cannot write the state: {why}")

        if etag:
            _attempt(
                lambda: self.client.copy_object(
                    Bucket=self.bucket,
                    Key=self.key(env, ".json" + BACKUP_SUFFIX),
                    CopySource={"Bucket": self.bucket, "Key": self.key(env)},
                ),
                failed,
            )
        answer = _attempt(
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(env),
                Body=written.dumps().encode("utf-8"),
                ContentType="application/json",
                **condition,
            ),
            failed,
            CONFLICT_CODES,
        )
        if isinstance(answer, Exception):
            raise StateError(f"{where}: the state changed since it was read; plan again")
        self._etags[env] = answer.get("ETag")
        return written

    def lock(self, env: str, command: str, timeout: float = 0.0) -> S3Lock:
        return S3Lock(self, self.key(env, ".lock"), command, timeout)


class S3Lock(Lock):
    """`<prefix>/<env>.lock`, created with a conditional write (`If-None-Match: *`)."""

    def __init__(self, backend: S3Backend, key: str, command: str, timeout: float) -> None:
        super().__init__(f"{SCHEME}{backend.bucket}/{key}", command, timeout)
        self.backend = backend
        self.key = key

    def _create(self, info: LockInfo) -> bool:
        answer = _attempt(
            lambda: self.backend.client.put_object(
                Bucket=self.backend.bucket,
                Key=self.key,
                Body=json.dumps(info.to_json()).encode("utf-8"),
                ContentType="application/json",
                IfNoneMatch="*",
            ),
            lambda why: LockError(f"{self.where}: cannot create the lock: {why}"),
            CONFLICT_CODES,
        )
        return not isinstance(answer, Exception)

    def _fetch(self) -> tuple[LockInfo | None, str, float | None] | None:
        try:
            found = self.backend._get(self.key)
        except StateError as exc:
            raise LockError(str(exc)) from None
        if found is None:
            return None
        modified = found.get("LastModified")
        age = time.time() - modified.timestamp() if modified else None
        try:
            holder = LockInfo.from_json(json.loads(found["Body"].read()))
        except (ValueError, UnicodeDecodeError, RecursionError):
            holder = None
        return holder, found.get("ETag", ""), age

    def _read(self) -> tuple[bool, LockInfo | None, float | None]:
        found = self._fetch()
        if found is None:
            return False, None, None
        return True, found[0], found[2]

    def _remove(self, holder: LockInfo | None) -> bool:
        found = self._fetch()
        if found is None or found[0] != holder:
            return False
        answer = _attempt(
            lambda: self.backend.client.delete_object(
                Bucket=self.backend.bucket, Key=self.key, IfMatch=found[1]
            ),
            lambda why: LockError(f"{self.where}: cannot remove the lock: {why}"),
            CONFLICT_CODES | MISSING_CODES,
        )
        return not isinstance(answer, Exception)
