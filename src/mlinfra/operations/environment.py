"""What every operation on an environment starts with: the environment by name, its graph,
its state, and the values the graph leaves to apply time (looked up as apply will).

Each helper raises an `OperationError` in the words the user sees when it cannot do its part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlinfra.didyoumean import suggest
from mlinfra.engines import aws
from mlinfra.engines import pulumi as engine
from mlinfra.engines.local import observed, unmanaged
from mlinfra.engines.providers.local import KINDS, LocalProvider, ProviderError
from mlinfra.ir.local.models import LocalTargetError
from mlinfra.ir.lower import lower
from mlinfra.operations.errors import OperationError
from mlinfra.operations.stacks import os_problem
from mlinfra.operations.waits import explained
from mlinfra.plan import values
from mlinfra.sagemaker.api import CatalogError
from mlinfra.state import StateError, backend_for


@dataclass(frozen=True)
class EnvironmentRequest:
    """What a command that reads one environment asks: the valid spec
    (`spec.validate.Validation`), its file and the environment's name."""

    validation: object
    spec_file: str
    env: str


def environment(validation, env: str, spec_file: str):
    """The `EnvSpec` of `env`, of either target; an error naming the known ones otherwise."""
    spec = validation.environments.get(env)
    if spec is None:
        known = sorted(validation.environments)
        close = suggest(env, known)
        raise OperationError(
            f"{spec_file} has no environment {env!r} (it has: {', '.join(known)})",
            f"did you mean {close!r}?" if close else None,
        )
    return spec


def local_environment(validation, env: str, spec_file: str):
    """The `EnvSpec` of `env`; an error when there is none or it is not a local one."""
    spec = environment(validation, env, spec_file)
    if spec.target != "local":
        local = sorted(n for n, s in validation.environments.items() if s.target == "local")
        raise OperationError(
            f"environment {env!r} has target {spec.target!r}: this command works with the "
            "local emulator only",
            f"use a `target: local` environment ({', '.join(local)})"
            if local
            else "add an environment with `target: local` to the spec",
        )
    return spec


def lower_environment(spec, spec_file: str):
    """The environment's graph; an error when the spec cannot run on its target."""
    try:
        return lower(spec, Path(spec_file).resolve().parent)
    except FileNotFoundError as exc:
        # A file the spec names (a model artifact) is hashed into the program; validation
        # only warns when it is missing, since it may not have been built yet.
        raise OperationError(
            f"cannot compile environment {spec.env!r}: {exc}", "build the file, then render"
        ) from None
    except OSError as exc:  # such a file cannot be read (permissions, a name too long...)
        raise OperationError(
            f"cannot compile environment {spec.env!r}: {os_problem(exc)}"
        ) from None
    except CatalogError as exc:
        # No SageMaker image for this framework, version, region and instance type.
        raise OperationError(
            f"cannot compile environment {spec.env!r}: {exc}", "choose another instance type"
        ) from None
    except LocalTargetError as exc:  # e.g. a model artifact in S3, for the local emulator
        raise OperationError(f"cannot compile environment {spec.env!r}: {exc}") from None


def posix_relpath(path: str, start: str) -> str:
    """`path` relative to `start`, with forward slashes (as rendered programs name the spec)."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(start))).as_posix()


# --- the state ------------------------------------------------------------------------------


def state_location(spec, option: str | None) -> str:
    """`--state`, else the spec's `state:` (which the schema defaults)."""
    return option or spec.state


def open_backend(spec, spec_file: str, location: str | None):
    """The state backend of `spec` (`location`, else the spec's `state:`)."""
    try:
        return backend_for(
            state_location(spec, location), Path(spec_file).resolve().parent, spec.region
        )
    except StateError as exc:
        raise OperationError(str(exc)) from None


def read_state(spec, spec_file: str, location: str | None):
    """The environment's backend and state."""
    backend = open_backend(spec, spec_file, location)
    try:
        return backend, backend.read(spec.project, spec.env)
    except StateError as exc:
        raise OperationError(str(exc)) from None


def check_manageable(spec, backend, state) -> None:
    """An error when a local environment's state records resources of a type the embedded
    engine has no provider for: applying could not delete or change them."""
    if spec.target != "local":
        return
    found = unmanaged(state)
    if found:
        raise OperationError(
            f"the state of {spec.env!r} ({backend.describe(spec.env)}) records resources of "
            "types the local engine does not know: "
            + ", ".join(f"{address} ({type_})" for address, type_ in found.items())
            + f"; it knows {', '.join(KINDS)}",
            "the state was edited by hand or written by another mlinfra: restore it from its "
            ".backup beside it or from version control",
        )


# --- what exists ----------------------------------------------------------------------------


def lookups(graph, spec_file: str, state, spec) -> values.Lookups:
    """The values the graph leaves to apply time (the model version to serve), looked up as
    the apply will: a local environment's in its emulator when one runs, a missing version
    said in the user's words (`operations.waits`); a sagemaker environment's in SageMaker,
    with the user's credentials (`mlinfra.plan.values`). What cannot be looked up is left
    unknown, with why."""
    if graph.target == "local":
        try:
            provider = LocalProvider.for_spec(spec_file, graph.region, start=False)
        except ProviderError as exc:
            return values.Lookups(unread=str(exc))
        found = values.from_emulator(graph, provider, state)
        return explained(found, spec, spec_file, provider.client) if found.unavailable else found
    if not values.lookups_in(graph):  # nothing to ask: no credentials needed
        return values.Lookups()
    try:
        (client,) = aws.clients(graph.region, "sagemaker")
    except aws.NoCredentials as exc:
        return values.Lookups(unread=str(exc))
    return values.from_sagemaker(graph, client)


def refreshed_state(spec, spec_file: str, state, backend_url: str | None = None) -> dict:
    """What really exists of what the state records, address -> its values or None when it is
    gone: local environments ask the emulator, sagemaker ones `pulumi refresh` their stack
    (in `backend_url`, else $PULUMI_BACKEND_URL, else the default backend)."""
    if spec.target != "local":
        return _refreshed_with_pulumi(spec, spec_file, state, backend_url)
    try:
        provider = LocalProvider.for_spec(spec_file, spec.region, start=False)
        return observed(state, provider)
    except ProviderError as exc:
        raise OperationError(f"cannot refresh {spec.env!r}: {exc}") from None


def _refreshed_with_pulumi(spec, spec_file: str, state, backend_url: str | None) -> dict:
    if state.is_empty:  # never applied through mlinfra: nothing recorded to compare
        return {}
    try:
        spec_dir = Path(spec_file).resolve().parent
        found = engine.refreshed(spec.project, spec.env, spec_dir, backend_url)
    except engine.PulumiMissing as exc:
        raise OperationError(f"refreshing {spec.env!r}: {exc}", exc.suggestion) from None
    except engine.PulumiFailed as exc:
        raise OperationError(f"cannot refresh {spec.env!r}: {exc}") from None
    return {address: found.get(address) for address in state}


def require_pulumi() -> None:
    """An error, before anything is locked or written, when the Pulumi CLI is missing."""
    try:
        engine.require_pulumi()
    except engine.PulumiMissing as exc:
        raise OperationError(str(exc), exc.suggestion) from None
