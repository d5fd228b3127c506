"""`mlinfra pipeline run|runs`, against the local emulator (the work is
`mlinfra.operations.pipelines`'; here, what it shows)."""

from __future__ import annotations

import click

from mlinfra.cli.common import (
    fail,
    make_console,
    print_json,
    reports_errors,
    say,
    validate_spec,
)
from mlinfra.cli.options import ENV_OPTION, JSON_OPTION, SPEC_OPTION, limit_option
from mlinfra.cli.views.pipelines import STYLES, gate_line, step_state


@click.group("pipeline")
def pipeline_command() -> None:
    """Run a spec's pipelines in the local emulator and see their runs."""


@pipeline_command.command("run")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--param",
    "params",
    metavar="KEY=VALUE",
    multiple=True,
    help="A value for one of the pipeline's `parameters:` (repeatable).",
)
@click.option("--wait", is_flag=True, help="Follow the steps until the run ends.")
@SPEC_OPTION
@reports_errors
def run_command(name: str, env: str, params: tuple[str, ...], wait: bool, spec_file: str) -> None:
    """Start pipeline NAME in the local emulator and print the execution's ARN.

    ENV must have `target: local`, and the emulator must be running beside the spec and hold
    the pipeline. With --wait, each step is shown as it ends; exits 1 if the run fails.
    """
    # Deferred: the operation loads the stages and boto3; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.pipelines import PipelineRequest, run

    request = PipelineRequest(validate_spec(spec_file), spec_file, env, name)
    with ProgressView() as progress:
        status = run(request, params, wait, progress)
    if status is None:
        say(make_console(), f"follow it with `mlinfra pipeline runs {name} --env {env}`")
        return
    if status["PipelineExecutionStatus"] != "Succeeded":
        fail(
            f"{name} {status['PipelineExecutionStatus'].lower()}: "
            f"{status.get('FailureReason', 'no reason given')}"
        )


@pipeline_command.command("runs")
@click.argument("name")
@ENV_OPTION
@limit_option()
@click.option("--wait", is_flag=True, help="First wait for those of them still running to end.")
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def runs_command(
    name: str, env: str, limit: int, wait: bool, spec_file: str, as_json: bool
) -> None:
    """List the executions of pipeline NAME in the local emulator, newest first.

    A gate (a condition step) shows whether it held, with its `when:` and the values it
    compared."""
    # Deferred: the operation loads the stages and boto3; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.pipelines import PipelineRequest, runs

    request = PipelineRequest(validate_spec(spec_file, as_json), spec_file, env, name)
    with ProgressView() as progress:
        found = runs(request, limit, progress, wait)
    if as_json:
        runs_json = [
            {
                **each.summary,
                "Steps": list(each.steps),
                "Gates": {name: gate.to_json() for name, gate in each.gates.items()},
            }
            for each in found
        ]
        print_json({"pipeline": name, "environment": env, "runs": runs_json})
        return
    console = make_console()
    if not found:
        say(console, f"{name} has not run yet: start it with `mlinfra pipeline run {name} "
             f"--env {env}`")  # fmt: skip
        return
    for each in found:
        summary = each.summary
        arn = summary["PipelineExecutionArn"]
        state = summary["PipelineExecutionStatus"]
        started = summary["StartTime"].astimezone().strftime("%Y-%m-%d %H:%M:%S")
        say(console, f"{arn.rsplit('/', 1)[-1]}  {started}  {state}", STYLES.get(state))
        say(console, "    " + "  ".join(step_state(s) for s in each.steps))
        for gate in each.gates.values():
            say(console, f"    {gate_line(gate)}", "green" if gate.held else "yellow")
        if summary.get("PipelineExecutionFailureReason"):
            reason = summary["PipelineExecutionFailureReason"].splitlines()[0]
            say(console, f"    {reason}", "red")
