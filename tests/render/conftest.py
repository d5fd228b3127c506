"""Fixtures of the render tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def aws_credentials(monkeypatch) -> None:
    """Credentials for moto's account (`mock_aws`), which the programs' helpers read."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
