"""`mlinfra plan`: what applying the spec to an environment would change."""

from __future__ import annotations

import click

from mlinfra.cli.common import fail, make_console, reports_errors, say, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION, STATE_OPTION_HELP, ExitOneOnUsageError

CHANGES_EXIT = 2


@click.command("plan", cls=ExitOneOnUsageError)
@ENV_OPTION
@SPEC_OPTION
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people, json (schemas/plan.schema.json), markdown for pull requests.",
)
@click.option(
    "--out",
    "out",
    metavar="FILE",
    type=click.Path(path_type=str),
    help="Also save the plan to FILE (JSON), for `mlinfra apply --env ENV FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when something does (1 on error).",
)
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
@click.option(
    "--refresh",
    is_flag=True,
    help="Read what really exists first (local: the emulator; sagemaker: `pulumi refresh`) "
    "and report drift; what was deleted outside mlinfra is planned to be created again.",
)
@click.option(
    "--allow-removal",
    "allow_removal",
    metavar="ADDRESS",
    multiple=True,
    help="Let the plan delete or replace this data-holding resource of a protected "
    "environment (repeatable).",
)
@reports_errors
def plan_command(
    env: str,
    spec_file: str,
    output: str,
    out: str | None,
    detailed_exitcode: bool,
    location: str | None,
    refresh: bool,
    allow_removal: tuple[str, ...],
) -> None:
    """Show what applying the spec to an environment would change.

    Compares what the spec compiles to with the environment's state: each resource is
    created, updated in place, replaced (with the reason), deleted, or left as it is, with
    the changed properties and the spec line responsible. Deleting or replacing feature
    stores, model registries, buckets or keys of a `protect: true` environment is refused
    unless --allow-removal names them. Exits 1 on error or refusal; with
    --detailed-exitcode, 0 when nothing changes and 2 when something does.
    """
    # Deferred: the operation loads the stages, and the plan's views rich; `mlinfra --version`
    # must not.
    from mlinfra.cli.views.progress import show_lookups
    from mlinfra.operations.plan import PlanRequest, plan
    from mlinfra.plan.file import save_plan
    from mlinfra.plan.model import PlanError
    from mlinfra.plan.views import to_json, to_markdown, to_text

    result = validate_spec(spec_file, output == "json", environments=(env,))
    request = PlanRequest(result, spec_file, env, location, refresh, allow_removal)
    planned = plan(request)
    found = planned.plan
    if output == "text":
        show_lookups(make_console(stderr=True), planned.lookups, planned.target)

    if output == "json":
        click.echo(to_json(found), nl=False)
    elif output == "markdown":
        click.echo(to_markdown(found), nl=False)
    else:
        state = planned.state
        say(
            make_console(stderr=True),
            f"state: {planned.where} (serial {state.serial})"
            if state.serial
            else f"state: none yet at {planned.where}",
            "dim",
        )
        make_console().print(to_text(found), end="")
    if planned.refused:
        fail(
            f"the plan would lose data in {env!r}: " + ", ".join(r.address for r in found.refused),
            "keep these resources in the spec, or name each with --allow-removal ADDRESS",
        )
    if out:
        try:
            save_plan(found, out)
        except PlanError as exc:
            fail(str(exc))
        say(
            make_console(stderr=True),
            f"Saved the plan to {out}: apply it with `mlinfra apply --env {env} {out}`",
            "dim",
        )
    raise SystemExit(CHANGES_EXIT if detailed_exitcode and found.has_changes else 0)
