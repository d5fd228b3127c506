"""What the commands that work with a running emulator share (pipelines, models, monitors,
feature stores): a component of the environment by name, its physical name there, how to
reach the emulator beside the spec, and a call's failure in words."""

from __future__ import annotations

import functools
from typing import Any

from mlinfra.didyoumean import suggest
from mlinfra.emulator.access import Access, NotRunning
from mlinfra.engines.providers.local import LocalProvider
from mlinfra.naming import physical_name
from mlinfra.operations.errors import OperationError


def component(spec, kind: str, name: str, spec_file: str):
    """Component `kind.name` of the environment; an error naming the ones it has otherwise."""
    found = spec.component(f"{kind}.{name}")
    if found is None:
        known = [c.name for c in spec.of_kind(kind)]
        close = suggest(name, known)
        raise OperationError(
            f"{spec_file} has no {kind.replace('_', ' ')} {name!r} "
            f"(it has: {', '.join(known) or 'none'})",
            f"did you mean {close!r}?" if close else None,
        )
    return found


def named(spec, name: str, kind: str) -> str:
    """The physical name of `name` (a resource of `kind`, e.g. `pipeline`) in the environment."""
    return physical_name(spec.project, spec.env, name, kind).name


def registry_groups(spec) -> dict:
    """Physical registry group name -> the model (of `spec`'s) whose versions it holds."""
    return {
        named(spec, m.registry_group, "model_package_group"): m
        for m in spec.models.values()
        if m.registry_group
    }


def access(spec_file: str, region: str) -> Access:
    """How to reach the emulator running beside the spec; an error when none runs."""
    try:
        return Access.for_spec(spec_file, region)
    except NotRunning as exc:
        raise OperationError(
            str(exc), f"start it with `mlinfra emulator start -f {spec_file}`"
        ) from None


def client(spec_file: str, region: str) -> Any:
    """A SageMaker client (boto3) of the emulator running beside the spec."""
    return _client_of(access(spec_file, region))


@functools.lru_cache(maxsize=8)
def _client_of(reached: Access) -> Any:
    # One client per emulator (URL, credentials, region) for the process's life: botocore
    # builds a client's 400-odd operations anew each time (a tenth of a second on a busy
    # machine), which a process that asks the emulator more than once pays only once.
    return LocalProvider.for_access(reached).client


def call(method: Any, **request: Any) -> dict[str, Any]:
    """`method(**request)` of a client of the emulator; an error with its reason."""
    # botocore is deferred: it loads only when the emulator is called.
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return method(**request)
    except ClientError as exc:
        raise OperationError(reason(exc)) from None
    except BotoCoreError as exc:
        raise OperationError(
            f"cannot reach the emulator: {exc}", "check it with `mlinfra emulator status`"
        ) from None


def reason(exc: Any) -> str:
    """What a client error says: `Code: message`."""
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"
