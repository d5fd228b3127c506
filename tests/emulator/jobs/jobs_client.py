"""Shared by the job tests: a boto3 client of a test-started emulator, and waiting on a job."""

from __future__ import annotations

import time

from mlinfra.emulator.access import Access

DONE = ("Completed", "Failed", "Stopped")


def sagemaker(server):
    return Access.for_server(server).client("sagemaker")


def wait(describe, status_field: str, timeout: float = 120.0, until=DONE) -> dict:
    """Describe the job until its status is one of `until`; the last description."""
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if found[status_field] in until or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]
