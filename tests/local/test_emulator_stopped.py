"""The emulator dying while `mlinfra apply` runs: the apply ends with exit 1 and says the
emulator stopped and how to go on; the state holds only what was done, and the next apply
(which starts the emulator again) finishes the rest with nothing created twice."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from click.testing import CliRunner
from shop import client

from mlinfra.cli.main import cli
from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.engines.providers.local import LocalProvider
from mlinfra.state import backend_for


def apply(spec_file: Path):
    args = ["apply", "--env", "local", "-f", str(spec_file), "--auto-approve"]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_an_apply_whose_emulator_dies_says_so_and_the_next_one_finishes(
    spec_file: Path, monkeypatch
) -> None:
    create = LocalProvider.create
    calls: list[str] = []

    def create_after_killing_the_emulator(self, type_, inputs):
        calls.append(type_)
        if len(calls) == 2:  # the first create is under way or done: kill it now
            os.kill(process.status(spec_file).pid, signal.SIGKILL)
        return create(self, type_, inputs)

    monkeypatch.setattr(LocalProvider, "create", create_after_killing_the_emulator)
    result = apply(spec_file)
    assert result.exit_code == 1, result.output
    assert "error: the apply stopped: the local emulator at http://127.0.0.1:" in result.output
    assert "stopped answering" in result.output
    assert f"start it again with `mlinfra emulator start -f {spec_file}`" in result.output
    assert "Traceback" not in result.output
    assert process.status(spec_file) is None  # gone, and its run file with it
    recorded = backend_for(".mlinfra/state", spec_file.parent).read("shop", "local")

    monkeypatch.setattr(LocalProvider, "create", create)
    again = apply(spec_file)
    assert again.exit_code == 0, again.output
    state = backend_for(".mlinfra/state", spec_file.parent).read("shop", "local")
    assert set(recorded.resources) <= set(state.resources)
    sagemaker = client(Access.for_spec(spec_file))
    names = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert len(names) == 1
    assert [g["FeatureGroupName"] for g in sagemaker.list_feature_groups()["FeatureGroupSummaries"]]
    plan = CliRunner().invoke(
        cli, ["plan", "--env", "local", "-f", str(spec_file), "--detailed-exitcode"]
    )
    assert plan.exit_code == 0, plan.output
