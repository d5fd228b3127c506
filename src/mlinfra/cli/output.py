"""`mlinfra output`: the physical name, ARN and URL of each component of an environment."""

from __future__ import annotations

import json

import click
from rich.text import Text

from mlinfra.cli.common import make_console, reports_errors, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION, STATE_OPTION_HELP
from mlinfra.cli.views.tables import print_listing


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
    # One section per component; a resource's address starts with its component's, so no
    # column repeats it.
    sections = []
    for component in document["components"].values():
        rows = [(Text(a), Text(name or "")) for a, name in component["resources"].items()]
        if component.get("url"):
            rows.append((Text("  url"), Text(component["url"])))
        sections.append(rows)
    print_listing(
        make_console(),
        f"{document['project']} {document['environment']}: physical names",
        ("resource", "name"),
        sections,
        "as recorded by the last apply"
        if recorded
        else "as compiled from the spec; not applied yet",
    )
