"""`mlinfra plan`: what applying the spec to an environment would change."""

from __future__ import annotations

from pathlib import Path

import click

from mlinfra.cli.common import (
    environment_of,
    fail,
    lower_spec,
    make_console,
    say,
    validate_spec,
)
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION

CHANGES_EXIT = 2
STATE_OPTION_HELP = (
    "Where the state is: a folder (relative to the spec) or s3://BUCKET/PREFIX.  "
    "[default: the spec's `state:`, else .mlinfra/state]"
)


def state_location(spec, option: str | None) -> str:
    """`--state`, else the spec's `state:` (which the schema defaults)."""
    return option or spec.state


def environment_spec(result, env: str, spec_file: str):
    """The `EnvSpec` of `env`, of either target; exits 1 naming the known ones otherwise."""
    found = result.environments.get(env)
    # Reporting a missing environment (with "did you mean") is `environment_of`'s.
    return found if found is not None else environment_of(result, env, spec_file)


def lower_environment(spec, spec_file: str):
    """The environment's graph; exits 1 when the spec cannot run on its target."""
    from mlinfra.ir.local.models import LocalTargetError

    try:
        return lower_spec(spec, spec_file)
    except LocalTargetError as exc:  # e.g. a model artifact in S3, for the local emulator
        fail(f"cannot compile environment {spec.env!r}: {exc}")


def lookups(graph, spec_file: str, state):
    """The values the graph leaves to apply time (the model version to serve), looked up as
    the apply will: a local environment's in its emulator when one runs; a sagemaker
    environment's in SageMaker, with the user's credentials (`mlinfra.plan.values`). What
    cannot be looked up is left unknown, with why."""
    from mlinfra.plan import values

    if graph.target == "local":
        from mlinfra.providers.local import LocalProvider, ProviderError

        try:
            provider = LocalProvider.for_spec(spec_file, graph.region, start=False)
        except ProviderError as exc:
            return values.Lookups(unread=str(exc))
        return values.from_emulator(graph, provider, state)
    from mlinfra.engines import aws

    if not values.lookups_in(graph):  # nothing to ask: no credentials needed
        return values.Lookups()
    try:
        (client,) = aws.clients(graph.region, "sagemaker")
    except aws.NoCredentials as exc:
        return values.Lookups(unread=str(exc))
    return values.from_sagemaker(graph, client)


def show_lookups(found, target: str) -> None:
    """Say which versions are kept for want of an approved one, and what was not looked up."""
    console = make_console(stderr=True)
    for note in found.notes:
        say(console, f"keeps serving: {note}", "yellow")
    if found.unread and target != "local":
        say(
            console,
            f"the model registry was not read ({found.unread}): what waits for a model "
            "version is known when apply runs",
            "dim",
        )


def refreshed_state(spec, spec_file: str, state, backend_url: str | None = None) -> dict:
    """What really exists of what the state records, address -> its values or None when it is
    gone: local environments ask the emulator, sagemaker ones `pulumi refresh` their stack
    (in `backend_url`, else $PULUMI_BACKEND_URL, else the default backend)."""
    if spec.target != "local":
        return _refreshed_with_pulumi(spec, spec_file, state, backend_url)
    from mlinfra.engines.local import observed
    from mlinfra.providers.local import LocalProvider, ProviderError

    try:
        provider = LocalProvider.for_spec(spec_file, spec.region, start=False)
        return observed(state, provider)
    except ProviderError as exc:
        fail(f"cannot refresh {spec.env!r}: {exc}")


def _refreshed_with_pulumi(spec, spec_file: str, state, backend_url: str | None) -> dict:
    from mlinfra.engines import pulumi as engine

    if state.is_empty:  # never applied through mlinfra: nothing recorded to compare
        return {}
    try:
        spec_dir = Path(spec_file).resolve().parent
        found = engine.refreshed(spec.project, spec.env, spec_dir, backend_url)
    except engine.PulumiMissing as exc:
        fail(f"refreshing {spec.env!r}: {exc}", exc.suggestion)
    except engine.PulumiFailed as exc:
        fail(f"cannot refresh {spec.env!r}: {exc}")
    return {address: found.get(address) for address in state}


def read_state(result, spec, spec_file: str, location: str | None):
    """The environment's backend and state; exits 1 with the reason when it cannot be read."""
    from mlinfra.state import StateError, backend_for

    try:
        backend = backend_for(
            state_location(spec, location), Path(spec_file).resolve().parent, spec.region
        )
        return backend, backend.read(spec.project, spec.env)
    except StateError as exc:
        fail(str(exc))


def check_manageable(spec, backend, state) -> None:
    """Exit 1 when a local environment's state records resources of a type the embedded
    engine has no provider for: applying could not delete or change them, so planning says so."""
    if spec.target != "local":
        return
    from mlinfra.engines.local import unmanaged
    from mlinfra.providers.local import KINDS

    found = unmanaged(state)
    if found:
        fail(
            f"the state of {spec.env!r} ({backend.describe(spec.env)}) records resources of "
            "types the local engine does not know: "
            + ", ".join(f"{address} ({type_})" for address, type_ in found.items())
            + f"; it knows {', '.join(KINDS)}",
            "the state was edited by hand or written by another mlinfra: restore it from its "
            ".backup beside it or from version control",
        )


class ExitOneOnUsageError(click.Command):
    """Click exits 2 on a usage error, which --detailed-exitcode means "changes": here 1."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise


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
    from mlinfra.plan.diff import plan
    from mlinfra.plan.file import save_plan
    from mlinfra.plan.model import PlanError
    from mlinfra.plan.views import to_json, to_markdown, to_text

    result = validate_spec(spec_file, output == "json")
    spec = environment_spec(result, env, spec_file)
    graph = lower_environment(spec, spec_file)
    backend, state = read_state(result, spec, spec_file, location)
    if state.project != spec.project:
        fail(f"the state of {env!r} belongs to project {state.project!r}, not {spec.project!r}")
    check_manageable(spec, backend, state)
    values = lookups(graph, spec_file, state)
    found = plan(
        graph,
        state,
        values.known,
        allow_removal=allow_removal,
        protect=spec.protect,
        refreshed=refreshed_state(spec, spec_file, state) if refresh else None,
        unavailable=values.unavailable,
    )
    if output == "text":
        show_lookups(values, spec.target)

    if output == "json":
        click.echo(to_json(found), nl=False)
    elif output == "markdown":
        click.echo(to_markdown(found), nl=False)
    else:
        where = backend.describe(env)
        say(
            make_console(stderr=True),
            f"state: {where} (serial {state.serial})"
            if state.serial
            else f"state: none yet at {where}",
            "dim",
        )
        make_console().print(to_text(found), end="")
    if not found.ok:
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
