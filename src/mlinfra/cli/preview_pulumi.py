"""Previews of sagemaker environments: brought up and down by the Pulumi engine.

Pulumi keeps such a preview's resources in a stack named after the preview; mlinfra's state
of the preview records what makes it a preview (branch, base, expiry, the Pulumi backend),
written before Pulumi starts so that `list` and `gc` know a preview whose `up` was
interrupted, and, once `pulumi up` succeeded, the resources it applied. The program is
rendered into `.mlinfra/previews/<preview>/` beside the spec: it is generated per branch,
not checked in.

The Pulumi CLI cannot be installed on mlinfra's build machines: the tests run these steps
with the engine's calls replaced, and run the rendered program under Pulumi's mocks.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from mlinfra.cli.common import make_console, say

PROGRAMS_DIR = Path(".mlinfra") / "previews"


def program_dir(spec_file: str, env: str) -> Path:
    return Path(spec_file).resolve().parent / PROGRAMS_DIR / env


def up(spec, spec_file: str, graph, backend, state, info, backend_url, auto_approve) -> None:
    """Record the preview, `pulumi up` its program, then record what Pulumi applied. Exits 1
    when Pulumi fails; the record stays, so `list` shows the preview and `gc` collects it."""
    from mlinfra.cli.apply import apply_with_pulumi

    previous = state.preview
    # The stack stays where it was first made, unless --backend says otherwise.
    backend_url = (
        backend_url
        or (previous.backend if previous is not None else None)
        or os.environ.get("PULUMI_BACKEND_URL")
    )
    info = dataclasses.replace(info, engine="pulumi", backend=backend_url)
    apply_with_pulumi(
        spec, spec_file, graph, program_dir(spec_file, spec.env), backend, state, backend_url,
        auto_approve, False,
        on_confirmed=lambda found: backend.write(dataclasses.replace(found, preview=info)),
    )  # fmt: skip


def down(spec, spec_file: str, graph, backend, state, backend_url, auto_approve) -> int:
    """`pulumi destroy` the preview's stack and remove the stack; 0 when done, 1 when Pulumi
    failed (the record stays, so the preview is still listed and can be collected again)."""
    from mlinfra.cli.apply import apply_with_pulumi
    from mlinfra.engines import pulumi as engine

    failed = make_console(stderr=True)
    try:
        engine.require_pulumi()
    except engine.PulumiMissing as exc:
        say(failed, f"error: {exc}\n  {exc.suggestion}", "bold red")
        return 1
    backend_url = backend_url or state.preview.backend
    out_dir = program_dir(spec_file, spec.env)
    try:
        apply_with_pulumi(
            spec, spec_file, graph, out_dir, backend, state, backend_url, auto_approve, True
        )
        engine.remove_stack(out_dir, spec.env, Path(spec_file).resolve().parent, backend_url)
    except SystemExit as exc:  # Pulumi failed, or the user said no: already said why
        return exc.code if isinstance(exc.code, int) and exc.code else 1
    except engine.PulumiFailed as exc:
        say(failed, f"error: {exc}", "bold red")
        return 1
    return 0


def base_resources(spec, spec_file: str, backend_url: str | None):
    """The base environment's resources, read from its Pulumi stack when first needed."""
    from mlinfra.engines import pulumi as engine
    from mlinfra.preview.changed import StackResources

    spec_dir = Path(spec_file).resolve().parent
    return StackResources(
        lambda: engine.stack_resources(spec.project, spec.base, spec_dir, backend_url)
    )
