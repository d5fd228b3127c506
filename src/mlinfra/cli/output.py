"""`mlinfra output`: the physical name, ARN and URL of each component of an environment."""

from __future__ import annotations

import json

import click
from rich.table import Table
from rich.text import Text

from mlinfra.cli.common import make_console, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION
from mlinfra.cli.plan import STATE_OPTION_HELP, environment_spec, lower_environment, read_state


@click.command("output")
@ENV_OPTION
@SPEC_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
def output_command(env: str, spec_file: str, as_json: bool, location: str | None) -> None:
    """Show each component's physical name (and ARN, and a local endpoint's URL).

    Once the environment has been applied, from its state; before that, the names the
    compiler gives (every name is decided before anything is created). Exits 1 when the
    spec is invalid.
    """
    from mlinfra.emulator import process
    from mlinfra.render.outputs import outputs_document

    result = validate_spec(spec_file, as_json)
    spec = environment_spec(result, env, spec_file)
    graph = lower_environment(spec, spec_file)
    # A sagemaker environment's state is written by `mlinfra apply` after `pulumi up`.
    _, state = read_state(result, spec, spec_file, location)
    running = process.status(spec_file) if spec.target == "local" else None
    document = outputs_document(graph, state, running.url if running else None)
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
