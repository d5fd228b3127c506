"""`mlinfra apply` and `destroy` on a local environment, as a user runs them.

Each test's apply starts a real detached emulator beside its spec (as apply does when none
runs), and the fixture stops it afterwards.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from shop import client, mlinfra, shop_spec

from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.state import backend_for


def emulator_client(spec_file: Path):
    return client(Access.for_spec(spec_file))


# What the emulator has and what the state records, by kind: the API's list call and the
# request field that names each kind.
KINDS = {
    "local.Model": ("models", "list_models", "Models", "ModelName"),
    "local.EndpointConfig": (
        "configs", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"
    ),
    "local.Endpoint": ("endpoints", "list_endpoints", "Endpoints", "EndpointName"),
    "local.FeatureGroup": (
        "groups", "list_feature_groups", "FeatureGroupSummaries", "FeatureGroupName"
    ),
    "local.ModelPackageGroup": (
        "registries", "list_model_package_groups", "ModelPackageGroupSummaryList",
        "ModelPackageGroupName",
    ),
}  # fmt: skip


def inventory(spec_file: Path) -> dict[str, list[str]]:
    sagemaker = emulator_client(spec_file)
    return {
        kind: sorted(item[field] for item in getattr(sagemaker, method)()[key])
        for kind, method, key, field in KINDS.values()
    }


def recorded(spec_file: Path) -> dict[str, list[str]]:
    state = backend_for(".mlinfra/state", spec_file.parent).read("shop", "local")
    found: dict[str, list[str]] = {kind: [] for kind, *_ in KINDS.values()}
    for entry in state.resources.values():
        kind, *_, field = KINDS[entry.type]
        found[kind].append(entry.inputs[field])
    return {kind: sorted(names) for kind, names in found.items()}


def test_apply_then_nothing_to_do_then_destroy(spec_file: Path) -> None:
    code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert "5 changed, 0 waiting, 0 failed" in out
    assert inventory(spec_file) == recorded(spec_file)
    assert inventory(spec_file)["endpoints"] == ["shop-local-scorer-api"]

    code, out = mlinfra("plan", "--env", "local", "-f", str(spec_file), "--detailed-exitcode")
    assert code == 0, out
    code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0 and "nothing to do" in out

    code, out = mlinfra("output", "--env", "local", "-f", str(spec_file), "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["source"] == "state"
    endpoint = document["components"]["endpoint.scorer-api"]
    url = process.status(spec_file).url
    assert endpoint["url"] == f"{url}/endpoints/shop-local-scorer-api/invocations"
    assert endpoint["arn"].endswith(":endpoint/shop-local-scorer-api")

    code, out = mlinfra("destroy", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert not any(inventory(spec_file).values())
    assert backend_for(".mlinfra/state", spec_file.parent).read("shop", "local").is_empty


def test_apply_without_terminal_needs_auto_approve(spec_file: Path) -> None:
    code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file))
    assert code == 1
    assert "--auto-approve" in out
    assert backend_for(".mlinfra/state", spec_file.parent).read("shop", "local").is_empty


def test_second_apply_names_the_lock_holder(spec_file: Path) -> None:
    backend = backend_for(".mlinfra/state", spec_file.parent)
    with backend.lock("local", "mlinfra apply"):
        code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 1
    assert f"pid {os.getpid()}" in out or str(os.getpid()) in out


def test_stale_saved_plan_is_refused(spec_file: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    code, out = mlinfra("plan", "--env", "local", "-f", str(spec_file), "--out", str(saved))
    assert code == 0, out
    code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    code, out = mlinfra(
        "apply", str(saved), "--env", "local", "-f", str(spec_file), "--auto-approve"
    )
    assert code == 1 and "stale" in out


def test_changed_instance_type_moves_the_endpoint(spec_file: Path) -> None:
    assert mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")[0] == 0
    before = inventory(spec_file)
    spec_file.write_text(shop_spec(instance_type="ml.m5.xlarge"))
    code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    after = inventory(spec_file)
    assert after["configs"] != before["configs"] and len(after["configs"]) == 1
    assert after == recorded(spec_file)
    described = emulator_client(spec_file).describe_endpoint(EndpointName="shop-local-scorer-api")
    assert described["EndpointConfigName"] == after["configs"][0]


def test_killed_applies_converge_without_duplicates_or_orphans(spec_file: Path) -> None:
    """SIGKILL an apply at random points; the next apply converges every time."""
    command = [
        sys.executable,
        "-m",
        "mlinfra.cli.main",
        "apply",
        "--env",
        "local",
        "-f",
        str(spec_file),
        "--auto-approve",
    ]
    assert mlinfra("emulator", "start", "-f", str(spec_file))[0] == 0
    rng = random.Random(7)
    for trial in range(4):
        instance = ("ml.m5.large", "ml.m5.xlarge")[trial % 2]
        spec_file.write_text(shop_spec(instance_type=instance))
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 3.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        # A killed apply may leave its lock; it is stale (its process is gone).
        code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
        assert code == 0, out
        assert inventory(spec_file) == recorded(spec_file)
        assert len(inventory(spec_file)["configs"]) == 1
        state = json.loads((spec_file.parent / ".mlinfra/state/local.json").read_text())
        assert not [a for a in state["resources"] if a.endswith("#deposed")]
    code, out = mlinfra("plan", "--env", "local", "-f", str(spec_file), "--detailed-exitcode")
    assert code == 0, out


def test_refresh_reports_drift_and_apply_restores_what_was_deleted(spec_file: Path) -> None:
    assert mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")[0] == 0
    code, out = mlinfra("refresh", "--env", "local", "-f", str(spec_file))
    assert code == 0 and "No drift" in out
    # Why a plan may still show changes: refresh compares with the last apply, not the spec.
    assert "what the last apply made" in out and "`mlinfra plan --env local`" in out

    sagemaker = emulator_client(spec_file)
    sagemaker.delete_feature_group(FeatureGroupName="shop-local-customers")
    arn = sagemaker.describe_endpoint(EndpointName="shop-local-scorer-api")["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "someone"}])

    code, out = mlinfra(
        "plan", "--env", "local", "-f", str(spec_file), "--refresh", "--detailed-exitcode"
    )
    assert code == 2, out
    assert "no longer exists (deleted outside mlinfra)" in out
    code, out = mlinfra("refresh", "--env", "local", "-f", str(spec_file))
    assert code == 0, out
    assert "feature_store.customers: deleted outside mlinfra" in out
    assert "endpoint.scorer-api: changed outside mlinfra: Tags" in out
    state = backend_for(".mlinfra/state", spec_file.parent).read("shop", "local")
    assert "feature_store.customers" not in state.resources

    code, out = mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert inventory(spec_file)["groups"] == ["shop-local-customers"]


def test_apply_of_a_sagemaker_environment_says_pulumi_is_needed(
    tmp_path: Path, monkeypatch
) -> None:
    import shutil

    churn = Path(__file__).resolve().parents[2] / "examples" / "churn"
    copy = tmp_path / "churn"
    shutil.copytree(churn, copy, ignore=shutil.ignore_patterns("__pycache__", ".mlinfra"))
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no Pulumi CLI on this machine
    code, out = mlinfra("apply", "--env", "dev", "-f", str(copy / "mlinfra.yaml"), "--auto-approve")
    assert code == 1
    assert "needs the Pulumi CLI" in out and "get.pulumi.com" in out
    assert not (copy / "stacks").exists()
    # The engine can be chosen: a local environment through its rendered program needs the
    # Pulumi CLI too; the embedded engine has no providers for AWS.
    code, out = mlinfra(
        "apply",
        "--env",
        "local",
        "--engine",
        "pulumi",
        "-f",
        str(copy / "mlinfra.yaml"),
        "--auto-approve",
    )
    assert code == 1 and "needs the Pulumi CLI" in out
    code, out = mlinfra(
        "destroy",
        "--env",
        "dev",
        "--engine",
        "embedded",
        "-f",
        str(copy / "mlinfra.yaml"),
        "--auto-approve",
    )
    assert code == 1 and "embedded engine applies local environments" in out
