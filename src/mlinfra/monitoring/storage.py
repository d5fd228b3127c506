"""Where the monitor job reads and writes: an S3 prefix, or a local folder standing in for one.

On SageMaker every location is an `s3://bucket/prefix/` and the job talks to S3 itself (it
reads only the hours of capture its window needs, which no ProcessingInput can select). The
same code runs on local folders, for the benchmarks and for tests that need no S3 at all.
Objects the job writes are encrypted with the KMS key it is given (SSE-KMS), never left to
the bucket's default alone.

A location is a prefix: `child("reports/")` is the prefix below it, `read("x.json")` the
object `x.json` in it. Errors are `MonitoringError`s naming the object and what S3 said, so
the job's last line on stderr says what went wrong.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from mlinfra.monitoring import MonitoringError

S3_SCHEME = "s3://"


def location(text: str, *, kms_key_id: str | None = None, s3: Any = None) -> Location:
    """The location `text` names: `s3://bucket/prefix` or a local folder."""
    if text.startswith(S3_SCHEME):
        bucket, _, prefix = text[len(S3_SCHEME) :].partition("/")
        if not bucket:
            raise MonitoringError(f"{text} names no bucket")
        return S3Location(bucket, _as_prefix(prefix), kms_key_id, s3)
    return FolderLocation(Path(text))


def _as_prefix(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class Location(Protocol):
    """A prefix under which the job lists, reads and writes objects by relative key."""

    def child(self, relative: str) -> Location:
        """The prefix `relative` below this one."""
        ...

    def keys(self, start_after: str = "", until: str | None = None) -> Iterator[str]:
        """The relative keys below this prefix, in key order, after `start_after` and up to
        `until` (inclusive, compared as text), so a time-ordered layout reads one window."""
        ...

    def folders(self) -> list[str]:
        """The names of the folders directly below this prefix (`AllTraffic`)."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        ...

    def version(self, key: str) -> str | None:
        """What changes when the object does (its ETag), or None when it does not exist."""
        ...

    def download(self, key: str, path: Path) -> None:
        """Copies the object to the local file `path`."""
        ...

    def write(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        """Writes the object (encrypted with the job's KMS key on S3)."""
        ...

    def uri(self, key: str = "") -> str:
        """Where the object is, as the user would write it (`s3://...` or a path)."""
        ...


class FolderLocation:
    def __init__(self, root: Path) -> None:
        self.root = root

    def child(self, relative: str) -> Location:
        return FolderLocation(self.root / relative)

    def keys(self, start_after: str = "", until: str | None = None) -> Iterator[str]:
        if not self.root.is_dir():
            return
        found = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*"))
        for key in found:
            if key > start_after and (until is None or key <= until):
                if (self.root / key).is_file():
                    yield key

    def folders(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise MonitoringError(f"cannot read {self.root / key}: {error.strerror}") from None

    def version(self, key: str) -> str | None:
        path = self.root / key
        if not path.is_file():
            return None
        stat = path.stat()
        return f"{stat.st_size}-{stat.st_mtime_ns}"

    def download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(self.root / key, path)
        except OSError as error:
            raise MonitoringError(f"cannot read {self.root / key}: {error.strerror}") from None

    def write(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)

    def uri(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)


class S3Location:
    def __init__(self, bucket: str, prefix: str, kms_key_id: str | None, s3: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.kms_key_id = kms_key_id
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3  # only on S3: the local folders need no AWS SDK

            self._s3 = boto3.client("s3")
        return self._s3

    def child(self, relative: str) -> Location:
        return S3Location(
            self.bucket, _as_prefix(self.prefix + relative), self.kms_key_id, self._s3
        )

    def keys(self, start_after: str = "", until: str | None = None) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        after = {"StartAfter": self.prefix + start_after} if start_after else {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, **after
        )
        try:
            # Pages are fetched as they are read: a window stops the listing at its end.
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.prefix) :]
                    if until is not None and key > until:
                        return  # keys come in order: nothing later is in the window
                    if key and not key.endswith("/"):
                        yield key
        except (BotoCoreError, ClientError) as error:
            raise self._error("list", self.prefix, error) from None

    def folders(self) -> list[str]:
        def listing() -> list[str]:
            found = []
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", ()):
                    found.append(common["Prefix"][len(self.prefix) :].rstrip("/"))
            return sorted(found)

        return self._call("list", self.prefix, listing)

    def read(self, key: str) -> bytes | None:
        full = self.prefix + key

        def get() -> bytes | None:
            # Listed first: the job's role may list only its own prefix, and for a missing
            # object S3 answers GetObject with 403, not 404, to whoever may not list it.
            listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=full, MaxKeys=1)
            found = listed.get("Contents") or []
            if not found or found[0]["Key"] != full:
                return None
            return self.s3.get_object(Bucket=self.bucket, Key=full)["Body"].read()

        return self._call("read", full, get)

    def version(self, key: str) -> str | None:
        def head() -> str | None:
            from botocore.exceptions import ClientError

            try:
                return self.s3.head_object(Bucket=self.bucket, Key=self.prefix + key)["ETag"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

        return self._call("read", self.prefix + key, head)

    def download(self, key: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._call(
            "read",
            self.prefix + key,
            lambda: self.s3.download_file(self.bucket, self.prefix + key, str(path)),
        )

    def write(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        extra: dict[str, str] = {}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        self._call(
            "write",
            self.prefix + key,
            lambda: self.s3.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType=content_type,
                **extra,
            ),
        )

    def uri(self, key: str = "") -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}{key}"

    def _call(self, verb: str, key: str, action: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except (BotoCoreError, ClientError) as error:
            raise self._error(verb, key, error) from None

    def _error(self, verb: str, key: str, error: Exception) -> MonitoringError:
        where = f"cannot {verb} s3://{self.bucket}/{key}"
        response = getattr(error, "response", None)
        if not isinstance(response, dict):
            return MonitoringError(f"{where}: {error}")
        detail = response.get("Error", {})
        message = detail.get("Message") or ""
        return MonitoringError(
            f"{where}: {detail.get('Code', 'error')}" + (f" ({message})" if message else "")
        )
