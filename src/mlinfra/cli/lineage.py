"""`mlinfra lineage`: what made what serves, from an endpoint or a model version back to the
data, code and parameters (the work is `mlinfra.operations.lineage`'; here, what it shows)."""

from __future__ import annotations

import click

from mlinfra.cli.common import fail, make_console, print_json, reports_errors, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION


@click.command("lineage")
@click.argument("address", required=False)
@ENV_OPTION
@click.option("--model", metavar="NAME", help="A model of the spec (with --version).")
@click.option("--version", type=click.IntRange(1), help="The model's version.")
@click.option(
    "--format",
    "form",
    type=click.Choice(["tree", "json", "mermaid"]),
    default="tree",
    show_default=True,
    help="A tree in the terminal, JSON for scripts, or a Mermaid flowchart.",
)
@SPEC_OPTION
@reports_errors
def lineage_command(
    address: str | None,
    env: str,
    model: str | None,
    version: int | None,
    form: str,
    spec_file: str,
) -> None:
    """Show what made an endpoint's model or a model version: the version, the training job
    that produced its model and the jobs before it, with their parameters and metrics, down
    to the data and code they read.

    ADDRESS is an endpoint of the spec (`endpoint.churn-api`); or name a version with
    --model NAME --version N. Reads the lineage SageMaker records (the local emulator's, or
    SageMaker's with your AWS credentials); changes nothing.
    """
    if (address is None) == (model is None):
        fail(
            "name one endpoint (ADDRESS) or one model version (--model NAME --version N)",
            "e.g. `mlinfra lineage endpoint.churn-api --env ENV`",
        )
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.cli.views.lineage import mermaid, tree
    from mlinfra.operations.lineage import LineageRequest, lineage

    request = LineageRequest(
        validate_spec(spec_file, form == "json"), spec_file, env, address, model, version
    )
    found = lineage(request)
    if form == "json":
        print_json(found.to_json())
    elif form == "mermaid":
        click.echo(mermaid(found), nl=False)
    else:
        make_console().print(tree(found))
