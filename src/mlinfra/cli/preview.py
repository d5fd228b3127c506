"""`mlinfra preview`: a running copy of the ML system per branch, up, planned, down, listed, and
collected when it expires or its branch is gone."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from mlinfra.cli.common import fail, make_console, say, validate_spec
from mlinfra.cli.options import SPEC_OPTION, lock_timeout_option
from mlinfra.cli.plan import STATE_OPTION_HELP, ExitOneOnUsageError, state_location

BRANCH_HELP = "The git branch the preview is for.  [default: the branch checked out]"
BASE_HELP = "The environment the preview copies.  [default: the spec's previews.base]"


def _preview_options(command):
    for option in reversed(
        [
            click.option("--branch", metavar="NAME", help=BRANCH_HELP),
            click.option("--base", metavar="ENV", help=BASE_HELP),
            SPEC_OPTION,
            click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP),
        ]
    ):
        command = option(command)
    return command


def _apply_options(command):
    for option in reversed(
        [
            click.option(
                "--auto-approve", is_flag=True, help="Go ahead without asking for confirmation."
            ),
            lock_timeout_option("another command's lock on the preview"),
        ]
    ):
        command = option(command)
    return command


@click.group("preview")
def preview_command() -> None:
    """Preview environments: one per git branch, made from a base environment.

    Each command works on the branch checked out where the spec is, unless --branch names
    another (in CI, where the checkout is detached, pass it).

    A preview is named from its branch (`preview-<branch>`, with a hash when the branch has
    characters names cannot), takes its base's settings with `previews.overrides` applied,
    and has its own physical names and state (.mlinfra/state/preview-<branch>.json), which
    records the branch, the base and when the preview expires (`previews.ttl` after its last
    `up`).
    """


# --- shared steps ---------------------------------------------------------------------------


def branch_of(branch: str | None, spec_file: str) -> str:
    """`--branch`, else the branch checked out where the spec is; exits 1 when there is none."""
    from mlinfra.preview.git import GitError, current_branch

    if branch is not None:
        if not branch.strip():
            fail("--branch is empty", "pass --branch NAME")
        return branch
    try:
        return current_branch(Path(spec_file).resolve().parent)
    except GitError as exc:
        fail(f"cannot tell which branch to preview: {exc}", "pass --branch NAME")


def preview_of(result, branch: str, base: str | None, spec_file: str):
    """The preview's `EnvSpec`; exits 1 (after the diagnostics) when it is invalid."""
    from mlinfra.cli.views import diagnostics as view
    from mlinfra.diagnostics import has_errors
    from mlinfra.preview.environment import PreviewError, preview_spec

    try:
        found = preview_spec(result, branch, base, spec_file)
    except PreviewError as exc:
        fail(str(exc), exc.suggestion)
    problems = list(found.diagnostics)
    if has_errors(problems) or found.spec is None:
        view.print_text(make_console(stderr=True), problems, result.document.text)
        fail(f"the preview of branch {branch!r} is invalid", "fix the errors above")
    return found.spec


def backend_of(result, spec, spec_file: str, location: str | None):
    from mlinfra.state import StateError, backend_for

    try:
        return backend_for(
            state_location(spec, location), Path(spec_file).resolve().parent, spec.region
        )
    except StateError as exc:
        fail(str(exc))


def ttl_of(spec):
    from mlinfra.spec.values import parse_duration

    return parse_duration(spec.previews.ttl) if spec.previews is not None else None


def check_isolation(result, spec, spec_file: str, graph, backend) -> None:
    """Exit 1 when one of the preview's physical names is the base environment's or is
    recorded by another state: a preview must never touch what it does not own."""
    from mlinfra.cli.plan import lower_environment
    from mlinfra.preview.inventory import environments_in, graph_names, state_names
    from mlinfra.state import StateError

    mine = graph_names(graph)
    taken: dict[str, str] = {}
    base = result.environments.get(spec.base)
    if base is not None and base.target == spec.target:
        for name in graph_names(lower_environment(base, spec_file)):
            taken[name] = f"environment {spec.base!r}"
    try:
        for env in environments_in(backend):
            if env == spec.env:
                continue
            for name in state_names(backend.read(spec.project, env)):
                taken.setdefault(name, f"the state of {env!r}")
    except StateError as exc:
        fail(str(exc))
    clashes = sorted(name for name in mine if name in taken)
    if clashes:
        fail(
            f"the preview {spec.env!r} would reuse names it does not own: "
            + ", ".join(f"{n} ({taken[n]})" for n in clashes),
            "preview another branch name, or rename the component",
        )


def changed_only(
    result, spec, branch: str, spec_file: str, graph, backend, compare_to, backend_url=None
):
    """For `previews.mode: changed-only`, the graph of the changed components only, with
    references to the others pointing at the base environment, and the selection; else the
    graph as it is and None. A local base's resources are read from its state, a sagemaker
    base's from its Pulumi stack (in `backend_url`, else the default backend)."""
    from mlinfra.cli.plan import lower_environment
    from mlinfra.cli.preview_pulumi import base_resources
    from mlinfra.engines.pulumi import PulumiFailed, PulumiMissing
    from mlinfra.preview.changed import defer, is_changed_only, own_copies, select
    from mlinfra.preview.environment import PreviewError
    from mlinfra.state import StateError

    if not is_changed_only(spec):
        return graph, None
    try:
        selection = own_copies(graph, select(result, spec, branch, spec_file, compare_to))
        base_graph = lower_environment(result.environments[spec.base], spec_file)
        if spec.target == "local":
            base_state = backend.read(spec.project, spec.base)
        else:
            base_state = base_resources(spec, spec_file, backend_url)
        return defer(graph, base_graph, base_state, selection, spec.base), selection
    except PreviewError as exc:
        fail(str(exc), exc.suggestion)
    except StateError as exc:
        fail(str(exc))
    except PulumiMissing as exc:
        fail(f"reading {spec.base!r}'s resources: {exc}", exc.suggestion)
    except PulumiFailed as exc:
        fail(f"reading {spec.base!r}'s resources from its Pulumi stack: {exc}")


def describe_selection(selection, base: str) -> str:
    built = ", ".join(selection.changed) or "nothing"
    used = ", ".join(selection.deferred) or "nothing"
    text = f"changed-only, against {selection.against}: builds {built}; uses {base}'s {used}"
    if selection.own:
        text += f"; has its own {', '.join(selection.own)}, which what it builds writes into"
    return text


COMPARE_TO_HELP = (
    "The git revision a changed-only preview, and the comment's audit, compare with.  "
    "[default: the merge base of HEAD and origin/HEAD, main or master]"
)


BACKEND_HELP = (
    "For previews of sagemaker environments: where Pulumi keeps the stacks.  "
    "[default: the one the preview was brought up with, else $PULUMI_BACKEND_URL, else "
    "file://.mlinfra/pulumi beside the spec]"
)


# --- plan -----------------------------------------------------------------------------------


@preview_command.command("plan", cls=ExitOneOnUsageError)
@_preview_options
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text for people, json (schemas/plan.schema.json), markdown for a pull request comment.",
)
@click.option("--compare-to", "compare_to", metavar="REV", help=COMPARE_TO_HELP)
def plan_command(
    branch: str | None,
    base: str | None,
    spec_file: str,
    location: str | None,
    output: str,
    compare_to: str | None,
) -> None:
    """Show what `preview up` would change in the branch's preview.

    With --format markdown, a pull request comment: a summary, the plan, and the audit
    findings the branch adds or resolves against the revision it branched from.
    """
    from mlinfra.cli.plan import check_manageable, lookups, lower_environment, read_state
    from mlinfra.plan.diff import plan
    from mlinfra.plan.views import to_json, to_text

    result = validate_spec(spec_file, output == "json")
    branch = branch_of(branch, spec_file)
    spec = preview_of(result, branch, base, spec_file)
    graph = lower_environment(spec, spec_file)
    backend, state = read_state(result, spec, spec_file, location)
    _require_owner(state, spec, branch)
    check_manageable(spec, backend, state)
    graph, selection = changed_only(result, spec, branch, spec_file, graph, backend, compare_to)
    check_isolation(result, spec, spec_file, graph, backend)
    values = lookups(graph, spec_file, state)
    found = plan(graph, state, values.known, unavailable=values.unavailable)
    if output == "json":
        click.echo(to_json(found), nl=False)
    elif output == "markdown":
        from mlinfra.preview.comment import audit_comparison, comment

        audit = audit_comparison(spec_file, spec, compare_to)
        click.echo(comment(found, spec, branch, state, audit, selection), nl=False)
    else:
        console = make_console(stderr=True)
        say(
            console,
            f"preview {spec.env} of branch {branch} (based on {spec.base}); "
            f"state: {backend.describe(spec.env)}",
            "dim",
        )
        if selection is not None:
            say(console, describe_selection(selection, spec.base), "dim")
        make_console().print(to_text(found), end="")


def _require_owner(state, spec, branch: str) -> None:
    if state.preview is not None and state.preview.branch != branch:
        fail(
            f"{spec.env!r} is the preview of branch {state.preview.branch!r}, not {branch!r}",
            "two branches were given the same preview name (a hash collision); "
            f"`mlinfra preview down --branch {state.preview.branch}` frees it",
        )


# --- up and down ----------------------------------------------------------------------------


@preview_command.command("up", cls=ExitOneOnUsageError)
@_preview_options
@_apply_options
@click.option("--compare-to", "compare_to", metavar="REV", help=COMPARE_TO_HELP)
@click.option("--backend", "backend_url", metavar="URL", help=BACKEND_HELP)
def up_command(
    branch: str | None,
    base: str | None,
    spec_file: str,
    location: str | None,
    auto_approve: bool,
    lock_timeout: float,
    compare_to: str | None,
    backend_url: str | None,
) -> None:
    """Create or update the branch's preview, and push its expiry back by `previews.ttl`.

    Local previews run in the spec's emulator (started if none runs), beside the base
    environment, with names of their own: the plan is shown first. Previews of sagemaker
    environments are rendered into .mlinfra/previews/<preview>/ and applied with `pulumi up`
    on a stack named after the preview, which needs the Pulumi CLI; Pulumi shows its own
    preview. Either way it asks first (--auto-approve skips the question; without a
    terminal it is required).
    """
    from mlinfra.cli import preview_pulumi
    from mlinfra.cli.apply import apply_locked, require_pulumi
    from mlinfra.cli.plan import lower_environment
    from mlinfra.preview.inventory import StampingBackend, stamped, utc_now
    from mlinfra.state import LockError, StateError

    result = validate_spec(spec_file)
    branch = branch_of(branch, spec_file)
    spec = preview_of(result, branch, base, spec_file)
    with_pulumi = spec.target != "local"
    if with_pulumi:
        require_pulumi()
    graph = lower_environment(spec, spec_file)
    backend = backend_of(result, spec, spec_file, location)
    graph, selection = changed_only(
        result, spec, branch, spec_file, graph, backend, compare_to, backend_url
    )
    check_isolation(result, spec, spec_file, graph, backend)
    console = make_console()
    if selection is not None:
        say(console, describe_selection(selection, spec.base), "dim")
    try:
        with backend.lock(spec.env, "mlinfra preview up", lock_timeout):
            state = backend.read(spec.project, spec.env)
            _require_owner(state, spec, branch)
            info = stamped(state.preview, branch, spec.base, ttl_of(spec), utc_now())
            say(console, f"preview {spec.env} of branch {branch}, based on {spec.base}", "bold")
            if with_pulumi:
                preview_pulumi.up(
                    spec, spec_file, graph, backend, state, info, backend_url, auto_approve
                )
                info = backend.read(spec.project, spec.env).preview
            else:
                apply_locked(
                    spec, spec_file, graph, StampingBackend(backend, info), state,
                    auto_approve, (), None, False,
                )  # fmt: skip
                # Nothing may have changed: the expiry still moves, since the branch is alive.
                state = backend.read(spec.project, spec.env)
                if not state.is_empty and state.preview != info:
                    backend.write(dataclasses.replace(state, preview=info))
    except (LockError, StateError) as exc:
        fail(str(exc))
    if not with_pulumi:
        _show_urls(console, graph, backend, spec, spec_file)
    expiry = f"expires {info.expires_at}" if info.expires_at else "never expires (no ttl)"
    say(console, f"preview {spec.env} {expiry}; `mlinfra preview down` removes it", "dim")


def _show_urls(console, graph, backend, spec, spec_file: str) -> None:
    """Where to call the preview's endpoints: what a reviewer wants from a running copy."""
    from mlinfra.emulator import process
    from mlinfra.render.outputs import outputs_document
    from mlinfra.state import StateError

    running = process.status(spec_file)
    if running is None:
        return
    try:
        state = backend.read(spec.project, spec.env)
    except StateError:
        return
    document = outputs_document(graph, state, running.url)
    for address, component in document["components"].items():
        if component.get("url"):
            say(console, f"  {address}: {component['url']}", "bold")


@preview_command.command("down", cls=ExitOneOnUsageError)
@_preview_options
@_apply_options
@click.option("--backend", "backend_url", metavar="URL", help=BACKEND_HELP)
def down_command(
    branch: str | None,
    base: str | None,
    spec_file: str,
    location: str | None,
    auto_approve: bool,
    lock_timeout: float,
    backend_url: str | None,
) -> None:
    """Destroy the branch's preview and remove its state.

    The base environment and other previews are untouched. A preview of a sagemaker
    environment is destroyed with `pulumi destroy`, and its stack removed. Exits 0 when the
    branch has no preview.
    """
    result = validate_spec(spec_file)
    branch = branch_of(branch, spec_file)
    code = destroy_preview(
        result, spec_file, branch, base, location, auto_approve, lock_timeout, backend_url
    )
    if code:
        raise SystemExit(code)


def destroy_preview(
    result,
    spec_file: str,
    branch: str,
    base: str | None,
    location: str | None,
    auto_approve: bool,
    lock_timeout: float,
    backend_url: str | None = None,
) -> int:
    """Destroy one preview; its exit code (0 done or nothing to do, 1 failed)."""
    from mlinfra.cli import preview_pulumi
    from mlinfra.cli.apply import apply_locked
    from mlinfra.cli.plan import lower_environment
    from mlinfra.ir.graph import ResourceGraph
    from mlinfra.preview.inventory import remove_state
    from mlinfra.state import LockError, StateError

    console = make_console()
    spec = _spec_for_down(result, branch, base, spec_file, location)
    env = spec.env
    backend = backend_of(result, spec, spec_file, location)
    try:
        with backend.lock(env, "mlinfra preview down", lock_timeout):
            state = backend.read(spec.project, env)
            if state.preview is None and state.is_empty:
                say(console, f"branch {branch} has no preview ({env}): nothing to destroy")
                return 0
            _require_owner(state, spec, branch)
            if state.preview is not None and state.preview.engine == "pulumi":
                code = preview_pulumi.down(
                    spec, spec_file, lower_environment(spec, spec_file), backend, state,
                    backend_url, auto_approve,
                )  # fmt: skip
                if code:
                    return code
                state = backend.read(spec.project, env)
            elif not state.is_empty:
                if spec.target != "local":
                    say(
                        make_console(stderr=True),
                        f"error: the state of {env!r} holds local resources, but its base "
                        f"{spec.base!r} is a {spec.target} environment: pass --base with "
                        "the local environment it was brought up from",
                        "bold red",
                    )
                    return 1
                empty = ResourceGraph(spec.project, env, spec.target, spec.region, ())
                try:
                    apply_locked(
                        spec, spec_file, empty, backend, state, auto_approve, (), None, True
                    )
                except SystemExit as exc:
                    if exc.code:
                        return exc.code if isinstance(exc.code, int) else 1
                state = backend.read(spec.project, env)
            if state.is_empty:
                remove_state(backend, env)
                say(console, f"removed the preview {env} of branch {branch}", "bold green")
    except (LockError, StateError) as exc:
        say(make_console(stderr=True), f"error: {exc}", "bold red")
        return 1
    return 0


def _spec_for_down(result, branch: str, base: str | None, spec_file: str, location: str | None):
    """The preview's spec: on `base` when given, else on the base its state records (when the
    spec still has it), else on `previews.base` (else the first environment)."""
    from mlinfra.preview.environment import default_base
    from mlinfra.state import StateError

    if base is not None:
        return preview_of(result, branch, base, spec_file)
    fallback = default_base(result.document.root)
    if fallback not in result.environments:
        fallback = next(iter(result.environments), None)
    if fallback is None:
        fail(f"{spec_file} has no environments")
    spec = preview_of(result, branch, fallback, spec_file)
    try:
        state = backend_of(result, spec, spec_file, location).read(spec.project, spec.env)
    except StateError as exc:
        fail(str(exc))
    recorded = state.preview.base if state.preview else None
    if recorded and recorded != fallback and recorded in result.environments:
        return preview_of(result, branch, recorded, spec_file)
    return spec


# --- list and gc ----------------------------------------------------------------------------


def _project_backend(result, spec_file: str, location: str | None):
    """The state backend previews of this spec live in (the default base's region for S3)."""
    specs = list(result.environments.values())
    if not specs:
        fail(f"{spec_file} has no environments")
    from mlinfra.preview.environment import default_base

    base = result.environments.get(default_base(result.document.root) or "", specs[0])
    return base.project, backend_of(result, base, spec_file, location)


@preview_command.command("list")
@SPEC_OPTION
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(spec_file: str, location: str | None, as_json: bool) -> None:
    """List the project's previews: branch, base, age, expiry and resource count."""
    from rich.table import Table
    from rich.text import Text

    from mlinfra.preview.inventory import describe_age, list_previews, parse_timestamp, utc_now
    from mlinfra.state import StateError

    result = validate_spec(spec_file, as_json)
    project, backend = _project_backend(result, spec_file, location)
    try:
        previews, problems = list_previews(backend, project)
    except StateError as exc:
        fail(str(exc))
    for problem in problems:
        say(make_console(stderr=True), f"warning: {problem}", "yellow")
    now = utc_now()
    if as_json:
        document = {
            "project": project,
            "previews": [
                {
                    "environment": p.env,
                    **p.info.to_json(),
                    "expired": p.expired(now),
                    "resources": p.resources,
                    "state": p.where,
                }
                for p in previews
            ],
        }
        click.echo(json.dumps(document, indent=2))
        return
    console = make_console()
    if not previews:
        say(console, f"{project} has no previews.")
        return
    table = Table(title=Text(f"{project}: previews"))
    # Names fold rather than lose their ends: the hash that tells two previews apart is last.
    table.add_column("branch", overflow="fold")
    table.add_column("environment", overflow="fold")
    for column in ("base", "age", "expires"):
        table.add_column(column, no_wrap=True)
    table.add_column("resources", justify="right", no_wrap=True)
    for p in previews:
        if p.info.expires_at is None:
            expires = Text("never")
        elif p.expired(now):
            ago = describe_age(now - parse_timestamp(p.info.expires_at))
            expires = Text(f"expired {ago} ago", style="red")
        else:
            expires = Text(f"in {describe_age(parse_timestamp(p.info.expires_at) - now)}")
        table.add_row(
            Text(p.info.branch),
            Text(p.env),
            Text(p.info.base),
            Text(describe_age(p.age(now))),
            expires,
            Text(str(p.resources)),
        )
    console.print(table)


@preview_command.command("gc", cls=ExitOneOnUsageError)
@SPEC_OPTION
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
@click.option(
    "--prune-merged",
    is_flag=True,
    help="Also destroy previews whose branch no longer exists in git, locally or as a "
    "remote-tracking branch (run `git fetch --prune` first).",
)
@click.option("--dry-run", is_flag=True, help="Only say which previews would be destroyed.")
@_apply_options
def gc_command(
    spec_file: str,
    location: str | None,
    prune_merged: bool,
    dry_run: bool,
    auto_approve: bool,
    lock_timeout: float,
) -> None:
    """Destroy expired previews (and, with --prune-merged, those of deleted branches).

    Exits 1 when one of them cannot be destroyed; the others are still collected.
    """
    from mlinfra.preview.git import GitError, existing_branches
    from mlinfra.preview.inventory import list_previews, utc_now
    from mlinfra.state import StateError

    result = validate_spec(spec_file)
    project, backend = _project_backend(result, spec_file, location)
    try:
        previews, problems = list_previews(backend, project)
    except StateError as exc:
        fail(str(exc))
    console = make_console()
    for problem in problems:
        say(make_console(stderr=True), f"warning: {problem}", "yellow")
    branches = None
    if prune_merged:
        try:
            branches = existing_branches(Path(spec_file).resolve().parent)
        except GitError as exc:
            fail(f"--prune-merged asks git which branches exist: {exc}", "leave out --prune-merged")
    now = utc_now()
    doomed: list[tuple[object, str]] = []
    for p in previews:
        if p.expired(now):
            doomed.append((p, f"expired at {p.info.expires_at}"))
        elif branches is not None and p.info.branch not in branches:
            doomed.append((p, f"branch {p.info.branch} no longer exists"))
    if not doomed:
        say(console, f"nothing to collect: {len(previews)} preview(s), none expired", "green")
        return
    for p, why in doomed:
        say(console, f"  {p.env} (branch {p.info.branch}): {why}")
    if dry_run:
        say(console, f"{len(doomed)} preview(s) would be destroyed (--dry-run)")
        return
    if not auto_approve:
        if not sys.stdin.isatty():
            fail(
                "not destroying without confirmation",
                "pass --auto-approve, or run it in a terminal",
            )
        if not click.confirm(f"Destroy these {len(doomed)} preview(s)?", default=False):
            say(console, "Nothing changed.")
            raise SystemExit(1)
    failed = [
        p.env
        for p, _ in doomed
        if destroy_preview(
            result,
            spec_file,
            p.info.branch,
            p.info.base if p.info.base in result.environments else None,
            location,
            True,
            lock_timeout,
        )
    ]
    if failed:
        fail(f"could not destroy {len(failed)} preview(s): {', '.join(failed)}")
    say(console, f"collected {len(doomed)} preview(s)", "bold green")
