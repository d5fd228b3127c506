"""`mlinfra pipeline run|runs` and `mlinfra model approve|versions|show`, against the local
emulator (the work is `mlinfra.operations.pipelines`' and `.model_versions`'; here, what it
shows)."""

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


@click.group("model")
def model_command() -> None:
    """Work with the versions of a spec's models in the local emulator's registry."""


@model_command.command("approve")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--version",
    type=click.IntRange(1),
    help="The version to approve.  [default: the newest one]",
)
@SPEC_OPTION
@reports_errors
def approve_command(name: str, env: str, version: int | None, spec_file: str) -> None:
    """Approve a registered version of model NAME in the local emulator's registry.

    An endpoint that serves the model's latest approved version moves to it on the next
    `mlinfra apply`.
    """
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.pipelines import PipelineRequest, approve

    done = approve(PipelineRequest(validate_spec(spec_file), spec_file, env, name), version)
    if done.already:
        say(make_console(), f"{name} version {done.version} is already approved")
        return
    say(make_console(), f"approved {name} version {done.version} ({done.arn})", "green")


@model_command.command("versions")
@click.argument("name")
@ENV_OPTION
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def versions_command(name: str, env: str, spec_file: str, as_json: bool) -> None:
    """List the versions of model NAME in the local emulator's registry, newest first: each
    one's status, the metrics of its evaluation report, its data, commit and creation time."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.model_versions import versions
    from mlinfra.operations.pipelines import PipelineRequest

    found = versions(PipelineRequest(validate_spec(spec_file, as_json), spec_file, env, name))
    if as_json:
        listed = [v.to_json() for v in found]
        print_json({"model": name, "environment": env, "versions": listed})
        return
    console = make_console()
    for version in found:
        created = version.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(version.metrics.items()))
        say(
            console,
            f"version {version.number}  {version.status}  {created}  {metrics or 'no report'}",
            STATUS_STYLES.get(version.status),
        )
        data = ", ".join(_data(n, d) for n, d in sorted(version.inputs.items())) or "unknown"
        say(console, f"    data: {data}  commit: {(version.commit or 'unknown')[:12]}")


@model_command.command("show")
@click.argument("name")
@ENV_OPTION
@click.option("--version", type=click.IntRange(1), required=True, help="The version to show.")
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def show_command(name: str, env: str, version: int, spec_file: str, as_json: bool) -> None:
    """Show version N of model NAME and its evidence: status and why, the metrics of its
    evaluation report, the data, code and hyperparameters that made it (content hashes), the
    git commit and the pipeline execution that registered it."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.model_versions import show
    from mlinfra.operations.pipelines import PipelineRequest

    found = show(PipelineRequest(validate_spec(spec_file, as_json), spec_file, env, name), version)
    if as_json:
        print_json({"model": name, "environment": env, "version": found.to_json()})
        return
    console = make_console()
    say(console, f"{name} version {found.number}  ({found.arn})")
    status = found.status + (
        f": {found.approval_description}" if found.approval_description else ""
    )
    say(console, f"  status: {status}", STATUS_STYLES.get(found.status))
    say(console, f"  created: {found.created.astimezone().strftime('%Y-%m-%d %H:%M:%S')}")
    say(console, f"  registered by: {found.generated_by or 'unknown'}")
    commit = found.commit or "unknown (the spec is not in git)"
    say(console, f"  commit: {commit}" + (f" of {found.repository}" if found.repository else ""))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(found.metrics.items()))
    say(console, f"  metrics: {metrics or 'none'}" + (f" ({found.report})" if found.report else ""))
    for input_name, data in sorted(found.inputs.items()):
        say(
            console,
            f"  data {input_name}: " + "  ".join(f"{k} {v}" for k, v in sorted(data.items())),
        )
    for step, digest in sorted(found.code.items()):
        say(console, f"  code {step}: {digest}")
    parameters = ", ".join(f"{k}={v}" for k, v in sorted(found.hyperparameters.items()))
    say(console, f"  hyperparameters: {parameters or 'none'}")
    say(console, f"  artifact: {found.artifact or 'unknown'}")


STATUS_STYLES = {"Approved": "green", "Rejected": "red", "PendingManualApproval": "yellow"}


def _data(name: str, data: dict[str, str]) -> str:
    digest = data.get("sha256", "").removeprefix("sha256:")[:12]
    rows = f", {data['rows']} rows" if "rows" in data else ""
    return f"{name} {digest}{rows}"
