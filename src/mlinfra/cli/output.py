"""`mlinfra output`: the physical name, ARN and URL of each component of an environment."""

from __future__ import annotations

import json

import click
from rich.table import Table
from rich.text import Text

from mlinfra.cli.common import make_console, reports_errors, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION, STATE_OPTION_HELP


@click.command("output")
@ENV_OPTION
@SPEC_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
@reports_errors
def output_command(env: str, spec_file: str, as_json: bool, location: str | None) -> None:
    """Show each component's physical name (and ARN, and a local endpoint's URL).

    Once the environment has been applied, from its state; before that, the names the
    compiler gives (every name is decided before anything is created). Exits 1 when the
    spec is invalid.
    """
    # Deferred: the operation loads the stages; `mlinfra --version` must not.
    from mlinfra.operations.output import OutputRequest, outputs

    result = validate_spec(spec_file, as_json)
    document = outputs(OutputRequest(result, spec_file, env, location))
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    recorded = document["source"] == "state"
    table = Table(
        title=Text(f"{document['project']} {document['environment']}: physical names"),
        caption=Text(
            "as recorded by the last apply"
            if recorded
            else "as compiled from the spec; not applied yet"
        ),
    )
    # One section per component; a resource's address starts with its component's, so no
    # column repeats it. The names are what the command is for: addresses fold first.
    table.add_column("resource", overflow="fold")
    table.add_column("name", no_wrap=True)
    for component in document["components"].values():
        if component["resources"]:
            table.add_section()
        for address, name in component["resources"].items():
            table.add_row(Text(address), Text(name or ""))
        if component.get("url"):
            table.add_row(Text("  url"), Text(component["url"]))
    make_console().print(table)
