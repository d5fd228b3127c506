"""`mlinfra monitor run|runs|report|alerts` against a real emulator process.

The emulator is started beside a small spec as `mlinfra emulator start` does, and stopped
after. Its endpoint's model never loads: the monitor reads what the endpoint captured, and
the tests write the captures themselves, where serving writes them.
"""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from monitor_project import (
    MONITOR,
    client,
    create_endpoint,
    rows,
    schedule_config,
    write_capture,
    write_dataset,
)

from mlinfra.cli.main import cli
from mlinfra.emulator import process
from mlinfra.emulator.access import Access

# Named so that its physical names are monitor_project's (churn-local-churn-drift, ...).
SPEC = """\
version: 1
project: churn
environments:
  local: {target: local}
  dev: {target: sagemaker, account: "111111111111"}
models:
  m: {framework: sklearn, framework_version: "1.2-1", artifact: model/model.joblib}
endpoints:
  churn-api:
    model: m
    instance_type: ml.m5.large
    data_capture: {sampling_percent: 100}
monitors:
  churn-drift:
    endpoint: churn-api
    type: data_quality
    baseline: data/baseline.csv
    schedule: daily
    on_violation:
      alert: ["email:ml-oncall@example.com"]
"""


def mlinfra(spec: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "-f", str(spec)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture()
def spec(tmp_path: Path):
    """The spec, its emulator running (stopped after), with the endpoint and the monitor."""
    path = tmp_path / "mlinfra.yaml"
    path.write_text(SPEC)
    write_dataset(tmp_path)
    process.start(path)
    try:
        sm = client(Access.for_spec(path))
        create_endpoint(sm)
        environment = {"mlinfra_alert_targets": '["email:ml-oncall@example.com"]'}
        sm.create_monitoring_schedule(
            MonitoringScheduleName=MONITOR,
            MonitoringScheduleConfig=schedule_config(environment=environment),
        )
        yield path
    finally:
        process.stop(path)


def test_a_run_on_ordinary_traffic_finds_nothing(spec):
    write_capture(spec.parent, rows(300, seed=1))
    result = mlinfra(spec, "monitor", "run", "churn-drift", "--env", "local")
    assert result.exit_code == 0, result.output
    assert "300 record(s) analysed against a baseline of 1,000; 0 violation(s)" in result.stdout
    assert "no violations" in result.stdout
    assert "alert" not in result.stdout


def test_drifted_traffic_is_reported_alerted_and_charted(spec, tmp_path):
    write_capture(spec.parent, rows(300, drifted=True, seed=2))
    result = mlinfra(spec, "monitor", "run", "churn-drift", "--env", "local")
    assert result.exit_code == 0, result.output  # a violation is a result, not a failure
    assert "baseline_drift_check" in result.stdout
    assert "alert not sent: email:ml-oncall@example.com" in result.stdout
    assert "mlinfra monitor report churn-drift --env local" in result.stdout

    alerts = mlinfra(spec, "monitor", "alerts", "churn-drift", "--env", "local")
    assert alerts.exit_code == 0, alerts.output
    (line,) = alerts.stdout.strip().splitlines()
    assert "email:ml-oncall@example.com" in line and "violation(s)" in line

    page = tmp_path / "report.html"
    report = mlinfra(
        spec, "monitor", "report", "churn-drift", "--env", "local", "--html", str(page)
    )
    assert report.exit_code == 0, report.output
    charges = next(line for line in report.stdout.splitlines() if "monthly_charges" in line)
    assert "DRIFTED" in charges
    parser = html.parser.HTMLParser()
    parser.feed(page.read_text())
    assert page.read_text().count("<svg") == 3  # one chart per feature of the baseline

    runs = mlinfra(spec, "monitor", "runs", "churn-drift", "--env", "local")
    assert "CompletedWithViolations" in runs.stdout


def test_a_run_with_nothing_captured_fails_saying_what_to_do(spec):
    result = mlinfra(spec, "monitor", "run", "churn-drift", "--env", "local")
    assert result.exit_code == 1
    assert "no records were captured" in result.output
    assert "send traffic to the endpoint first" in result.output
    report = mlinfra(spec, "monitor", "report", "churn-drift", "--env", "local")
    assert report.exit_code == 1
    assert "has no results yet" in report.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["monitor", "run", "churn-drfit", "--env", "local"], "did you mean 'churn-drift'?"),
        (["monitor", "run", "churn-drift", "--env", "dev"], "works with the local emulator"),
        (["monitor", "report", "churn-drift", "--env", "prod"], "has no environment 'prod'"),
    ],
)
def test_mistakes_are_explained(spec, args, message):
    result = mlinfra(spec, *args)
    assert result.exit_code == 1
    assert message in result.output


def test_no_running_emulator_says_how_to_start_one(tmp_path):
    path = tmp_path / "mlinfra.yaml"
    path.write_text(SPEC)
    write_dataset(tmp_path)
    result = mlinfra(path, "monitor", "runs", "churn-drift", "--env", "local")
    assert result.exit_code == 1
    assert "mlinfra emulator start" in result.output
