"""The monitoring job command, run as the emulator runs it: a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CHURN_CSV = Path(__file__).parents[2] / "examples" / "churn" / "data" / "baseline.csv"


def _job(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlinfra.monitoring.job", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _capture(folder: Path, rows: list[str], time: str = "2026-01-01T12:00:00Z") -> Path:
    path = folder / "churn" / "AllTraffic" / "2026" / "01" / "01" / "12" / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    events = [
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": row,
                    "encoding": "CSV",
                }
            },
            "eventMetadata": {"eventId": str(i), "inferenceTime": time},
            "eventVersion": "0",
        }  # fmt: skip
        for i, row in enumerate(rows)
    ]
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return folder


def test_baseline_then_analyse_write_the_files_and_summarise(tmp_path: Path):
    baseline = tmp_path / "baseline"
    made = _job("baseline", "--dataset", str(CHURN_CSV), "--output", str(baseline),
                "--drift-psi", "0.25", "--missing-percent", "10")  # fmt: skip
    assert (made.returncode, made.stdout, made.stderr) == (
        0,
        "baseline: 1000 records, 6 features\n",
        "",
    )
    constraints = json.loads((baseline / "constraints.json").read_text())
    assert constraints["features"][0]["completeness"] == 0.9
    distribution = constraints["monitoring_config"]["distribution_constraints"]
    assert distribution["comparison_threshold"] == 0.25

    rows = ["12,170.5,2000,one-year,1"] * 20 + ["5,90,450,quarterly,0"]
    capture = _capture(tmp_path / "capture", rows)
    report = tmp_path / "report"
    done = _job("analyse", "--baseline", str(baseline), "--capture", str(capture),
                "--features-from-baseline", "--output", str(report),
                "--until", "2026-01-01T13:00:00+00:00")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("analyse: 21 records, ")
    violations = json.loads((report / "constraint_violations.json").read_text())["violations"]
    assert {"feature_name": "contract", "constraint_check_type": "categorical_values_check"} in [
        {k: v[k] for k in ("feature_name", "constraint_check_type")} for v in violations
    ]
    drift = json.loads((report / "drift.json").read_text())
    assert drift["violations"] == len(violations)
    assert (report / "statistics.json").is_file()


def test_a_missing_baseline_fails_with_one_line_and_no_traceback(tmp_path: Path):
    failed = _job("analyse", "--baseline", str(tmp_path / "none"), "--capture", str(tmp_path),
                  "--output", str(tmp_path / "out"))  # fmt: skip
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.startswith("analyse: no baseline at ")
    assert failed.stderr.count("\n") == 1


def test_no_captured_records_in_the_window_fails_the_analysis(tmp_path: Path):
    baseline = tmp_path / "baseline"
    assert _job("baseline", "--dataset", str(CHURN_CSV), "--output", str(baseline)).returncode == 0
    capture = _capture(tmp_path / "capture", ["1,2,3,one-year,0"])
    failed = _job("analyse", "--baseline", str(baseline), "--capture", str(capture),
                  "--output", str(tmp_path / "out"), "--since", "2026-01-01T12:00:00Z")  # fmt: skip
    assert failed.returncode == 1
    assert failed.stderr == "analyse: no data to analyse: no records were captured in this period\n"


def test_an_unreadable_data_set_fails_the_baseline_with_one_line(tmp_path: Path):
    failed = _job("baseline", "--dataset", str(tmp_path / "none.csv"), "--output", str(tmp_path))
    assert failed.returncode == 1
    assert failed.stderr == f"baseline: data set not found: {tmp_path / 'none.csv'}\n"
