"""The `mlinfra` command: argument parsing here, views in `cli/views`, the work in `operations/`."""

from __future__ import annotations

import os

import click

from mlinfra import __version__
from mlinfra.cli.apply import apply_command, destroy_command
from mlinfra.cli.audit import audit_command
from mlinfra.cli.emulator import emulator_command
from mlinfra.cli.featurestore import featurestore_command
from mlinfra.cli.monitor import monitor_command
from mlinfra.cli.output import output_command
from mlinfra.cli.pipeline import model_command, pipeline_command
from mlinfra.cli.plan import plan_command
from mlinfra.cli.preview import preview_command
from mlinfra.cli.refresh import refresh_command
from mlinfra.cli.render import render_command
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
cli.add_command(featurestore_command)
cli.add_command(plan_command)
cli.add_command(apply_command)
cli.add_command(destroy_command)
cli.add_command(refresh_command)
cli.add_command(pipeline_command)
cli.add_command(model_command)
cli.add_command(monitor_command)
cli.add_command(audit_command)
cli.add_command(preview_command)


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
