"""The project the preview tests use (a helper module, not tests): a small shop spec whose
previews copy `local`, git, and `mlinfra preview` run as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from mlinfra.cli.main import cli

BRANCH = "feat/Scorer_v2"


def shop_spec(ttl: str = "24h", instance_type: str = "ml.m5.large") -> str:
    """A feature store, a model from a local artifact, and an endpoint; previews of `local`."""
    return f"""\
version: 1
project: shop
environments:
  local:
    target: local
previews:
  base: local
  ttl: {ttl}
  overrides:
    endpoints:
      scorer-api:
        instance_type: ml.t2.medium
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features: {{customer_id: string, event_time: string, spend: fractional}}
    online: {{enabled: true, ttl: 30d}}
models:
  scorer:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: models/a/model.joblib
endpoints:
  scorer-api:
    model: scorer
    instance_type: {instance_type}
"""


def git(folder: Path, *args: str) -> str:
    found = subprocess.run(
        [
            "git",
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def preview(*args: str) -> tuple[int, str]:
    """Run `mlinfra preview ARGS...`: the exit code and everything printed."""
    # Through the root command, as users run it: invoking a subgroup alone would give it
    # (and click's cached help option) a context without the root's `-h`.
    result = CliRunner().invoke(cli, ["preview", *args], catch_exceptions=False)
    return result.exit_code, result.output
