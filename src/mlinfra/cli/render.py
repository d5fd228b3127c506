"""`mlinfra render`: write the Pulumi project of an environment."""

from __future__ import annotations

import click

from mlinfra.cli.common import print_warnings, reports_errors, validate_spec
from mlinfra.cli.options import ENV_OPTION_HELP, SPEC_OPTION


@click.command("render")
@click.option("--env", "env", metavar="ENV", help=ENV_OPTION_HELP)
@SPEC_OPTION
@click.option(
    "--out",
    "out",
    metavar="DIR",
    type=click.Path(path_type=str),
    help="Where to write: the project's folder, or with --all the folder holding one per "
    "environment.  [default: stacks/<env>/ beside the spec]",
)
@click.option("--all", "every", is_flag=True, help="Render every environment.")
@click.option(
    "--check",
    is_flag=True,
    help="Also parse each program before writing it (a failure is a bug in mlinfra).",
)
@reports_errors
def render_command(
    env: str | None, spec_file: str, out: str | None, every: bool, check: bool
) -> None:
    """Compile environments to Pulumi projects.

    Each project is Pulumi.yaml, Pulumi.<env>.yaml, requirements.txt and __main__.py: for a
    sagemaker environment a pulumi_aws program, for a local one a program of Pulumi dynamic
    resources that deploy into the local emulator (the same providers `mlinfra apply` uses;
    it runs with the Python mlinfra is installed in). Exits 1 when the spec is invalid.

    When nothing it read has changed since the last render of the same environments into
    the same folder (the spec, the files it names, mlinfra and its packages), the projects
    are written again from `.mlinfra/cache/render/` beside the spec, with the same warnings,
    without compiling. The cache is safe to delete; --check always compiles.
    """
    # Deferred: the cache imports no stage; the operation loads them and the renderer, which
    # `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.compile_cache import CompileRequest, recall, write_recalled

    if bool(env) == every:
        raise click.UsageError("give either --env ENV or --all")
    cache = CompileRequest(spec_file, None if every else (env,), out)
    recalled = None if check else recall(cache)
    if recalled is not None:
        print_warnings(recalled.diagnostics, recalled.text)
        with ProgressView() as progress:
            write_recalled(recalled, progress)
        return
    # Deferred: validation and compiling load every stage, which a cache hit does not need.
    from mlinfra.operations.render import RenderRequest, render

    result = validate_spec(spec_file, environments=None if every else (env,))
    with ProgressView() as progress:
        render(RenderRequest(result, spec_file, env, every, out, check, cache), progress)
