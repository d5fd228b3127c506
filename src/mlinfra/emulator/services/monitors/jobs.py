"""The monitoring jobs as the emulator runs them: `python -m mlinfra.monitoring.job` subprocesses.

On SageMaker both jobs are processing jobs in the Model Monitor container; locally they are
mlinfra's own analysis (`mlinfra.monitoring`), run in a subprocess so a bad CSV or a bug in
the analysis fails one job, never the emulator, and under the emulator's supervisor
(`supervisor.py`), so a job never outlives the emulator. A job tells how it failed on its
last line of stderr; that line becomes the API's message (ValidationException, FailureReason).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from mlinfra.emulator import supervisor

JOB_MODULE = "mlinfra.monitoring.job"
VIOLATIONS_FILE = "constraint_violations.json"
BASELINE_TIMEOUT = 300.0


class JobFailed(Exception):
    """A monitoring job exited non-zero; the message is its own last word on stderr."""


def baseline(
    dataset: Path,
    output: Path,
    cwd: Path,
    drift_psi: str | None = None,
    missing_percent: str | None = None,
) -> None:
    """Suggest a baseline (constraints.json, statistics.json in `output`) from a dataset."""
    args = ["baseline", "--dataset", str(dataset), "--output", str(output)]
    if drift_psi is not None:
        args += ["--drift-psi", drift_psi]
    if missing_percent is not None:
        args += ["--missing-percent", missing_percent]
    Job(args, cwd).run(BASELINE_TIMEOUT)


class Job:
    """One job subprocess that another thread may stop (the emulator shutting down)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.command = [sys.executable, "-m", JOB_MODULE, *args]
        self.cwd = cwd
        self._process: subprocess.Popen[str] | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    def run(self, timeout: float) -> None:
        """Run to the end; JobFailed if it exits non-zero, times out or is stopped."""
        with self._lock:
            if self._stopped.is_set():
                raise JobFailed("The emulator stopped before the job ran.")
            self._process = supervisor.popen(
                self.command,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        try:
            _, stderr = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            supervisor.stop(self._process)
            self._process.communicate()
            raise JobFailed(f"The job did not finish within {timeout:.0f} seconds.") from None
        if self._stopped.is_set():
            raise JobFailed("The emulator stopped while the job ran.")
        if self._process.returncode != 0:
            raise JobFailed(last_line(stderr) or f"The job exited with {self._process.returncode}.")

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()


def read_violations(folder: Path) -> list[dict]:
    """The violations a finished analysis wrote, in Model Monitor's constraint_violations.json."""
    path = folder / VIOLATIONS_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise JobFailed(f"The analysis wrote no {VIOLATIONS_FILE} in {folder}.") from None
    except (OSError, ValueError) as exc:
        raise JobFailed(f"{path} is unreadable: {exc}") from None
    found = document.get("violations", []) if isinstance(document, dict) else document
    if not isinstance(found, list):
        raise JobFailed(f"{path}: 'violations' is not a list.")
    return [v for v in found if isinstance(v, dict)]


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
