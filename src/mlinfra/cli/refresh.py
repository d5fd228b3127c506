"""`mlinfra refresh`: compare what the state records with what really exists."""

from __future__ import annotations

import click

from mlinfra.cli.common import fail, make_console, say, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION, lock_timeout_option
from mlinfra.cli.plan import (
    STATE_OPTION_HELP,
    ExitOneOnUsageError,
    check_manageable,
    environment_spec,
    refreshed_state,
    state_location,
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
    from pathlib import Path

    from mlinfra.plan.diff import plan
    from mlinfra.plan.model import DELETE
    from mlinfra.state import LockError, StateError, backend_for

    result = validate_spec(spec_file)
    spec = environment_spec(result, env, spec_file)
    try:
        backend = backend_for(
            state_location(spec, location), Path(spec_file).resolve().parent, spec.region
        )
        with backend.lock(env, "mlinfra refresh", lock_timeout):
            state = backend.read(spec.project, env)
            check_manageable(spec, backend, state)
            seen = refreshed_state(spec, spec_file, state, backend_url)
            empty = _empty_graph(spec)
            drift = plan(empty, state, refreshed=seen).resource_drift
            gone = [c.address for c in drift if c.action == DELETE]
            for address in gone:
                state = state.without(address)
            if gone:
                state = backend.write(state)
            _report(spec, drift, gone, len(seen))
            if spec.target != "local":
                from mlinfra.cli.apply import check_serving
                from mlinfra.engines.endpoints import recorded_endpoints

                check_serving(spec, state, backend, recorded_endpoints(state))
    except (LockError, StateError) as exc:
        fail(str(exc))


def _report(spec, drift, gone: list[str], seen: int) -> None:
    from mlinfra.plan.model import DELETE

    console = make_console()
    if not drift:
        say(console, f"No drift: {spec.env} is as the state records ({seen} resource(s)).")
        return
    for change in drift:
        if change.action == DELETE:
            say(console, f"  - {change.address}: deleted outside mlinfra", "red")
        else:
            paths = ", ".join(c.path for c in change.changed)
            say(console, f"  ~ {change.address}: changed outside mlinfra: {paths}", "yellow")
    changed = len(drift) - len(gone)
    undone = (
        "; the next apply sets the changed ones back" if changed and spec.target != "local" else ""
    )
    say(
        console,
        f"Drift: {len(drift)} resource(s); {len(gone)} dropped from the state "
        f"(the next apply creates them again){undone}",
        "bold",
    )


def _empty_graph(spec):
    from mlinfra.ir.graph import ResourceGraph

    return ResourceGraph(spec.project, spec.env, spec.target, spec.region, ())
