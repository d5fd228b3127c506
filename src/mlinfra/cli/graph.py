"""`mlinfra graph`: the resources an environment compiles to and their dependencies (the work
is `mlinfra.operations.graph`')."""

from __future__ import annotations

import click

from mlinfra.cli.common import reports_errors, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION


@click.command("graph")
@ENV_OPTION
@click.option(
    "--format",
    "form",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (renders in GitHub and most Markdown viewers) or Graphviz DOT.",
)
@SPEC_OPTION
@reports_errors
def graph_command(env: str, form: str, spec_file: str) -> None:
    """Draw the resources environment ENV compiles to, each with its address and type, and an
    arrow from what each needs to it: what `plan` and `apply` create, in the order they may.

    Pipe DOT to Graphviz (`mlinfra graph --env dev --format dot | dot -Tsvg > graph.svg`).
    Reads only the spec."""
    # Deferred: lowering loads the SageMaker catalogue; `mlinfra --version` must not.
    from mlinfra.operations.graph import GraphRequest, dot, graph, mermaid

    drawn = graph(GraphRequest(validate_spec(spec_file, environments=[env]), spec_file, env))
    click.echo(mermaid(drawn) if form == "mermaid" else dot(drawn), nl=False)
