"""`mlinfra apply` and `mlinfra destroy`: carry out a plan, with the state locked."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from mlinfra.cli.common import ENV_OPTION_HELP, fail, make_console, say, validate_spec
from mlinfra.cli.options import SPEC_OPTION, lock_timeout_option
from mlinfra.cli.plan import (
    STATE_OPTION_HELP,
    ExitOneOnUsageError,
    check_manageable,
    environment_spec,
    lookups,
    lower_environment,
    show_lookups,
    state_location,
)

EVENT_STYLES = {"done": "green", "failed": "bold red", "waiting": "yellow"}
VERBS = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "replace (old)": "deleted the replaced",
}


@dataclass(frozen=True)
class Engine:
    """`--engine` and `--backend`: what carries out the changes (None: the target's own)."""

    name: str | None
    backend_url: str | None


def _options(command):
    for option in reversed(
        [
            click.option("--env", "env", metavar="ENV", required=True, help=ENV_OPTION_HELP),
            SPEC_OPTION,
            click.option(
                "--auto-approve", is_flag=True, help="Apply without asking for confirmation."
            ),
            click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP),
            lock_timeout_option("another apply's lock"),
            click.option(
                "--engine",
                type=click.Choice(["embedded", "pulumi"]),
                help="What carries out the changes: embedded (local environments) or pulumi "
                "(the rendered program, with the Pulumi CLI).  [default: embedded for local, "
                "pulumi for sagemaker]",
            ),
            click.option(
                "--backend",
                "backend_url",
                metavar="URL",
                help="With the pulumi engine: where Pulumi keeps the stack's state.  "
                "[default: $PULUMI_BACKEND_URL, else file://.mlinfra/pulumi beside the spec]",
            ),
            click.option(
                "--allow-removal",
                "allow_removal",
                metavar="ADDRESS",
                multiple=True,
                help="Let this data-holding resource of a protected environment be deleted "
                "or replaced (repeatable).",
            ),
        ]
    ):
        command = option(command)
    return command


@click.command("apply", cls=ExitOneOnUsageError)
@click.argument("plan_file", required=False, metavar="[PLAN_FILE]")
@_options
def apply_command(
    plan_file: str | None,
    env: str,
    spec_file: str,
    auto_approve: bool,
    location: str | None,
    lock_timeout: float,
    engine: str | None,
    backend_url: str | None,
    allow_removal: tuple[str, ...],
) -> None:
    """Make an environment what the spec says: plan, confirm, then change it.

    Shows the plan and asks before changing anything (--auto-approve skips the question;
    without a terminal it is required). With PLAN_FILE (from `mlinfra plan --out`), applies
    exactly that plan, refused if the state has changed since it was made. Local
    environments are applied by the embedded engine through the emulator (started if none
    runs); the state is written after every resource, so an interrupted apply resumes.
    Sagemaker environments are applied by `pulumi up`; then each endpoint is described, and
    one that does not serve the configuration applied (SageMaker rolled the update back) is
    reported with why and recorded as it is. What needs a model version none approved yet
    waits, with why, on both targets. Exits 1 on error, when another apply holds the lock,
    when a resource fails, or when an endpoint does not serve what was applied.
    """
    _run(
        env, spec_file, auto_approve, location, lock_timeout, allow_removal,
        Engine(engine, backend_url), plan_file,
    )  # fmt: skip


@click.command("destroy", cls=ExitOneOnUsageError)
@_options
def destroy_command(
    env: str,
    spec_file: str,
    auto_approve: bool,
    location: str | None,
    lock_timeout: float,
    engine: str | None,
    backend_url: str | None,
    allow_removal: tuple[str, ...],
) -> None:
    """Delete every resource the environment's state records, dependents first.

    In a `protect: true` environment, feature stores, registries, buckets and keys are kept
    unless --allow-removal names them. A registry goes with the model versions registered in
    it. Exits 1 on error or refusal.
    """
    _run(
        env, spec_file, auto_approve, location, lock_timeout, allow_removal,
        Engine(engine, backend_url), destroy=True,
    )  # fmt: skip


def _run(
    env: str,
    spec_file: str,
    auto_approve: bool,
    location: str | None,
    lock_timeout: float,
    allow_removal: tuple[str, ...],
    engine: Engine,
    plan_file: str | None = None,
    destroy: bool = False,
) -> None:
    from mlinfra.state import LockError, StateError, backend_for

    result = validate_spec(spec_file)
    spec = environment_spec(result, env, spec_file)
    chosen = engine.name or ("embedded" if spec.target == "local" else "pulumi")
    if chosen == "pulumi":
        _refuse_embedded_only_options(plan_file, allow_removal)
        require_pulumi()
    elif spec.target != "local":
        fail(
            f"the embedded engine applies local environments; {spec.env!r} is a "
            f"{spec.target} environment",
            "leave out --engine (sagemaker environments use --engine pulumi)",
        )
    graph = lower_environment(spec, spec_file)
    spec_dir = Path(spec_file).resolve().parent
    command = "mlinfra destroy" if destroy else "mlinfra apply"
    try:
        backend = backend_for(state_location(spec, location), spec_dir, spec.region)
        with backend.lock(env, command, lock_timeout) as lock:
            if getattr(lock, "taken_over", None):
                say(make_console(stderr=True), f"took over a stale lock: {lock.taken_over}", "dim")
            state = backend.read(spec.project, env)
            if chosen == "pulumi":
                if state.project != spec.project:
                    fail(f"the state of {spec.env!r} belongs to project {state.project!r}")
                apply_with_pulumi(
                    spec, spec_file, graph, Path(spec_file).parent / "stacks" / spec.env,
                    backend, state, engine.backend_url, auto_approve, destroy,
                )  # fmt: skip
                return
            apply_locked(
                spec, spec_file, graph, backend, state, auto_approve, allow_removal,
                plan_file, destroy,
            )  # fmt: skip
    except (LockError, StateError) as exc:
        fail(str(exc))


def _refuse_embedded_only_options(plan_file: str | None, allow_removal: tuple[str, ...]) -> None:
    if plan_file:
        fail(
            "a saved plan is carried out by the embedded engine; the pulumi engine shows "
            "Pulumi's own preview and asks before changing anything",
            "leave out PLAN_FILE",
        )
    if allow_removal:
        fail(
            "--allow-removal is for the embedded engine; Pulumi protects data-holding "
            "resources itself (they are rendered with `protect=True`)",
            "unprotect one with `pulumi state unprotect URN` in the rendered project",
        )


def apply_locked(
    spec, spec_file, graph, backend, state, auto_approve, allow_removal, plan_file, destroy
) -> None:
    from mlinfra.engines.local import apply_plan
    from mlinfra.ir.graph import ResourceGraph
    from mlinfra.plan.diff import plan
    from mlinfra.plan.file import load_plan
    from mlinfra.plan.model import PlanError
    from mlinfra.plan.views import to_text
    from mlinfra.providers.local import LocalProvider, ProviderError

    if state.project != spec.project:
        fail(f"the state of {spec.env!r} belongs to project {state.project!r}")
    check_manageable(spec, backend, state)
    try:
        # Applying a local environment starts its emulator when none runs.
        provider = LocalProvider.for_spec(spec_file, spec.region, start=True)
    except ProviderError as exc:
        fail(str(exc))
    if destroy:
        graph = ResourceGraph(graph.project, graph.env, graph.target, graph.region, ())
    values = lookups(graph, spec_file, state)
    known = values.known
    if plan_file:
        try:
            found = load_plan(plan_file)
        except PlanError as exc:
            fail(str(exc))
        if (found.project, found.environment) != (spec.project, spec.env):
            fail(f"{plan_file} is a plan of {found.project} ({found.environment}), not {spec.env}")
        if (found.state_serial, found.state_lineage) != (state.serial, state.lineage):
            fail(
                f"{plan_file} is stale: the state of {spec.env!r} has changed since it was made",
                f"plan again: mlinfra plan --env {spec.env} --out {plan_file}",
            )
    else:
        found = plan(
            graph,
            state,
            known,
            allow_removal=allow_removal,
            protect=spec.protect,
            unavailable=values.unavailable,
        )
    show_lookups(values, spec.target)
    console = make_console()
    console.print(to_text(found), end="")
    if not found.ok:
        fail(
            "the plan would lose data: " + ", ".join(r.address for r in found.refused),
            "keep these resources in the spec, or name each with --allow-removal ADDRESS",
        )
    if not found.has_changes:
        say(console, f"{spec.env} is up to date: nothing to do.", "bold green")
        return
    confirm(auto_approve, "destroy" if destroy else "apply", spec.env)

    started = time.perf_counter()
    with console.status(f"applying to {spec.env}…") as status:

        def on_event(address: str, action: str, what: str) -> None:
            if what == "started":
                status.update(f"{action} {address}…")
            elif what in EVENT_STYLES:
                verb = VERBS.get(action, action) if what == "done" else what
                say(console, f"  {verb}: {address}", EVENT_STYLES[what])

        applied = apply_plan(found, graph, state, backend, provider, known, on_event)
    outcome = applied.outcome
    show_waiting(console, outcome.waiting)
    for address, why in outcome.failed.items():
        say(console, f"  failed: {address}: {why}", "bold red")
    summary = (
        f"{len(outcome.done)} changed, {len(outcome.waiting)} waiting, "
        f"{len(outcome.failed)} failed in {time.perf_counter() - started:.1f} s; "
        f"state serial {applied.state.serial}"
    )
    say(console, summary, "bold green" if outcome.ok else "bold red")
    if outcome.stopped:
        from mlinfra.emulator.process import LOG_FILE, state_dir_of

        fail(
            f"the {'destroy' if destroy else 'apply'} stopped: {outcome.stopped}",
            f"see why in {state_dir_of(spec_file) / LOG_FILE}; start it again with `mlinfra "
            f"emulator start -f {spec_file}` (or just rerun this command, which starts one) "
            "and rerun this command: the state records what was done, and it carries on "
            "from there",
        )
    if not outcome.ok:
        raise SystemExit(1)


def confirm(auto_approve: bool, verb: str, env: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        fail(f"not {verb}ing without confirmation", "pass --auto-approve, or run it in a terminal")
    if not click.confirm(f"{verb.capitalize()} these changes to {env}?", default=False):
        say(make_console(), "Nothing changed.")
        raise SystemExit(1)


def require_pulumi() -> None:
    """Exit 1, before anything is locked or written, when the Pulumi CLI is missing."""
    from mlinfra.engines import pulumi as engine

    try:
        engine.require_pulumi()
    except engine.PulumiMissing as exc:
        fail(str(exc), exc.suggestion)


def apply_with_pulumi(
    spec,
    spec_file: str,
    graph,
    out_dir: Path,
    backend,
    state,
    backend_url: str | None,
    auto_approve: bool,
    destroy: bool,
    on_confirmed=None,
):
    """Render `graph` into `out_dir` and `pulumi up` (or destroy) it on the stack named after
    the environment, then record what Pulumi applied in the state, with the outputs its
    stack holds (ARNs...), so that `plan` and `output` know it; the state as written.

    Pulumi shows its own preview and keeps its own state. When it fails, the state is left
    as it was: the next plan still shows the changes, and Pulumi knows what it got done.
    `on_confirmed(state)`, called once the user said yes and before Pulumi starts, may write
    the state and return it (a preview records itself there).
    """
    from mlinfra.cli.common import posix_relpath, write_stack
    from mlinfra.engines import endpoints
    from mlinfra.engines import pulumi as engine
    from mlinfra.plan.values import from_program
    from mlinfra.render.helpers import LOOKUPS_OUTPUT
    from mlinfra.render.pulumi import render_project

    write_stack(
        render_project(graph, spec, posix_relpath(spec_file, str(out_dir))),
        out_dir,
        "Pulumi runs the project from there: make it a folder mlinfra can write",
    )
    console = make_console()
    verb = "destroy" if destroy else "up"
    say(console, f"rendered {out_dir}/; running pulumi {verb} on stack {spec.env}")
    confirm(auto_approve, "destroy" if destroy else "apply", spec.env)
    if on_confirmed is not None:
        state = on_confirmed(state)
    spec_dir = Path(spec_file).resolve().parent
    # A local environment's state is the embedded engine's, which records each request it
    # sent; running its program with Pulumi (--engine pulumi) leaves that state alone.
    records = spec.target != "local"
    started = datetime.now(UTC)
    try:
        if destroy:
            engine.destroy(out_dir, spec.env, spec_dir, backend_url, on_output=click.echo)
            if not records:
                return state
            return backend.write(engine.recorded(state, graph, {}, destroyed=True))
        stale = endpoints.not_serving(state) if records else {}
        if stale:
            # Pulumi's state says these endpoints serve what was applied; it must read them
            # back, or it sees nothing to update.
            what = ", ".join(stale)
            say(console, f"refreshing stack {spec.env} first: {what} did not serve the update")
            engine.refreshed(spec.project, spec.env, spec_dir, backend_url)
        outputs = engine.up(out_dir, spec.env, spec_dir, backend_url, on_output=click.echo)
        if records:
            stack = engine.stack_resources(spec.project, spec.env, spec_dir, backend_url)
    except engine.PulumiFailed as exc:
        fail(str(exc), f"fix it and run it again; the state of {spec.env!r} is unchanged")
    for name, value in outputs.items():
        if name != LOOKUPS_OUTPUT:
            say(console, f"  {name} = {value}")
    values = from_program(graph, outputs)
    show_waiting(console, values.waiting(graph), values.notes)
    if not records:
        return state
    written = backend.write(engine.recorded(state, graph, stack, values=values))
    waiting = len(values.waiting(graph))
    say(
        console,
        f"{len(written.resources)} resource(s) recorded, {waiting} waiting; "
        f"state serial {written.serial}",
        "bold green",
    )
    return check_serving(spec, written, backend, endpoints.applied_endpoints(graph, stack), started)


def show_waiting(console, waiting: dict[str, str], notes=()) -> None:
    """The versions kept for want of an approved one, and what waits, with why. What waits
    only because another resource does is named in one line after it:
    `waiting: a, b, c: waits for model.churn-model`."""
    from mlinfra.ir.waiting import grouped

    for note in notes:
        say(console, f"  keeps serving: {note}", "yellow")
    for addresses, why in grouped(waiting):
        say(console, f"  waiting: {', '.join(addresses)}: {why}", "yellow")


def check_serving(spec, state, backend, applied, since=None):
    """Describe each endpoint of `applied` ((address, name, configuration, alarms), see
    `engines.endpoints`); record in the state what really serves. Exits 1, once the state
    is written, when an endpoint does not serve the configuration applied."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mlinfra.engines import aws, endpoints

    if not applied:
        return state
    console = make_console()
    try:
        sagemaker, cloudwatch = aws.clients(spec.region, "sagemaker", "cloudwatch")
        checks = endpoints.check(sagemaker, cloudwatch, applied, since)
    except aws.NoCredentials as exc:
        say(console, f"did not check what the endpoints serve: {exc}", "yellow")
        return state
    except (BotoCoreError, ClientError) as exc:
        fail(
            f"could not check what the endpoints of {spec.env!r} serve: {exc}",
            f"check them with `mlinfra refresh --env {spec.env}` once AWS answers",
        )
    updated = endpoints.recorded(state, checks)
    if updated.resources != state.resources:
        state = backend.write(updated)
    wrong = [c for c in checks if not c.ok and c.serving is not None]
    for found in checks:
        if found.ok:
            say(console, f"  serving: {found.address} serves {found.serving} ({found.status})")
    for found in wrong:
        say(
            console,
            f"  not serving what was applied: {found.address} ({found.endpoint}) serves "
            f"{found.serving}, not {found.applied}: {found.reason}",
            "bold red",
        )
    if wrong:
        fail(
            f"{len(wrong)} endpoint(s) of {spec.env!r} do not serve what was applied; the "
            "state records what they serve",
            f"fix the cause, then `mlinfra apply --env {spec.env}` again (it refreshes the "
            "stack first, so Pulumi makes the update again)",
        )
    return state
