"""`mlinfra refresh`: compare what the state records with what really exists."""

from __future__ import annotations

import click

from mlinfra.cli.common import reports_errors, validate_spec
from mlinfra.cli.options import (
    ENV_OPTION,
    SPEC_OPTION,
    STATE_OPTION_HELP,
    ExitOneOnUsageError,
    lock_timeout_option,
)


@click.command("refresh", cls=ExitOneOnUsageError)
@ENV_OPTION
@SPEC_OPTION
@click.option("--state", "location", metavar="LOCATION", help=STATE_OPTION_HELP)
@lock_timeout_option("another apply's lock")
@click.option(
    "--backend",
    "backend_url",
    metavar="URL",
    help="For a sagemaker environment: where Pulumi keeps its stack, as given to `apply`.  "
    "[default: $PULUMI_BACKEND_URL, else file://.mlinfra/pulumi beside the spec]",
)
@reports_errors
def refresh_command(
    env: str, spec_file: str, location: str | None, lock_timeout: float, backend_url: str | None
) -> None:
    """Report drift: resources changed or deleted outside mlinfra.

    Local environments are read from the emulator; sagemaker ones with `pulumi refresh` of
    their stack (which needs the Pulumi CLI). What was deleted is dropped from the state, so
    the next apply creates it again. What was changed is reported: in a local environment
    apply does not undo it; in a sagemaker one the next apply sets it back to what the spec
    says. A sagemaker environment's endpoints are then described: one that does not serve
    the configuration last applied (SageMaker rolled an update back) is reported with why,
    recorded as it is, and exits 1. Exits 1 on error, 0 otherwise.
    """
    # Deferred: the operation loads the stages and the engines; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.refresh import RefreshRequest, refresh

    result = validate_spec(spec_file)
    request = RefreshRequest(result, spec_file, env, location, lock_timeout, backend_url)
    with ProgressView() as progress:
        refresh(request, progress)
