"""Load a feature store's CSV into the local emulator (`mlinfra featurestore ingest`).

The file's text goes to the emulator running beside the spec, which checks every row against
the feature group before writing any (`FeatureStore.ingest_csv_lines`): a load is all or
nothing.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlinfra.emulator.access import Access
from mlinfra.emulator.server import MAX_BODY
from mlinfra.operations.emulator import access, component, named
from mlinfra.operations.environment import local_environment
from mlinfra.operations.errors import OperationError

# The emulator may take a while on a large file (every row is parsed before one is written).
INGEST_TIMEOUT = 600.0
CREATED_BY = "it is created by `mlinfra apply --env {env}` (coming) or by CreateFeatureGroup"


@dataclass(frozen=True)
class IngestRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    name: str  # the feature store as the spec names it
    source: str | None = None  # the CSV; None: the store's `source:`, relative to the spec


@dataclass(frozen=True)
class Ingested:
    group: str  # the feature group's name in the emulator
    answer: dict[str, Any]  # what the emulator said: records, stores, held, expired
    seconds: float
    ttl: str | None  # the online store's, which records older than it outlive


def ingest(request: IngestRequest) -> Ingested:
    """Send the CSV to the emulator's feature group; what it ingested."""
    spec_file, env = request.spec_file, request.env
    spec = local_environment(request.validation, env, spec_file)
    store = component(spec, "feature_store", request.name, spec_file)
    path = _source_path(store, request.source, spec_file)
    reach = access(spec_file, spec.region)
    group = named(spec, request.name, "feature_group")

    started = time.perf_counter()
    try:
        size = path.stat().st_size
        if not path.is_file():  # a pipe would block, a device never end
            raise OperationError(f"{path} is not a file", "give the CSV file itself")
        if size > MAX_BODY:
            raise OperationError(
                f"{path} is {size} bytes; the emulator loads at most {MAX_BODY} bytes at once",
                "split the file and ingest the parts one after the other",
            )
        body = path.read_bytes()
    except OSError as exc:
        raise OperationError(f"cannot read {path}: {exc.strerror or exc}") from None
    answer = _post(reach, group, path, body, env)
    ttl = store.online.ttl
    return Ingested(group, answer, time.perf_counter() - started, ttl)


def _source_path(store, source: str | None, spec_file: str) -> Path:
    """`source` as given, else the store's `source:` relative to the spec's folder."""
    if source is None:
        declared = store.source
        if not declared:
            raise OperationError(
                f"feature store {store.name!r} has no `source:` in {spec_file}",
                "pass the CSV with --source FILE, or set `source:` in the spec",
            )
        source = os.path.join(os.path.dirname(spec_file), declared)
    path = Path(source)
    if not path.exists():
        raise OperationError(f"source file {source} does not exist")
    if not path.is_file():
        raise OperationError(f"source {source} is not a file")
    return path


def _post(reach: Access, group: str, path: Path, body: bytes, env: str) -> dict:
    """POST the CSV to the emulator's ingest route (signed); an error with its reason."""
    url = reach.url
    request = reach.request(
        "POST",
        f"/_mlinfra/feature-groups/{quote(group, safe='')}/ingest"
        f"?source={quote(str(path), safe='')}",
        body,
        "text/csv; charset=utf-8",
    )
    try:
        with reach.open(request, timeout=INGEST_TIMEOUT) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise _refused(exc, url, group, env) from None
    except OSError as exc:  # refused, reset (a server stopping), timed out
        raise OperationError(
            f"cannot reach the emulator at {url}: {getattr(exc, 'reason', exc)}",
            "check it with `mlinfra emulator status`",
        ) from None
    return _json(payload)


def _refused(exc: urllib.error.HTTPError, url: str, group: str, env: str) -> OperationError:
    """What an AWS-shaped error answer of the emulator says."""
    try:
        error = _json(exc.read())
    except OSError:
        error = {}
    code = error.get("__type", f"HTTP {exc.code}")
    message = error.get("message", exc.reason)
    if code == "ResourceNotFound":
        return OperationError(
            f"feature group {group} does not exist in the emulator at {url}",
            CREATED_BY.format(env=env),
        )
    if code == "ValidationError":
        return OperationError(message)  # names the source, says nothing was ingested, lists rows
    return OperationError(f"the emulator at {url} refused the ingest: {code}: {message}")


def _json(payload: bytes) -> dict:
    try:
        found = json.loads(payload)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
