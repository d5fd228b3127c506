"""`mlinfra render`: write the Pulumi project of an environment."""

from __future__ import annotations

import click

from mlinfra.cli.common import reports_errors, validate_spec
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
    """
    # Deferred: the operation loads the stages and the renderer; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.render import RenderRequest, render

    if bool(env) == every:
        raise click.UsageError("give either --env ENV or --all")
    result = validate_spec(spec_file, environments=None if every else (env,))
    with ProgressView() as progress:
        render(RenderRequest(result, spec_file, env, every, out, check), progress)
