"""The `mlinfra` command: argument parsing here, views in `cli/views`, work in the stages."""

from __future__ import annotations

import os

import click

from mlinfra import __version__
from mlinfra.cli.emulator import emulator_command
from mlinfra.cli.render import output_command, render_command
from mlinfra.cli.validate import schema_command, validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mlinfra")
def cli() -> None:
    """mlinfra: one YAML spec for feature stores, pipelines, models, endpoints and monitors,
    validated, compiled per environment to Pulumi (SageMaker) or a local emulator, planned,
    applied, previewed and audited."""


cli.add_command(validate_command)
cli.add_command(schema_command)
cli.add_command(render_command)
cli.add_command(output_command)
cli.add_command(emulator_command)


INTERNAL_ERROR = 3


def main() -> None:
    try:
        cli(prog_name="mlinfra")
    except Exception as exc:  # a bug in mlinfra: bad input is reported as diagnostics
        if os.environ.get("MLINFRA_DEBUG"):
            raise
        click.echo(
            f"mlinfra: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in mlinfra, not in your spec. Rerun with MLINFRA_DEBUG=1 to see "
            "the traceback, and report it.",
            err=True,
        )
        raise SystemExit(INTERNAL_ERROR) from None


if __name__ == "__main__":
    main()
