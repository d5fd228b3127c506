"""Output: each component's physical name, ARN and URL in an environment (`mlinfra output`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlinfra.emulator import process
from mlinfra.operations.environment import environment, lower_environment, read_state
from mlinfra.render.outputs import outputs_document


@dataclass(frozen=True)
class OutputRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    location: str | None = None  # --state


def outputs(request: OutputRequest) -> dict[str, Any]:
    """The outputs document (`render.outputs`): from the state once the environment has been
    applied; before that, the names the compiler gives."""
    spec = environment(request.validation, request.env, request.spec_file)
    graph = lower_environment(spec, request.spec_file)
    # A sagemaker environment's state is written by `mlinfra apply` after `pulumi up`.
    _, state = read_state(spec, request.spec_file, request.location)
    running = process.status(request.spec_file) if spec.target == "local" else None
    return outputs_document(graph, state, running.url if running else None)
