"""`mlinfra monitor run|runs|report|alerts`: a spec's monitors in the local emulator.

The schedule itself is a SageMaker monitoring schedule in the emulator, read with boto3
(ListMonitoringExecutions, DescribeProcessingJob) as a user's own code would. Running one now
and reading its alert log have no SageMaker API, so they use the emulator's own routes
(`/_mlinfra/monitoring-schedules/...`).
"""

from __future__ import annotations

import json
import time
import urllib.error
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from mlinfra.cli.common import fail, local_environment, make_console, say
from mlinfra.cli.common import validate_spec as _validate
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION, limit_option
from mlinfra.cli.pipeline import _access, _call, _client, _component

POLL_SECONDS = 0.3
ROUTE_TIMEOUT = 30
FINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
WITH_RESULTS = ("Completed", "CompletedWithViolations")
STYLES = {
    "Completed": "green",
    "CompletedWithViolations": "bold yellow",
    "Failed": "bold red",
    "Stopped": "yellow",
    "InProgress": "cyan",
    "Pending": "cyan",
}
CREATED_BY = "create it with `mlinfra apply --env {env}`"


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
def run_command(name: str, env: str, wait: bool, spec_file: str) -> None:
    """Analyse what monitor NAME's endpoint captured since its last run, now.

    The captured requests are compared with the baseline: missing values, values of the
    wrong type and drift (the population stability index per feature) against the spec's
    `thresholds`. On a violation the monitor's `on_violation` alerts are sent and its
    `retrain` pipeline is started. Exits 1 if the analysis fails (no captured data, say);
    a violation is a result, not a failure.
    """
    monitor = _monitor(spec_file, env, name)
    started = _route(monitor, "POST", "executions", {})
    job = _job_name(started)
    console = make_console()
    say(console, f"started monitor {name}: job {job}", "bold")
    if not wait:
        say(console, f"see it with `mlinfra monitor runs {name} --env {env}`")
        return
    record = _wait(monitor, job)
    _show_run(console, monitor, record)
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
def runs_command(name: str, env: str, limit: int, spec_file: str) -> None:
    """List the executions of monitor NAME in the local emulator, newest first."""
    monitor = _monitor(spec_file, env, name)
    found = _executions(monitor, limit)
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
    help="Also write an HTML report, with each feature's distribution against the baseline.",
)
@click.option("--job", metavar="JOB", help="The execution's job.  [default: the latest]")
@SPEC_OPTION
def report_command(name: str, env: str, html_file: Path | None, job: str | None, spec_file: str):
    """Show the latest result of monitor NAME: each feature against the baseline.

    For each feature: its drift (population stability index) against the threshold, the
    share of missing values, and values of the wrong type; then every violation found.
    """
    from mlinfra.monitoring.report import ReportError, load_result, render_html, render_text

    monitor = _monitor(spec_file, env, name)
    record = _latest_result(monitor, job)
    folder = _report_folder(monitor, record)
    try:
        result = load_result(folder)
    except ReportError as exc:
        fail(str(exc))
    title = f"monitor {name} ({monitor['schedule']}) on endpoint {monitor['endpoint']}"
    console = make_console()
    render_text(result, console, title=title)
    if html_file is not None:
        context = {
            "monitor": name,
            "environment": env,
            "endpoint": monitor["endpoint_name"],
            "job": _job_name(record),
            "time": str(record.get("ScheduledTime", "")),
        }
        page = render_html(result, title=title, context=context)
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
def alerts_command(name: str, env: str, limit: int, spec_file: str) -> None:
    """Show the alerts monitor NAME sent: webhooks posted to, and emails recorded.

    The local emulator sends no email: it records each one here, with what it would say.
    """
    monitor = _monitor(spec_file, env, name)
    alerts = _route(monitor, "GET", "alerts").get("alerts", [])[-limit:]
    console = make_console()
    if not alerts:
        say(console, f"{name} has sent no alerts")
        return
    for alert in alerts:
        style = "green" if alert.get("delivered") else "yellow"
        say(
            console,
            f"{alert.get('time', '')}  {alert.get('target', '')}  "
            f"{alert.get('violations', 0)} violation(s)  {alert.get('detail', '')}",
            style,
        )


# --- helpers -------------------------------------------------------------------------------


def _monitor(spec_file: str, env: str, name: str) -> dict[str, Any]:
    """What the commands need of a monitor: its names, spec fields and the emulator's client."""
    from mlinfra.naming import physical_name

    result = _validate(spec_file)
    spec = local_environment(result, env, spec_file)
    component = _component(spec, "monitor", name, spec_file)
    physical = physical_name(spec.project, spec.env, name, "monitoring_schedule").name
    sagemaker = _client(spec_file, spec.region)
    try:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName=physical)
    except sagemaker.exceptions.ResourceNotFound:
        fail(f"monitor {physical} does not exist in the emulator yet", CREATED_BY.format(env=env))
    except sagemaker.exceptions.ClientError as exc:
        fail(f"monitor {physical}: {exc}")
    return {
        "name": name,
        "physical": physical,
        "schedule": component.schedule,
        "endpoint": component.endpoint,
        "endpoint_name": physical_name(spec.project, spec.env, component.endpoint, "endpoint").name,
        "client": sagemaker,
        "access": _access(spec_file, spec.region),
        "root": Path(spec_file).resolve().parent,
        "env": env,
    }


def _route(monitor: dict[str, Any], method: str, tail: str, body: Any = None) -> dict[str, Any]:
    """Call one of the emulator's monitoring routes (signed); exits 1 with its reason."""
    access = monitor["access"]
    path = f"/_mlinfra/monitoring-schedules/{quote(monitor['physical'], safe='')}/{tail}"
    data = b"" if body is None else json.dumps(body).encode()
    request = access.request(method, path, data, "application/json" if body is not None else None)
    try:
        with access.open(request, timeout=ROUTE_TIMEOUT) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            error = {}
        fail(f"{error.get('__type', f'HTTP {exc.code}')}: {error.get('message', exc.reason)}")
    except (OSError, ValueError) as exc:
        fail(
            f"cannot reach the emulator at {access.url}: {getattr(exc, 'reason', exc)}",
            "check it with `mlinfra emulator status`",
        )
    raise AssertionError("unreachable")


def _executions(monitor: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    return _call(
        monitor["client"].list_monitoring_executions,
        MonitoringScheduleName=monitor["physical"],
        SortBy="ScheduledTime",
        SortOrder="Descending",
        MaxResults=limit,
    )["MonitoringExecutionSummaries"]


def _job_name(record: dict[str, Any]) -> str:
    return str(record.get("ProcessingJobArn", "")).rsplit("/", 1)[-1]


def _wait(monitor: dict[str, Any], job: str) -> dict[str, Any]:
    while True:
        record = _route(monitor, "GET", f"executions/{quote(job, safe='')}")
        if record.get("MonitoringExecutionStatus") in FINAL:
            return record
        time.sleep(POLL_SECONDS)


def _latest_result(monitor: dict[str, Any], job: str | None) -> dict[str, Any]:
    """The execution to report: the one named, or the latest that produced results."""
    name, env = monitor["name"], monitor["env"]
    if job is not None:
        return _route(monitor, "GET", f"executions/{quote(job, safe='')}")
    for summary in _executions(monitor, 100):
        if summary["MonitoringExecutionStatus"] in WITH_RESULTS:
            return summary
    fail(
        f"monitor {name} has no results yet",
        f"run it with `mlinfra monitor run {name} --env {env}` after sending traffic",
    )
    raise AssertionError("unreachable")


def _report_folder(monitor: dict[str, Any], record: dict[str, Any]) -> Path:
    """Where the execution wrote its reports, from its processing job's output."""
    described = _call(
        monitor["client"].describe_processing_job, ProcessingJobName=_job_name(record)
    )
    uri = described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    return monitor["root"] / uri.removeprefix("file:")


def _show_run(console: Any, monitor: dict[str, Any], record: dict[str, Any]) -> None:
    """The execution's outcome in words: what was analysed, found, sent and started."""
    from mlinfra.monitoring.report import ReportError, load_result, render_text

    state = record.get("MonitoringExecutionStatus", "")
    if state in WITH_RESULTS:
        try:
            result = load_result(_report_folder(monitor, record))
        except ReportError as exc:
            fail(str(exc))
        render_text(result, console, title=f"monitor {monitor['name']}", features=False)
        say(
            console,
            f"  each feature against the baseline: `mlinfra monitor report {monitor['name']} "
            f"--env {monitor['env']} [--html FILE]`",
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
