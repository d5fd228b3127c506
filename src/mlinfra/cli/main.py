"""The `mlinfra` command: argument parsing here, views in `cli/views`, work in the stages."""

from __future__ import annotations

import click

from mlinfra import __version__
from mlinfra.cli.validate import schema_command, validate_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="mlinfra")
def cli() -> None:
    """mlinfra: one YAML spec for feature stores, pipelines, models, endpoints and monitors,
    validated, compiled per environment to Pulumi (SageMaker) or a local emulator, planned,
    applied, previewed and audited."""


cli.add_command(validate_command)
cli.add_command(schema_command)


def main() -> None:
    cli(prog_name="mlinfra")


if __name__ == "__main__":
    main()
