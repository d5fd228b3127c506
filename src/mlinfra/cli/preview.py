"""`mlinfra preview`: a running copy of the ML system per branch, up, planned, down, listed, and
collected when it expires or its branch is gone."""

from __future__ import annotations

import json

import click

from mlinfra.cli.common import confirmer, make_console, reports_errors, say, validate_spec
from mlinfra.cli.options import (
    SPEC_OPTION,
    STATE_OPTION_HELP,
    ExitOneOnUsageError,
    lock_timeout_option,
)

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
@reports_errors
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
    # Deferred: the operation loads the stages; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import describe_selection
    from mlinfra.operations.preview import PreviewRequest, plan
    from mlinfra.plan.views import to_json, to_text
    from mlinfra.preview.comment import comment

    result = validate_spec(spec_file, output == "json")
    request = PreviewRequest(
        result,
        spec_file,
        branch,
        base,
        location,
        compare_to=compare_to,
        with_audit=output == "markdown",
    )
    found = plan(request)
    spec = found.spec
    if output == "json":
        click.echo(to_json(found.plan), nl=False)
    elif output == "markdown":
        text = comment(found.plan, spec, found.branch, found.state, found.audit, found.selection)
        click.echo(text, nl=False)
    else:
        console = make_console(stderr=True)
        say(
            console,
            f"preview {spec.env} of branch {found.branch} (based on {spec.base}); "
            f"state: {found.where}",
            "dim",
        )
        if found.selection is not None:
            say(console, describe_selection(found.selection, spec.base), "dim")
        make_console().print(to_text(found.plan), end="")


# --- up and down ----------------------------------------------------------------------------


@preview_command.command("up", cls=ExitOneOnUsageError)
@_preview_options
@_apply_options
@click.option("--compare-to", "compare_to", metavar="REV", help=COMPARE_TO_HELP)
@click.option("--backend", "backend_url", metavar="URL", help=BACKEND_HELP)
@reports_errors
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
    # Deferred: the operation loads the stages and the engines; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.preview import PreviewRequest, up

    result = validate_spec(spec_file)
    request = PreviewRequest(
        result,
        spec_file,
        branch,
        base,
        location,
        compare_to=compare_to,
        lock_timeout=lock_timeout,
        backend_url=backend_url,
    )
    with ProgressView() as progress:
        found = up(request, progress, confirmer(auto_approve))
    if not found.ok:
        raise SystemExit(1)
    console = make_console()
    for address, url in found.urls.items():
        say(console, f"  {address}: {url}", "bold")
    info = found.info
    expiry = f"expires {info.expires_at}" if info.expires_at else "never expires (no ttl)"
    say(console, f"preview {found.env} {expiry}; `mlinfra preview down` removes it", "dim")


@preview_command.command("down", cls=ExitOneOnUsageError)
@_preview_options
@_apply_options
@click.option("--backend", "backend_url", metavar="URL", help=BACKEND_HELP)
@reports_errors
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
    # Deferred: the operation loads the stages and the engines; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.preview import PreviewRequest, down

    result = validate_spec(spec_file)
    request = PreviewRequest(
        result, spec_file, branch, base, location, lock_timeout=lock_timeout,
        backend_url=backend_url,
    )  # fmt: skip
    with ProgressView() as progress:
        found = down(request, progress, confirmer(auto_approve))
    if not found.ok:
        raise SystemExit(1)


# --- list and gc ----------------------------------------------------------------------------


@preview_command.command("list")
@SPEC_OPTION
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@reports_errors
def list_command(spec_file: str, location: str | None, as_json: bool) -> None:
    """List the project's previews: branch, base, age, expiry and resource count."""
    # Deferred: rich's text and the operation's stages; `mlinfra --version` must not.
    from rich.text import Text

    from mlinfra.cli.views.tables import print_listing
    from mlinfra.operations.preview import PreviewRequest, listed
    from mlinfra.preview.inventory import describe_age, parse_timestamp, utc_now

    result = validate_spec(spec_file, as_json)
    found = listed(PreviewRequest(result, spec_file, location=location))
    project, previews = found.project, found.previews
    for problem in found.problems:
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
    rows = []
    for p in previews:
        if p.info.expires_at is None:
            expires = Text("never")
        elif p.expired(now):
            ago = describe_age(now - parse_timestamp(p.info.expires_at))
            expires = Text(f"expired {ago} ago", style="red")
        else:
            expires = Text(f"in {describe_age(parse_timestamp(p.info.expires_at) - now)}")
        rows.append(
            (
                Text(p.info.branch),
                Text(p.env),
                Text(p.info.base),
                Text(describe_age(p.age(now))),
                expires,
                Text(str(p.resources)),
            )
        )
    headers = ("branch", "environment", "base", "age", "expires", "resources")
    print_listing(console, f"{project}: previews", headers, [rows], right=("resources",))


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
@reports_errors
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
    # Deferred: the operation loads the stages and the engines; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.preview import GcRequest, collect

    result = validate_spec(spec_file)
    request = GcRequest(result, spec_file, location, prune_merged, dry_run, lock_timeout)
    with ProgressView() as progress:
        found = collect(request, progress, confirmer(auto_approve))
    console = make_console()
    if not found.doomed:
        say(console, f"nothing to collect: {found.previews} preview(s), none expired", "green")
    elif found.dry_run:
        say(console, f"{len(found.doomed)} preview(s) would be destroyed (--dry-run)")
    else:
        say(console, f"collected {len(found.doomed)} preview(s)", "bold green")
