"""`mlinfra pipeline run|runs` and `mlinfra model approve|versions|show` against a running emulator.

The emulator is the `server` fixture's, announced in the spec folder's run file as
`mlinfra emulator start` does, so the CLI finds it the way it finds a detached one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pipeline_project import (
    GROUP,
    announce,
    client,
    create,
    mlinfra,
    register_version,
    write_project,
)


@pytest.fixture()
def spec(server, tmp_path: Path) -> Path:
    """The tiny project, its pipeline created in the running, announced emulator."""
    path = write_project(tmp_path, approval="manual")
    create(server, path)
    announce(server, path)
    return path


def test_run_waits_for_the_steps_and_runs_lists_the_execution(spec):
    result = mlinfra(spec, "pipeline", "run", "train-tiny", "--env", "local", "--wait")
    assert result.exit_code == 0, result.output
    for step in ("prepare", "train", "evaluate", "gate", "register"):
        assert step in result.stdout
    assert "registered version 1" in result.stdout
    assert result.stdout.rstrip().endswith("execution succeeded")

    listed = mlinfra(spec, "pipeline", "runs", "train-tiny", "--env", "local")
    assert listed.exit_code == 0, listed.output
    assert "Succeeded" in listed.stdout and "register:Succeeded" in listed.stdout
    assert "differs from" not in listed.stderr  # what runs is what the spec says


def test_a_manually_approved_model_registers_pending_and_approve_approves_it(server, spec):
    assert mlinfra(spec, "pipeline", "run", "train-tiny", "--env", "local", "--wait").exit_code == 0
    (version,) = client(server).list_model_packages(ModelPackageGroupName=GROUP)[
        "ModelPackageSummaryList"
    ]
    assert version["ModelApprovalStatus"] == "PendingManualApproval"
    result = mlinfra(spec, "model", "approve", "tiny-model", "--env", "local", "--yes")
    assert result.exit_code == 0, result.output
    assert "approved tiny-model version 1" in result.stdout
    (version,) = client(server).list_model_packages(ModelPackageGroupName=GROUP)[
        "ModelPackageSummaryList"
    ]
    assert version["ModelApprovalStatus"] == "Approved"


def test_approve_takes_the_newest_version_and_names_the_versions_a_wrong_one_misses(server, spec):
    sagemaker = client(server)
    for _ in range(3):
        register_version(sagemaker)
    missing = mlinfra(spec, "model", "approve", "tiny-model", "--env", "local", "--version", "7")
    assert missing.exit_code == 1
    assert "has no version 7 (it has: 1, 2, 3)" in missing.stderr

    result = mlinfra(spec, "model", "approve", "tiny-model", "--env", "local", "--yes")
    assert result.exit_code == 0, result.output
    assert "approved tiny-model version 3" in result.stdout
    listed = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    statuses = {v["ModelPackageVersion"]: v["ModelApprovalStatus"] for v in listed}
    assert statuses == {1: "PendingManualApproval", 2: "PendingManualApproval", 3: "Approved"}
    again = mlinfra(
        spec, "model", "approve", "tiny-model", "--env", "local", "--version", "3", "--yes"
    )
    assert again.exit_code == 1
    assert "tiny-model version 3 is already approved" in again.stderr


def test_a_false_condition_is_said_and_a_param_overrides_the_default(spec):
    result = mlinfra(
        spec, "pipeline", "run", "train-tiny", "--env", "local", "--param", "min_accuracy=2",
        "--wait",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "condition did not hold" in result.stdout
    assert "register" not in result.stdout


def test_a_failed_run_exits_1_with_the_reason(server, tmp_path):
    path = write_project(tmp_path, prepare="raise SystemExit('no customer data')\n")
    create(server, path)
    announce(server, path)
    result = mlinfra(path, "pipeline", "run", "train-tiny", "--env", "local", "--wait")
    assert result.exit_code == 1
    assert "no customer data" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train-tiyn", "--env", "local"], "did you mean 'train-tiny'?"),
        (["train-tiny", "--env", "dev"], "has target 'sagemaker'"),
        (
            ["train-tiny", "--env", "local", "--param", "min_acuracy=1"],
            "did you mean 'min_accuracy'",
        ),
        (["train-tiny", "--env", "local", "--param", "oops"], "is not KEY=VALUE"),
    ],
)
def test_mistakes_are_explained(spec, args, message):
    result = mlinfra(spec, "pipeline", "run", *args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_a_pipeline_not_in_the_emulator_says_how_to_create_it(server, tmp_path):
    path = write_project(tmp_path)
    announce(server, path)
    result = mlinfra(path, "pipeline", "runs", "train-tiny", "--env", "local")
    assert result.exit_code == 1
    assert "does not exist in the emulator yet" in result.stderr


def test_no_running_emulator_says_how_to_start_one(tmp_path):
    path = write_project(tmp_path)
    result = mlinfra(path, "pipeline", "run", "train-tiny", "--env", "local")
    assert result.exit_code == 1
    assert "no emulator is running" in result.stderr
    assert "mlinfra emulator start" in result.stderr


def test_a_pipeline_changed_since_the_last_apply_is_warned_about(spec):
    spec.write_text(spec.read_text().replace("C: 0.5", "C: 0.25"))
    result = mlinfra(spec, "pipeline", "runs", "train-tiny", "--env", "local")
    assert result.exit_code == 0
    assert "differs from" in result.stderr and "mlinfra apply --env local" in result.stderr


def test_versions_lists_each_version_with_its_metrics_data_and_commit(spec):
    mlinfra(spec, "pipeline", "run", "train-tiny", "--env", "local", "--wait")
    result = mlinfra(spec, "model", "versions", "tiny-model", "--env", "local")
    assert result.exit_code == 0, result.output
    assert "version 1  PendingManualApproval" in result.stdout
    assert "accuracy" in result.stdout
    digest = hashlib.sha256((spec.parent / "data/points.csv").read_bytes()).hexdigest()
    assert f"data: points {digest[:12]}" in result.stdout
    as_json = json.loads(
        mlinfra(spec, "model", "versions", "tiny-model", "--env", "local", "--json").stdout
    )
    (version,) = as_json["versions"]
    assert version["inputs"]["points"]["sha256"] == f"sha256:{digest}"
    assert version["metrics"]["accuracy"] > 0.6


def test_show_gives_a_versions_evidence_and_refuses_one_it_has_not(spec):
    mlinfra(spec, "pipeline", "run", "train-tiny", "--env", "local", "--wait")
    result = mlinfra(spec, "model", "show", "tiny-model", "--version", "1", "--env", "local")
    assert result.exit_code == 0, result.output
    for text in (
        "status: PendingManualApproval",
        "registered by: arn:",
        "hyperparameters: C=0.5",
        "code prepare: sha256:",
        "artifact: sha256:",
        "metrics: accuracy",
    ):
        assert text in result.stdout, result.stdout
    missing = mlinfra(spec, "model", "show", "tiny-model", "--version", "7", "--env", "local")
    assert missing.exit_code == 1
    assert "has no version 7 (it has: 1)" in missing.output
