"""The Pulumi engine: applies a `sagemaker` environment by running its rendered program with
Pulumi's Automation API.

The Automation API drives the Pulumi CLI, which must be installed on the user's machine (it
cannot be installed on mlinfra's build machines, so this module is exercised there only up
to the check for the CLI). State is kept by Pulumi in the backend `backend_url` names, else
`PULUMI_BACKEND_URL`'s, else a local file backend under `.mlinfra/pulumi/` beside the spec;
secrets are encrypted with a passphrase from `PULUMI_CONFIG_PASSPHRASE`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.plan.diff import resource_state

INSTALL_URL = "https://www.pulumi.com/docs/iac/download-install/"
BACKEND_DIR = Path(".mlinfra") / "pulumi"


class PulumiMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__("applying a sagemaker environment needs the Pulumi CLI, not found on PATH")
        self.suggestion = (
            f"install it ({INSTALL_URL}: `curl -fsSL https://get.pulumi.com | sh`), "
            "or run `mlinfra render` and deploy the program with your own pipeline"
        )


class PulumiFailed(RuntimeError):
    pass


def require_pulumi() -> str:
    found = shutil.which("pulumi")
    if found is None:
        raise PulumiMissing()
    return found


def up(
    project_dir: Path,
    env: str,
    spec_dir: Path,
    backend_url: str | None = None,
    on_output: Callable[[str], None] = print,
) -> dict[str, object]:
    """`pulumi up` of the rendered project in `project_dir` on stack `env`; its outputs."""
    stack = _stack(project_dir, env, spec_dir, backend_url)
    result = _run(lambda: stack.up(on_output=on_output))
    return {name: output.value for name, output in result.outputs.items()}


def destroy(
    project_dir: Path,
    env: str,
    spec_dir: Path,
    backend_url: str | None = None,
    on_output: Callable[[str], None] = print,
) -> None:
    """`pulumi destroy` of stack `env` of the rendered project in `project_dir`."""
    stack = _stack(project_dir, env, spec_dir, backend_url)
    _run(lambda: stack.destroy(on_output=on_output))


def recorded(
    state,
    graph,
    stack: Mapping[str, Mapping[str, Any]],
    destroyed: bool = False,
    values=None,
):
    """The state after a successful `pulumi up` of `graph` (or `pulumi destroy`): every
    resource as applied, with the outputs `stack` holds for it, and nothing else, since
    Pulumi deleted what the graph no longer has. `values` (`plan.values.Lookups`, from the
    program's outputs) are the model versions the run served: recorded as applied, so a
    newly approved version shows in the next plan; what waited for one is left out, as the
    program did not declare it."""
    waiting = values.waiting(graph) if values is not None else {}
    known = values.known if values is not None else None
    found = {}
    for resource in () if destroyed else graph.resources:
        if resource.address in waiting:
            continue
        outputs = stack.get(resource.address, {})
        # What the stack holds for the properties mlinfra set: the values applied, which
        # `refresh` compares with what the resource has later.
        applied = {k: v for k, v in outputs.items() if k in resource.properties}
        found[resource.address] = resource_state(resource, known, applied, outputs)
    return dataclasses.replace(state, resources=MappingProxyType(found))


def remove_stack(
    project_dir: Path, env: str, spec_dir: Path, backend_url: str | None = None
) -> None:
    """Forget stack `env` once it is destroyed (`pulumi stack rm`): a destroyed preview leaves
    nothing behind, in Pulumi's backend either."""
    stack = _stack(project_dir, env, spec_dir, backend_url)
    _run(lambda: stack.workspace.remove_stack(env))


def stack_resources(
    project: str, env: str, spec_dir: Path, backend_url: str | None = None
) -> dict[str, dict[str, Any]]:
    """What stack `env` of `project` holds: each resource's outputs by its mlinfra address.

    Read with `pulumi stack export` (no program runs): what `apply` records, and what a
    changed-only preview's references to its base resolve to.
    """
    stack = _existing_stack(project, env, spec_dir, backend_url)
    return resources_in(_run(stack.export_stack).deployment or {})


def refreshed(
    project: str, env: str, spec_dir: Path, backend_url: str | None = None
) -> dict[str, dict[str, Any]]:
    """`pulumi refresh` of stack `env` (Pulumi reads every resource back from AWS into its
    state; no program runs), then what the stack holds, as `stack_resources` gives it."""
    stack = _existing_stack(project, env, spec_dir, backend_url)
    _run(lambda: stack.refresh(on_output=lambda _line: None))
    return resources_in(_run(stack.export_stack).deployment or {})


def _existing_stack(project: str, env: str, spec_dir: Path, backend_url: str | None):
    """Stack `env` of `project`, selected without its program (none is run)."""
    from pulumi import automation

    require_pulumi()
    return _run(
        lambda: automation.select_stack(
            stack_name=env,
            project_name=project,
            program=lambda: None,
            opts=_options(None, spec_dir, backend_url),
        )
    )


def resources_in(deployment: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Address -> outputs (in the IR's snake_case) of each resource of an exported deployment
    (checkpoint version 3). The rendered programs name every resource by its address, the
    last part of its URN. Secret outputs stay out: a preview never copies a secret."""
    found: dict[str, dict[str, Any]] = {}
    for resource in deployment.get("resources") or ():
        urn = resource.get("urn", "")
        if not resource.get("custom") or str(resource.get("type", "")).startswith("pulumi:"):
            continue  # the stack itself and providers
        outputs = {
            _snake(key): value
            for key, value in (resource.get("outputs") or {}).items()
            if not (isinstance(value, Mapping) and SIGNATURE_KEY in value)
        }
        if resource.get("id"):
            outputs.setdefault("id", resource["id"])
        found[urn.rsplit("::", 1)[-1]] = outputs
    return found


# Pulumi marks a secret value in a checkpoint with this key (its "special signature").
SIGNATURE_KEY = "4dabf18193072939515e22adb298388d"


def _snake(name: str) -> str:
    """`keyId` -> `key_id`: Pulumi keeps outputs under the engine's camelCase names."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _options(project_dir: Path | None, spec_dir: Path, backend_url: str | None):
    from pulumi import automation

    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ:
        raise PulumiFailed(
            "set PULUMI_CONFIG_PASSPHRASE: it encrypts the stack's secrets in its state"
        )
    backend_url = backend_url_for(backend_url, spec_dir)
    if backend_url.startswith("file://"):
        Path(backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)
    return automation.LocalWorkspaceOptions(
        work_dir=str(project_dir) if project_dir is not None else None,
        secrets_provider="passphrase",
        env_vars={"PULUMI_BACKEND_URL": backend_url},
    )


def backend_url_for(given: str | None, spec_dir: Path) -> str:
    """Where Pulumi keeps stacks: `given`, else $PULUMI_BACKEND_URL (as for the Pulumi CLI),
    else a file backend under .mlinfra/pulumi/ beside the spec."""
    return (
        given or os.environ.get("PULUMI_BACKEND_URL") or (spec_dir / BACKEND_DIR).resolve().as_uri()
    )


def _stack(project_dir: Path, env: str, spec_dir: Path, backend_url: str | None):
    from pulumi import automation

    require_pulumi()
    options = _options(project_dir, spec_dir, backend_url)
    return _run(
        lambda: automation.create_or_select_stack(
            stack_name=env, work_dir=str(project_dir), opts=options
        )
    )


def _run(action: Callable[[], object]):
    from pulumi import automation

    try:
        return action()
    except automation.errors.CommandError as exc:
        raise PulumiFailed(str(exc)) from None
