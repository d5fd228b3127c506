"""`mlinfra runs compare|search`: the shared history of runs (the work is
`mlinfra.operations.runs`'; here, what it shows)."""

from __future__ import annotations

import click

from mlinfra.cli.common import make_console, print_json, reports_errors, say, validate_spec
from mlinfra.cli.options import ENV_OPTION, JSON_OPTION, SPEC_OPTION, limit_option


@click.group("runs")
def runs_command() -> None:
    """Compare past pipeline runs and find the ones that tried a setting.

    Reads what SageMaker records of every run (the local emulator's, or SageMaker's with your
    AWS credentials); changes nothing."""


@runs_command.command("compare")
@click.argument("first", metavar="EXEC_A")
@click.argument("second", metavar="EXEC_B")
@ENV_OPTION
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def compare_command(first: str, second: str, env: str, spec_file: str, as_json: bool) -> None:
    """Show what differed between two pipeline executions: parameters (the pipeline's and
    each job's), inputs (by content hash), code and metrics.

    EXEC_A and EXEC_B are executions' ARNs or the ids `mlinfra pipeline runs` shows."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.runs import RunsRequest, compare

    found = compare(RunsRequest(validate_spec(spec_file, as_json), spec_file, env), first, second)
    if as_json:
        print_json(found.to_json())
        return
    console = make_console()
    a, b = found.a.arn.rsplit("/", 1)[-1], found.b.arn.rsplit("/", 1)[-1]
    say(console, f"{a} -> {b}", "bold")
    if not found.differences:
        say(console, "  nothing differed")
    for what in ("parameters", "inputs", "code", "metrics"):
        changed = [d for d in found.differences if d.what == what]
        if not changed:
            continue
        say(console, f"  {what}:")
        for difference in changed:
            say(console, f"    {difference.key}: {_shown(difference.a)} -> {_shown(difference.b)}")
    same = ", ".join(f"{n} {what}" for what, n in found.same.items() if n)
    if same:
        say(console, f"  the same: {same}", "dim")


@runs_command.command("search")
@click.option(
    "--param",
    "settings",
    metavar="KEY=VALUE",
    multiple=True,
    help="A parameter the run used (a job's hyperparameter; repeatable, all must match).",
)
@click.option("--metric", metavar="NAME", help="Sort by this metric, best (highest) first.")
@ENV_OPTION
@limit_option(order="best first")
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def search_command(
    settings: tuple[str, ...],
    metric: str | None,
    env: str,
    limit: int,
    spec_file: str,
    as_json: bool,
) -> None:
    """Find the past runs that tried a setting (`--param C=0.5`), sorted by a metric."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.runs import RunsRequest, search

    request = RunsRequest(validate_spec(spec_file, as_json), spec_file, env)
    total, found = search(request, settings, metric, limit)
    if as_json:
        print_json({"total": total, "runs": [run.__dict__ for run in found]})
        return
    console = make_console()
    asked = " ".join(settings) or "any parameters"
    say(console, f"{total} run(s) with {asked}" + (f", by {metric}" if metric else ""), "bold")
    for run in found:
        value = "" if not metric else f"{metric} {_shown(run.metric)}  "
        parameters = ", ".join(f"{k}={v}" for k, v in sorted(run.parameters.items()))
        say(console, f"  {value}{run.name}  ({run.execution or 'no execution'})  {parameters}")


def _shown(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
