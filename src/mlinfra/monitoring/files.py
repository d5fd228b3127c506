"""The JSON files the monitoring jobs read and write, with errors that name the file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlinfra.monitoring import MonitoringError


def write_json(path: Path, data: Any) -> None:
    """Write `data` to `path` whole or not at all.

    The emulator and the report read results while a job may still be writing them, so the
    file is written beside its final name and renamed into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(json_bytes(data))
    os.replace(partial, path)


def json_bytes(data: Any) -> bytes:
    """The text every monitoring file is written as, locally and to S3."""
    # allow_nan=False: NaN is not JSON, and a NaN here is a bug to hear about, not to ship.
    return (json.dumps(data, indent=2, allow_nan=False) + "\n").encode("utf-8")


def read_json(path: Path, what: str) -> Any:
    """The JSON value in `path`; `what` names the file in errors ("baseline statistics")."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MonitoringError(f"{what} not found: {path}") from None
    except OSError as error:
        raise MonitoringError(f"cannot read {what} {path}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MonitoringError(
            f"{what} {path} is not valid JSON (line {error.lineno}: {error.msg})"
        ) from None
