"""The `mlinfra` command: argument parsing here, views in `cli/views`, the work in `operations/`."""

from __future__ import annotations

import importlib
import os

import click

from mlinfra import __version__

# Each command, and the `module:object` that defines it. A command's module is imported only
# when that command runs (or help lists it): `mlinfra --version` and `mlinfra validate` then
# start without importing the emulator, the engines or the Pulumi renderer (click's LazyGroup
# pattern, from click's documentation, "Lazily Loading Subcommands").
COMMANDS = {
    "validate": "mlinfra.cli.validate:validate_command",
    "schema": "mlinfra.cli.validate:schema_command",
    "render": "mlinfra.cli.render:render_command",
    "output": "mlinfra.cli.output:output_command",
    "emulator": "mlinfra.cli.emulator:emulator_command",
    "featurestore": "mlinfra.cli.featurestore:featurestore_command",
    "plan": "mlinfra.cli.plan:plan_command",
    "apply": "mlinfra.cli.apply:apply_command",
    "destroy": "mlinfra.cli.apply:destroy_command",
    "refresh": "mlinfra.cli.refresh:refresh_command",
    "pipeline": "mlinfra.cli.pipeline:pipeline_command",
    "batch": "mlinfra.cli.batch:batch_command",
    "model": "mlinfra.cli.model:model_command",
    "monitor": "mlinfra.cli.monitor:monitor_command",
    "audit": "mlinfra.cli.audit:audit_command",
    "preview": "mlinfra.cli.preview:preview_command",
    "lineage": "mlinfra.cli.lineage:lineage_command",
    "runs": "mlinfra.cli.runs:runs_command",
    "graph": "mlinfra.cli.graph:graph_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported by name when first asked for."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, name = self.lazy_commands[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), name))
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", "-V", prog_name="mlinfra")
def cli() -> None:
    """mlinfra: one YAML spec for feature stores, pipelines, models, endpoints and monitors,
    validated, compiled per environment to Pulumi (SageMaker) or a local emulator, planned,
    applied, previewed and audited."""


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
