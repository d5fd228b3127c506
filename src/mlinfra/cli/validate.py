"""`mlinfra validate` and `mlinfra schema`."""

from __future__ import annotations

import json

import click
from rich.console import Console

from mlinfra.cli.common import is_unread, show_unread_spec
from mlinfra.cli.options import SPEC_OPTION
from mlinfra.cli.views import diagnostics as view
from mlinfra.diagnostics import Severity
from mlinfra.spec.schema import load_schema
from mlinfra.spec.validate import validate_file


@click.command("validate")
@SPEC_OPTION
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the diagnostics.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def validate_command(spec_file: str, output: str, strict: bool) -> None:
    """Check a spec: syntax, schema, references, names, catalogues, every environment.

    Exits 0 when the spec is valid, 1 when it is not (or, with --strict, when it has
    warnings).
    """
    result = validate_file(spec_file)
    found = result.diagnostics
    failed = not result.ok or (strict and any(d.severity is Severity.WARNING for d in found))
    environments = sorted(result.environments)
    if output == "json":
        click.echo(view.to_json(found, not failed, file=spec_file, environments=environments))
    elif is_unread(result):
        show_unread_spec(found)
    else:
        console = Console(highlight=False)
        text = result.document.text if result.document else None
        view.print_text(console, found, text)
        tally = view.counts(found)
        if failed:
            console.print(
                f"{spec_file}: invalid "
                f"({tally['errors']} error(s), {tally['warnings']} warning(s))",
                style="bold red",
                markup=False,
                soft_wrap=True,
            )
        else:
            envs = ", ".join(environments)
            warned = f", {tally['warnings']} warning(s)" if tally["warnings"] else ""
            console.print(
                f"{spec_file}: valid ({len(environments)} environment(s): {envs}{warned})",
                style="bold green",
                markup=False,
                soft_wrap=True,
            )
    raise SystemExit(1 if failed else 0)


@click.command("schema")
@click.option("--markdown", is_flag=True, help="Print the field reference as Markdown instead.")
def schema_command(markdown: bool) -> None:
    """Print the JSON Schema of mlinfra.yaml (for editors and CI)."""
    schema = load_schema()
    if markdown:
        # Start-up: only --markdown needs the field reference's writer.
        from mlinfra.spec.docs import reference_markdown

        click.echo(reference_markdown(schema), nl=False)
    else:
        click.echo(json.dumps(schema, indent=2))
