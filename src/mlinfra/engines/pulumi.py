"""The Pulumi engine: applies a `sagemaker` environment by running its rendered program with
Pulumi's Automation API.

The Automation API drives the Pulumi CLI, which must be installed on the user's machine (it
cannot be installed on mlinfra's build machines, so this module is exercised there only up
to the check for the CLI). State is kept by Pulumi in a local file backend under
`.mlinfra/pulumi/` beside the spec unless `backend_url` says otherwise, and secrets are
encrypted with a passphrase from `PULUMI_CONFIG_PASSPHRASE`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

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


def _stack(project_dir: Path, env: str, spec_dir: Path, backend_url: str | None):
    require_pulumi()
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ:
        raise PulumiFailed(
            "set PULUMI_CONFIG_PASSPHRASE: it encrypts the stack's secrets in its state"
        )
    from pulumi import automation

    backend_url = backend_url or (spec_dir / BACKEND_DIR).resolve().as_uri()
    if backend_url.startswith("file://"):
        Path(backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)
    options = automation.LocalWorkspaceOptions(
        work_dir=str(project_dir),
        secrets_provider="passphrase",
        env_vars={"PULUMI_BACKEND_URL": backend_url},
    )
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
