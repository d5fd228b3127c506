"""The emulator's own access key and secret: made at its first start, kept beside its state.

`.mlinfra/emulator/credentials.json` holds `{"format": 1, "access_key_id", "secret_access_key"}`.
It is readable by its owner only (mode 0600) from the moment it exists: it is written to a
private temporary file and hard-linked into place, which also means two emulators starting at
once cannot overwrite each other's secret. It is reused across restarts, so a shell that ran
`eval "$(mlinfra emulator env)"` stays valid; deleting it makes the next start generate a new
pair (and invalidates every copy of the old one).

The secret is what lets a process drive the emulator (run pipeline code, read features), so a
file that other users can read, or that belongs to someone else, is refused rather than used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FORMAT_VERSION = 1
CREDENTIALS_FILE = "credentials.json"
# What requests are signed for: every service the emulator speaks has SageMaker's signing name
# (`signingName` in botocore's models of sagemaker, sagemaker-runtime and
# sagemaker-featurestore-runtime); the region is the client's, and only names ARNs.
SIGNING_NAME = "sagemaker"
DEFAULT_REGION = "us-east-1"
# Shaped like AWS's own keys (20 upper-case characters; a 40-character secret), so tools that
# check the look of a key accept them; the prefix says whose key it is.
KEY_PREFIX = "MLI"
KEY_LENGTH = 20
SECRET_LENGTH = 40
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(r"[A-Z0-9]{16,128}")
_SECRET_PATTERN = re.compile(r"[A-Za-z0-9/+=_-]{16,128}")


class CredentialsError(Exception):
    """The credentials file is missing, unreadable, malformed or open to other users."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)  # never in a log line or a traceback


def path_of(state_dir: Path) -> Path:
    return Path(state_dir) / CREDENTIALS_FILE


def generate() -> Credentials:
    key = KEY_PREFIX + "".join(
        secrets.choice(_KEY_ALPHABET) for _ in range(KEY_LENGTH - len(KEY_PREFIX))
    )
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return Credentials(key, secret)


def load(state_dir: Path) -> Credentials:
    """The emulator's credentials; CredentialsError says what is wrong and what to do."""
    path = path_of(state_dir)
    try:
        with open(path, "rb") as handle:
            _check_private(path, os.fstat(handle.fileno()))
            data = json.loads(handle.read())
    except FileNotFoundError:
        raise CredentialsError(
            f"{path} does not exist: the emulator makes it when it starts "
            "(`mlinfra emulator start`)"
        ) from None
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read {path}: {_reason(exc)}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        found = data.get("format") if isinstance(data, dict) else None
        raise CredentialsError(
            f"{path} has format {found!r}, not {FORMAT_VERSION}: delete it and restart the "
            "emulator to make new credentials"
        )
    key, secret = data.get("access_key_id"), data.get("secret_access_key")
    if not (
        isinstance(key, str)
        and isinstance(secret, str)
        and _KEY_PATTERN.fullmatch(key)
        and _SECRET_PATTERN.fullmatch(secret)
    ):
        raise CredentialsError(
            f"{path} does not hold an access key id and a secret access key: delete it and "
            "restart the emulator to make new credentials"
        )
    return Credentials(key, secret)


def load_or_create(state_dir: Path) -> Credentials:
    """The credentials in `state_dir`, generated and stored first if there are none."""
    path = path_of(state_dir)
    if not path.exists():
        _create(path, generate())
    return load(state_dir)


def _create(path: Path, made: Credentials) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT_VERSION,
        "access_key_id": made.access_key_id,
        "secret_access_key": made.secret_access_key,
    }
    # mkstemp creates the file with mode 0600: the secret is never readable by others, not
    # even for an instant, whatever the umask.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".credentials.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces credentials someone else made
        except FileExistsError:
            pass  # another emulator made them first: use theirs
        except OSError:
            # A file system without hard links: create exclusively, still 0600 from the start.
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    json.dump(document, handle, indent=2)
                    handle.write("\n")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _check_private(path: Path, info: os.stat_result) -> None:
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CredentialsError(
            f"{path} belongs to another user (uid {info.st_uid}): delete it and restart the "
            "emulator to make credentials of your own"
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):04o}), so its "
            "secret may be known to them: delete it and restart the emulator to make new "
            f"credentials (or, if no one else could read it, `chmod 600 {path}`)"
        )


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)
