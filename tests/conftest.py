"""Fixtures shared by every test folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlinfra.engines import pulumi as engine


@dataclasses.dataclass
class FakePulumi:
    """Stands in for the Pulumi CLI, which cannot be installed on the build machines: each
    call of the engine is recorded and answered as a successful run would be. `stacks` is
    what `pulumi stack export` finds, after a `pulumi refresh` too (stack -> address ->
    outputs); `outputs` are stack outputs `up` gives besides the endpoint's name (what the
    program found in the registry: `mlinfra:model-versions`); `fail_up` makes `up` fail with
    that message."""

    calls: list[tuple] = dataclasses.field(default_factory=list)
    stacks: dict[str, dict] = dataclasses.field(default_factory=dict)
    outputs: dict[str, object] = dataclasses.field(default_factory=dict)
    fail_up: str | None = None

    def up(self, project_dir, env, spec_dir, backend_url=None, on_output=print):
        self.calls.append(("up", Path(project_dir), env, backend_url))
        if self.fail_up:
            raise engine.PulumiFailed(self.fail_up)
        return {"endpoint.churn-api": f"churn-{env}-churn-api", **self.outputs}

    def destroy(self, project_dir, env, spec_dir, backend_url=None, on_output=print):
        self.calls.append(("destroy", Path(project_dir), env, backend_url))

    def remove_stack(self, project_dir, env, spec_dir, backend_url=None):
        self.calls.append(("remove_stack", Path(project_dir), env, backend_url))

    def stack_resources(self, project, env, spec_dir, backend_url=None):
        self.calls.append(("stack_resources", project, env, backend_url))
        return self.stacks.get(env, {})

    def refreshed(self, project, env, spec_dir, backend_url=None):
        self.calls.append(("refreshed", project, env, backend_url))
        return self.stacks.get(env, {})

    def named(self, action: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == action]


@pytest.fixture(autouse=True)
def no_aws_credentials(monkeypatch) -> None:
    """boto3 finds no credentials of the machine's (nor asks an instance metadata service):
    no test reaches a real AWS account. Tests that need one make it with moto's `mock_aws`
    and credentials of their own."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/mlinfra-tests/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/mlinfra-tests/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture()
def fake_pulumi(monkeypatch) -> FakePulumi:
    """The Pulumi engine's calls replaced by a `FakePulumi`; no PULUMI_BACKEND_URL. Without
    AWS credentials (`no_aws_credentials`), what mlinfra asks of AWS around Pulumi (the
    model registry, the endpoints) is skipped unless a test makes an account with moto."""
    found = FakePulumi()
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.setattr(engine, "require_pulumi", lambda: "/opt/pulumi/bin/pulumi")
    for name in ("up", "destroy", "remove_stack", "stack_resources", "refreshed"):
        monkeypatch.setattr(engine, name, getattr(found, name))
    return found
