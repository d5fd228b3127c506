"""The previews a project has: read from their states, with what each one's lifetime is.

A preview is a state whose environment is named `preview-...` and that records a
`PreviewInfo` (branch, base, created, updated, expires; for a Pulumi preview, its backend).
Listing reads a local state folder; S3 state folders are listed with `ListObjectsV2`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from mlinfra.ir.graph import Concat, Ref
from mlinfra.preview.naming import is_preview_env
from mlinfra.render.outputs import name_property, physical_name
from mlinfra.sagemaker.resources import LOCAL_PREFIX, of_type
from mlinfra.state.file import BACKUP_SUFFIX, FileBackend
from mlinfra.state.model import PreviewInfo, State, StateError
from mlinfra.state.s3 import S3Backend

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(TIME_FORMAT)


def parse_timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def stamped(
    previous: PreviewInfo | None,
    branch: str,
    base: str,
    ttl: dt.timedelta | None,
    now: dt.datetime,
) -> PreviewInfo:
    """The preview's record after an `up` at `now`: created once, its expiry pushed back to
    `now + ttl` by every update (a branch still being pushed to stays alive)."""
    created = previous.created_at if previous is not None else timestamp(now)
    expires = timestamp(now + ttl) if ttl is not None else None
    return PreviewInfo(branch, base, created, timestamp(now), expires)


@dataclass(frozen=True)
class Preview:
    """One preview as `list` shows it."""

    env: str
    info: PreviewInfo
    resources: int
    where: str

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - parse_timestamp(self.info.created_at)

    def expired(self, now: dt.datetime) -> bool:
        return self.info.expires_at is not None and parse_timestamp(self.info.expires_at) <= now


def preview_of(state: State, where: str) -> Preview | None:
    if state.preview is None or not is_preview_env(state.environment):
        return None
    return Preview(state.environment, state.preview, len(state.resources), where)


def environments_in(backend) -> list[str]:
    """The environment names a state backend holds a state for, sorted."""
    if isinstance(backend, FileBackend):
        if not backend.directory.is_dir():
            return []
        return sorted(p.name[: -len(".json")] for p in backend.directory.glob("*.json"))
    if isinstance(backend, S3Backend):
        return _s3_environments(backend)
    raise StateError(f"previews cannot be listed in {backend.describe('')}")


def _s3_environments(backend) -> list[str]:
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = backend.key("", "")
    names: list[str] = []
    try:
        pages = backend.client.get_paginator("list_objects_v2").paginate(
            Bucket=backend.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                rest = item["Key"][len(prefix) :]
                if rest.endswith(".json") and "/" not in rest:
                    names.append(rest[: -len(".json")])
    except (BotoCoreError, ClientError) as exc:
        raise StateError(f"{backend.describe('')}: cannot list the states: {exc}") from None
    return sorted(names)


def list_previews(backend, project: str) -> tuple[list[Preview], list[str]]:
    """The project's previews, by environment name, and a problem per state that could not
    be read (a corrupt file is reported, never a reason to hide the others)."""
    found: list[Preview] = []
    problems: list[str] = []
    for env in environments_in(backend):
        if not is_preview_env(env):
            continue
        try:
            state = backend.read(project, env)
        except StateError as exc:
            problems.append(str(exc))
            continue
        preview = preview_of(state, backend.describe(env))
        if preview is not None and state.project == project:
            found.append(preview)
    return found, problems


def remove_state(backend, env: str) -> None:
    """Delete an emptied preview's state (and its backup): a destroyed preview leaves nothing."""
    if isinstance(backend, FileBackend):
        path = backend.path(env)
        for each in (path, path.with_name(path.name + BACKUP_SUFFIX)):
            try:
                each.unlink(missing_ok=True)
            except OSError as exc:
                raise StateError(f"{each}: cannot remove: {exc.strerror}") from None
    elif isinstance(backend, S3Backend):
        from botocore.exceptions import BotoCoreError, ClientError

        for key in (backend.key(env), backend.key(env, ".json" + BACKUP_SUFFIX)):
            try:
                backend.client.delete_object(Bucket=backend.bucket, Key=key)
            except (BotoCoreError, ClientError) as exc:
                raise StateError(f"{backend.describe(env)}: cannot remove: {exc}") from None


class StampingBackend:
    """A backend that records the preview's `PreviewInfo` in every state it writes, so an
    apply interrupted half-way still leaves a preview that `list` and `gc` know."""

    def __init__(self, backend, info: PreviewInfo) -> None:
        self.backend = backend
        self.info = info

    def describe(self, env: str) -> str:
        return self.backend.describe(env)

    def read(self, project: str, env: str) -> State:
        return self.backend.read(project, env)

    def write(self, state: State) -> State:
        return self.backend.write(dataclasses.replace(state, preview=self.info))

    def lock(self, env: str, command: str, timeout: float = 0.0):
        return self.backend.lock(env, command, timeout)


def state_names(state: State) -> set[str]:
    """The physical names a state records (what its resources were created as): a local
    resource's from the request sent, an AWS resource's from the properties applied."""
    found = set()
    for entry in state.resources.values():
        if entry.type.startswith(LOCAL_PREFIX):
            kind = of_type(entry.type)
            field, recorded = kind and kind.name_field, entry.inputs
        elif entry.type not in SCOPED_NAME_TYPES:
            field, recorded = name_property(entry.type), entry.properties
        else:
            continue
        value = recorded.get(field) if field and isinstance(recorded, dict) else None
        if isinstance(value, str):
            found.add(value)
    return found


# Types whose name is unique only within another resource (an inline policy within its role),
# so the same name in two environments is no clash.
SCOPED_NAME_TYPES = frozenset({"aws.iam.RolePolicy"})


def graph_names(graph) -> dict[str, str]:
    """Physical name -> the address of the resource that has it, for the graph's resources
    whose names are unique in the account."""
    found = {}
    for resource in graph.resources:
        if resource.type in SCOPED_NAME_TYPES or _made_of_a_reference(resource):
            continue
        name = physical_name(resource)
        if name is not None:
            found[name] = resource.address
    return found


def _made_of_a_reference(resource) -> bool:
    """Whether the resource's name is built from another resource's (a scalable target's
    `endpoint/<the endpoint's name>/variant/...`): shown with the other's address in place of
    its name, it reads the same in every environment, and the other's own name is what tells
    whose it is."""
    value = resource.properties.get(name_property(resource.type))
    return isinstance(value, Concat) and any(isinstance(p, Ref) for p in value.parts)


def describe_age(delta: dt.timedelta) -> str:
    """`3d 4h`, `5h 12m`, `40m`, `now`."""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else "now"
