"""Render: write the Pulumi project of each environment asked for (`mlinfra render`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mlinfra.operations.compile_cache import (
    CompileRequest,
    Stack,
    path_states,
    remember,
    stack_folder,
)
from mlinfra.operations.environment import (
    environment,
    lower_environment,
    posix_relpath,
)
from mlinfra.operations.errors import OperationError
from mlinfra.operations.progress import Progress, Written
from mlinfra.operations.stacks import write_stack
from mlinfra.render.pulumi import RenderError, check_program, render_project
from mlinfra.spec.checks import CheckContext
from mlinfra.spec.checks.paths import local_paths
from mlinfra.spec.resolve import resolve, resolve_preview


@dataclass(frozen=True)
class RenderRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str | None = None  # one environment, or with `every` all of them
    every: bool = False
    out: str | None = None  # the project's folder, or with `every` the folder of them all
    # Parse each program before writing it (`render.pulumi.check_program`): rendering
    # guarantees it by construction, so only on request.
    check: bool = False
    # Keep what was written in the compile cache (`operations.compile_cache`) for the next
    # render of the same request.
    cache: CompileRequest | None = None


def named_paths(validation) -> list[str]:
    """The local paths (files and folders) the validated environments name, as written:
    what a render reads besides the spec."""
    root = validation.document.root
    found: list[str] = []
    views = [(resolve(root, env), spec) for env, spec in validation.environments.items()]
    if validation.preview is not None:
        views.append((resolve_preview(root), validation.preview))
    for view, spec in views:
        ctx = CheckContext(view, root, None, spec)
        found.extend(path for _, path in local_paths(ctx))
    return found


def render(request: RenderRequest, progress: Progress) -> int:
    """Compile and write each project (a `Written` event each); how many were written."""
    spec_file, out = request.spec_file, request.out
    # What the named files are before lowering reads them: an entry is kept only when they
    # are the same after rendering, so a file saved meanwhile cannot pair with this output.
    paths = named_paths(request.validation) if request.cache else []
    before = path_states(spec_file, paths) if request.cache else {}
    stacks: list[Stack] = []
    if request.every:
        chosen = [spec for _, spec in sorted(request.validation.environments.items())]
        targets = [(spec, stack_folder(spec_file, spec.env, True, out)) for spec in chosen]
    else:
        spec = environment(request.validation, request.env, spec_file)
        targets = [(spec, stack_folder(spec_file, spec.env, False, out))]
    for spec, out_dir in targets:
        started = time.perf_counter()
        graph = lower_environment(spec, spec_file)
        files = render_project(graph, spec, posix_relpath(spec_file, out_dir))
        if request.check:
            try:
                check_program(files["__main__.py"], graph)
            except RenderError as error:  # nothing of this environment is written
                raise OperationError(
                    str(error), "report it with the spec; render without --check to see it"
                ) from error
        write_stack(files, out_dir, "give --out a folder, or a path where one can be made")
        stacks.append(Stack(spec.env, out_dir, len(graph.resources), files))
        progress(
            Written(
                out_dir,
                spec.env,
                len(graph.resources),
                time.perf_counter() - started,
                tuple(sorted(files)),
            )  # fmt: skip
        )
    if request.cache and path_states(spec_file, paths) == before:
        validation = request.validation
        remember(request.cache, validation.document.text, before, validation.diagnostics, stacks)
    return len(targets)
