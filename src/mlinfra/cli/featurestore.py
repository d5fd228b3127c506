"""`mlinfra featurestore ingest`: load a feature store's CSV into the local emulator.

The CLI reads the file and sends its text to the emulator running beside the spec, which checks
every row against the feature group before writing any (`FeatureStore.ingest_csv_lines`): a
load is all or nothing.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
from pathlib import Path
from urllib.parse import quote

import click

from mlinfra.cli.common import (
    fail,
    local_environment,
    make_console,
    say,
    validate_spec,
)
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION

# The emulator may take a while on a large file (every row is parsed before one is written).
INGEST_TIMEOUT = 600.0
CREATED_BY = "it is created by `mlinfra apply --env {env}` (coming) or by CreateFeatureGroup"
STORE_NAMES = {"OnlineStore": "online", "OfflineStore": "offline"}


@click.group("featurestore")
def featurestore_command() -> None:
    """Work with the data of a spec's feature stores."""


@featurestore_command.command("ingest")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--source",
    metavar="FILE",
    type=click.Path(path_type=str),
    help="The CSV to load.  [default: the feature store's `source:`, relative to the spec]",
)
@SPEC_OPTION
def ingest_command(name: str, env: str, source: str | None, spec_file: str) -> None:
    """Load a CSV into feature store NAME of the local emulator.

    ENV must have `target: local`. The CSV's header names features; every row is checked
    against the feature group before any is written, so one invalid row means nothing is
    ingested. A record older than the stored one for its identifier does not replace it
    online. The emulator must be running beside the spec (`mlinfra emulator start`) and hold
    the feature group `<project>-<env>-NAME`. Exits 1 on any failure.
    """
    from mlinfra.emulator.access import Access, NotRunning
    from mlinfra.emulator.server import MAX_BODY
    from mlinfra.naming import physical_name

    result = validate_spec(spec_file)
    spec = local_environment(result, env, spec_file)
    store = _feature_store(spec, name, spec_file)
    path = _source_path(store, source, spec_file)
    try:
        access = Access.for_spec(spec_file, spec.region)
    except NotRunning as exc:
        fail(str(exc), f"start it with `mlinfra emulator start -f {spec_file}`")
    group = physical_name(spec.project, spec.env, name, "feature_group").name

    started = time.perf_counter()
    try:
        size = path.stat().st_size
        if not path.is_file():  # a pipe would block, a device never end
            fail(f"{path} is not a file", "give the CSV file itself")
        if size > MAX_BODY:
            fail(
                f"{path} is {size} bytes; the emulator loads at most {MAX_BODY} bytes at once",
                "split the file and ingest the parts one after the other",
            )
        body = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    answer = _post(access, group, path, body, env)
    elapsed = time.perf_counter() - started
    stores = ", ".join(STORE_NAMES.get(s, s) for s in answer.get("TargetStores", []))
    say(
        make_console(),
        f"ingested {answer.get('RecordCount', 0)} records into {group} ({stores}) "
        f"in {elapsed * 1000:.0f} ms",
        "bold green",
    )
    held = answer.get("OfflineAlreadyHeld", 0)
    if held:
        say(
            make_console(),
            f"{held} of them were in the offline store already (same identifier, event time "
            "and values): not appended again",
            "dim",
        )
    expired = answer.get("ExpiredOnlineCount", 0)
    if expired:
        ttl = store.online.ttl
        say(
            make_console(stderr=True),
            f"warning: for {expired} identifier(s), the latest record is older than the online "
            f"store's ttl ({ttl}): expired on arrival, so GetRecord does not return them (as "
            "in SageMaker); the offline store, which training reads, has every record. Newer "
            "event times, or a longer `online.ttl`, keep them online.",
            "yellow",
        )


def _feature_store(spec, name: str, spec_file: str):
    from mlinfra.didyoumean import suggest

    store = spec.component(f"feature_store.{name}")
    if store is None:
        known = [c.name for c in spec.of_kind("feature_store")]
        close = suggest(name, known)
        fail(
            f"{spec_file} has no feature store {name!r} "
            f"(it has: {', '.join(known) if known else 'none'})",
            f"did you mean {close!r}?" if close else None,
        )
    return store


def _source_path(store, source: str | None, spec_file: str) -> Path:
    """`--source` as given, else the store's `source:` relative to the spec's folder."""
    if source is None:
        declared = store.source
        if not declared:
            fail(
                f"feature store {store.name!r} has no `source:` in {spec_file}",
                "pass the CSV with --source FILE, or set `source:` in the spec",
            )
        source = os.path.join(os.path.dirname(spec_file), declared)
    path = Path(source)
    if not path.exists():
        fail(f"source file {source} does not exist")
    if not path.is_file():
        fail(f"source {source} is not a file")
    return path


def _post(access, group: str, path: Path, body: bytes, env: str) -> dict:
    """POST the CSV to the emulator's ingest route (signed); exits 1 with its reason."""
    url = access.url
    request = access.request(
        "POST",
        f"/_mlinfra/feature-groups/{quote(group, safe='')}/ingest"
        f"?source={quote(str(path), safe='')}",
        body,
        "text/csv; charset=utf-8",
    )
    try:
        with access.open(request, timeout=INGEST_TIMEOUT) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        _refused(exc, url, group, env)
    except OSError as exc:  # refused, reset (a server stopping), timed out
        fail(
            f"cannot reach the emulator at {url}: {getattr(exc, 'reason', exc)}",
            "check it with `mlinfra emulator status`",
        )
    return _json(payload)


def _refused(exc: urllib.error.HTTPError, url: str, group: str, env: str) -> None:
    """Exit 1 with what an AWS-shaped error answer of the emulator says."""
    try:
        error = _json(exc.read())
    except OSError:
        error = {}
    code = error.get("__type", f"HTTP {exc.code}")
    message = error.get("message", exc.reason)
    if code == "ResourceNotFound":
        fail(
            f"feature group {group} does not exist in the emulator at {url}",
            CREATED_BY.format(env=env),
        )
    if code == "ValidationError":
        fail(message)  # names the source, says nothing was ingested, lists the bad rows
    fail(f"the emulator at {url} refused the ingest: {code}: {message}")


def _json(payload: bytes) -> dict:
    try:
        found = json.loads(payload)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
