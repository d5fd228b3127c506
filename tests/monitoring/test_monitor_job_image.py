"""The monitor job on the scikit-learn image's Python and libraries (Python 3.10, pandas 2.3,
numpy 2.1, pyarrow 17, boto3 1.28), which the build machines' Python is not.

Opt-in: `make check-monitor-job-image` makes a venv of that Python with
`image-requirements.txt` and runs this test with MLINFRA_IMAGE_PYTHON pointing at it. The
archive runs there and here over the same capture files, on local folders, and must write
the same reports and metric data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_monitor_job_end_to_end import CHURN_CSV, STARTED, _capture_files

from mlinfra.monitoring.bundle import ARCHIVE_NAME, job_archive

IMAGE_PYTHON = os.environ.get("MLINFRA_IMAGE_PYTHON")
pytestmark = pytest.mark.skipif(
    not IMAGE_PYTHON, reason="set MLINFRA_IMAGE_PYTHON (make check-monitor-job-image)"
)


def _run(python: str, folder: Path, out: Path) -> dict:
    done = subprocess.run(
        [
            python,
            "-I",
            str(folder / ARCHIVE_NAME),
            "--capture",
            str(folder / "capture"),
            "--baseline-dataset",
            str(CHURN_CSV),
            "--baseline-results",
            str(out / "baseline"),
            "--reports",
            str(out / "reports"),
            "--until",
            STARTED,
            "--period-hours",
            "2",
            "--monitor",
            "m",
            "--endpoint",
            "e",
            "--metrics-file",
            str(out / "metrics.json"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = out / "reports" / "20260101T120000Z"
    found = {
        name: json.loads((report / name).read_text())
        for name in ("statistics.json", "constraint_violations.json", "drift.json")
    }
    metrics = json.loads((out / "metrics.json").read_text())
    found["metrics"] = [{k: v for k, v in m.items() if k != "Timestamp"} for m in metrics]
    return found


def test_the_image_python_writes_what_this_python_writes(tmp_path: Path):
    (tmp_path / ARCHIVE_NAME).write_bytes(job_archive())
    for key, text in _capture_files().items():
        (tmp_path / "capture" / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "capture" / key).write_text(text)
    version = subprocess.run(
        [IMAGE_PYTHON, "-c", "import sys, pandas; print(sys.version_info[:2], pandas.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.startswith("(3, 10)"), version

    image = _run(IMAGE_PYTHON, tmp_path, tmp_path / "image")
    here = _run(sys.executable, tmp_path, tmp_path / "here")

    assert image == here
    assert image["constraint_violations.json"]["violations"]
