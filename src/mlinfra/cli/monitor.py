"""`mlinfra monitor run|runs|report|alerts`: a spec's monitors in the local emulator (the work
is `mlinfra.operations.monitors`'; here, what it shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

STYLES = {
    "Completed": "green",
    "CompletedWithViolations": "bold yellow",
    "Failed": "bold red",
    "Stopped": "yellow",
    "InProgress": "cyan",
    "Pending": "cyan",
}


@click.group("monitor")
def monitor_command() -> None:
    """Run a spec's monitors in the local emulator and read their results and alerts."""


@monitor_command.command("run")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait for the analysis and show its result.",
)
@SPEC_OPTION
@reports_errors
def run_command(name: str, env: str, wait: bool, spec_file: str) -> None:
    """Analyse what monitor NAME's endpoint captured since its last run, now.

    The captured requests are compared with the baseline: missing values, values of the
    wrong type and drift (the population stability index per feature) against the spec's
    `thresholds`. On a violation the monitor's `on_violation` alerts are sent and its
    `retrain` pipeline is started. Exits 1 if the analysis fails (no captured data, say);
    a violation is a result, not a failure.
    """
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.monitors import MonitorRequest, run

    request = MonitorRequest(validate_spec(spec_file), spec_file, env, name)
    with ProgressView() as progress:
        found = run(request, wait, progress)
    console = make_console()
    if found is None:
        say(console, f"see it with `mlinfra monitor runs {name} --env {env}`")
        return
    _show_run(console, found)
    record = found.record
    if record.get("MonitoringExecutionStatus") == "Failed":
        fail(
            f"monitor {name} failed: {record.get('FailureReason', 'no reason given')}",
            "send traffic to the endpoint first: it analyses what the endpoint captured"
            if "captur" in str(record.get("FailureReason", "")).lower()
            else None,
        )


@monitor_command.command("runs")
@click.argument("name")
@ENV_OPTION
@limit_option()
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def runs_command(name: str, env: str, limit: int, spec_file: str, as_json: bool) -> None:
    """List the executions of monitor NAME in the local emulator, newest first."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.monitors import MonitorRequest, runs

    found = runs(MonitorRequest(validate_spec(spec_file, as_json), spec_file, env, name), limit)
    if as_json:
        print_json({"monitor": name, "environment": env, "runs": list(found)})
        return
    console = make_console()
    if not found:
        say(console, f"{name} has not run yet: run it with `mlinfra monitor run {name} "
             f"--env {env}`")  # fmt: skip
        return
    for summary in found:
        state = summary["MonitoringExecutionStatus"]
        when = summary["ScheduledTime"].astimezone().strftime("%Y-%m-%d %H:%M:%S")
        job = summary.get("ProcessingJobArn", "").rsplit("/", 1)[-1]
        say(console, f"{job}  {when}  {state}", STYLES.get(state))
        if summary.get("FailureReason"):
            say(console, f"    {summary['FailureReason'].splitlines()[0]}", "red")


@monitor_command.command("report")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--html",
    "html_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an HTML report, with each feature's distribution against the baseline "
    "(a model_quality monitor's: its metric over time and the predictions' distribution).",
)
@click.option("--job", metavar="JOB", help="The execution's job.  [default: the latest]")
@SPEC_OPTION
@reports_errors
def report_command(name: str, env: str, html_file: Path | None, job: str | None, spec_file: str):
    """Show the latest result of monitor NAME: each feature against the baseline.

    For each feature: its drift (population stability index) against the threshold, the
    share of missing values, and values of the wrong type; then every violation found. For
    a model_quality monitor: its metric over its runs against the alert and rollback lines,
    what its last rollback did, and what the endpoint predicted in the latest window.
    """
    # Deferred: the operation loads boto3, the report jinja2; `mlinfra --version` must not.
    from mlinfra.monitoring.quality_report import render_quality_html, render_quality_text
    from mlinfra.monitoring.report import render_html, render_text
    from mlinfra.operations.monitors import MonitorRequest, report

    found = report(MonitorRequest(validate_spec(spec_file), spec_file, env, name), job)
    monitor = found.monitor
    title = f"monitor {name} ({monitor.schedule}) on endpoint {monitor.endpoint}"
    console = make_console()
    if found.quality:
        render_quality_text(list(found.quality), console, title=title)
    else:
        render_text(found.result, console, title=title)
    if html_file is not None:
        context = {
            "monitor": name,
            "environment": env,
            "endpoint": monitor.endpoint_name,
            "job": found.job,
            "time": str(found.record.get("ScheduledTime", "")),
        }
        if found.quality:
            page = render_quality_html(list(found.quality), title=title, context=context)
        else:
            page = render_html(found.result, title=title, context=context)
        try:
            html_file.write_text(page, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html_file}: {exc.strerror or exc}")
        say(console, f"wrote {html_file}", "green")


@monitor_command.command("alerts")
@click.argument("name")
@ENV_OPTION
@limit_option("alerts", 1000, "newest last")
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def alerts_command(name: str, env: str, limit: int, spec_file: str, as_json: bool) -> None:
    """Show the alerts monitor NAME sent: webhooks posted to, and emails recorded.

    The local emulator sends no email: it records each one here, with what it would say.
    """
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.monitors import MonitorRequest, alerts

    found = alerts(MonitorRequest(validate_spec(spec_file, as_json), spec_file, env, name), limit)
    if as_json:
        print_json({"monitor": name, "environment": env, "alerts": list(found)})
        return
    console = make_console()
    if not found:
        say(console, f"{name} has sent no alerts")
        return
    for alert in found:
        style = "green" if alert.get("delivered") else "yellow"
        say(
            console,
            f"{alert.get('time', '')}  {alert.get('target', '')}  "
            f"{alert.get('violations', 0)} violation(s)  {alert.get('detail', '')}",
            style,
        )
        if alert.get("rollback"):
            say(console, f"    rollback: {alert['rollback']}", "bold red")


# --- helpers -------------------------------------------------------------------------------


def _show_run(console: Any, found) -> None:
    """The execution's outcome in words: what was analysed, found, sent and started."""
    # Deferred: the report module loads jinja2; `mlinfra --version` must not.
    from mlinfra.monitoring.report import render_text

    name, env, record = found.monitor.name, found.monitor.env, found.record
    if found.quality:
        # Deferred, as above.
        from mlinfra.monitoring.quality_report import summary

        run = found.quality[-1]
        bad = run.state in ("alert", "rollback")
        say(console, f"monitor {name}: {summary(run)}", "red" if bad else "green")
        if run.rollback:
            say(console, f"  rollback: {run.rollback}", "bold red")
        say(console, f"  over time, against both lines: `mlinfra monitor report {name} "
            f"--env {env} [--html FILE]`")  # fmt: skip
    elif found.result is not None:
        render_text(found.result, console, title=f"monitor {name}", features=False)
        say(
            console,
            f"  each feature against the baseline: `mlinfra monitor report {name} "
            f"--env {env} [--html FILE]`",
        )
    for alert in record.get("Alerts", []):
        verb = "sent" if alert.get("delivered") else "not sent"
        say(console, f"  alert {verb}: {alert.get('target')} ({alert.get('detail', '')})")
    retrain = record.get("RetrainPipelineExecutionArn")
    if retrain:
        say(
            console,
            f"  retraining started: {retrain.rsplit('/', 3)[-3]} execution "
            f"{retrain.rsplit('/', 1)[-1]} (follow it with `mlinfra pipeline runs ...`)",
            "bold",
        )
    elif record.get("RetrainFailure"):
        say(console, f"  retraining could not start: {record['RetrainFailure']}", "red")
