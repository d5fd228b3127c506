"""`mlinfra batch run|runs`: run a spec's batch job in the local emulator now, and see its runs
and where each wrote its scores (the work is `mlinfra.operations.batch_jobs`')."""

from __future__ import annotations

import click

from mlinfra.cli.common import fail, make_console, print_json, reports_errors, say, validate_spec
from mlinfra.cli.options import ENV_OPTION, JSON_OPTION, SPEC_OPTION, limit_option
from mlinfra.cli.views.pipelines import STYLES, step_state


@click.group("batch")
def batch_command() -> None:
    """Run a spec's batch jobs in the local emulator and see their runs."""


@batch_command.command("run")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--wait", is_flag=True, help="Follow the run until it ends, then say where the scores are."
)
@SPEC_OPTION
@reports_errors
def run_command(name: str, env: str, wait: bool, spec_file: str) -> None:
    """Start batch job NAME in the local emulator now (besides its schedule, if it has one).

    ENV must have `target: local`, and the emulator must be running beside the spec and hold
    the batch job (`mlinfra apply` creates it once its model has a version to serve). With
    --wait, shows the run's steps as they end and where its .out files are; exits 1 if the
    run fails.
    """
    # Deferred: the operation loads the stages and boto3; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.batch_jobs import batch_request, run_now, scores_of

    request = batch_request(validate_spec(spec_file), spec_file, env, name)
    with ProgressView() as progress:
        status = run_now(request, wait, progress)
    console = make_console()
    if status is None:
        say(console, f"follow it with `mlinfra batch runs {name} --env {env}`")
        return
    if status["PipelineExecutionStatus"] != "Succeeded":
        fail(
            f"{name} {status['PipelineExecutionStatus'].lower()}: "
            f"{status.get('FailureReason', 'no reason given')}"
        )
    scores = scores_of(request, status)
    if scores is not None:
        if scores.note:
            say(console, scores.note)
        say(console, f"scores: {scores.location}")
        for path in scores.files:
            say(console, f"  {path}")


@batch_command.command("runs")
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
    """List the runs of batch job NAME in the local emulator, newest first, each with its
    transform job and the .out files it wrote."""
    # Deferred: the operation loads the stages and boto3; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.batch_jobs import batch_request, batch_runs

    request = batch_request(validate_spec(spec_file, as_json), spec_file, env, name)
    with ProgressView() as progress:
        found = batch_runs(request, limit, progress, wait)
    if as_json:
        listed = [
            {
                **each.run.summary,
                "Steps": list(each.run.steps),
                "Scores": None
                if each.scores is None
                else {
                    "TransformJobName": each.scores.job,
                    "TransformJobStatus": each.scores.status,
                    "S3OutputPath": each.scores.location,
                    "Files": list(each.scores.files),
                    "FailureReason": each.scores.failure,
                    "Note": each.scores.note,
                },
            }
            for each in found
        ]
        print_json({"batch_job": name, "environment": env, "runs": listed})
        return
    console = make_console()
    if not found:
        say(console, f"{name} has not run yet: start it with `mlinfra batch run {name} "
             f"--env {env}`")  # fmt: skip
        return
    for each in found:
        summary = each.run.summary
        state = summary["PipelineExecutionStatus"]
        started = summary["StartTime"].astimezone().strftime("%Y-%m-%d %H:%M:%S")
        arn = summary["PipelineExecutionArn"]
        say(console, f"{arn.rsplit('/', 1)[-1]}  {started}  {state}", STYLES.get(state))
        say(console, "    " + "  ".join(step_state(s) for s in each.run.steps))
        if each.scores is not None:
            files = len(each.scores.files)
            say(console, f"    {each.scores.job}: {each.scores.location} ({files} .out file(s))")
        if summary.get("PipelineExecutionFailureReason"):
            reason = summary["PipelineExecutionFailureReason"].splitlines()[0]
            say(console, f"    {reason}", "red")
