"""`mlinfra apply` and `mlinfra destroy`: carry out a plan, with the state locked."""

from __future__ import annotations

import click

from mlinfra.cli.common import confirmer, reports_errors, validate_spec
from mlinfra.cli.options import (
    ENV_OPTION_HELP,
    SPEC_OPTION,
    STATE_OPTION_HELP,
    ExitOneOnUsageError,
    lock_timeout_option,
)


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
@reports_errors
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
        env, spec_file, auto_approve, location, lock_timeout, allow_removal, engine,
        backend_url, plan_file,
    )  # fmt: skip


@click.command("destroy", cls=ExitOneOnUsageError)
@_options
@reports_errors
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
        env, spec_file, auto_approve, location, lock_timeout, allow_removal, engine,
        backend_url, destroy=True,
    )  # fmt: skip


def _run(
    env: str,
    spec_file: str,
    auto_approve: bool,
    location: str | None,
    lock_timeout: float,
    allow_removal: tuple[str, ...],
    engine: str | None,
    backend_url: str | None,
    plan_file: str | None = None,
    destroy: bool = False,
) -> None:
    # Deferred: the operation loads the stages and the engines; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.apply import ApplyRequest, apply

    result = validate_spec(spec_file)
    request = ApplyRequest(
        result,
        spec_file,
        env,
        destroy=destroy,
        plan_file=plan_file,
        location=location,
        lock_timeout=lock_timeout,
        engine=engine,
        backend_url=backend_url,
        allow_removal=allow_removal,
    )
    with ProgressView() as progress:
        applied = apply(request, progress, confirmer(auto_approve))
    if not applied.ok:
        raise SystemExit(1)
