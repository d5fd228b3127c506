"""`mlinfra model approve|reject` and the approval history of `mlinfra model show`, against a
running emulator: what a reviewer sees before deciding, what is recorded, what is refused.

Versions are registered through boto3 as a pipeline would, each with an evaluation report
that is a file of the project, so their metrics are known.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from click.testing import Result
from pipeline_project import GROUP, announce, client, mlinfra, register_version, write_project


def decide(spec: Path, decision: str, version: int, reason: str) -> Result:
    """`mlinfra model approve|reject tiny-model`, not asked."""
    return mlinfra(
        spec, "model", decision, "tiny-model", "--env", "local", "--version", str(version),
        "--reason", reason, "--yes",
    )  # fmt: skip


@pytest.fixture()
def spec(server, tmp_path: Path) -> Path:
    path = write_project(tmp_path, approval="manual")
    client(server).create_model_package_group(ModelPackageGroupName=GROUP)
    announce(server, path)
    return path


def register(server, spec: Path, accuracy: float, status: str = "PendingManualApproval") -> int:
    """A version whose evaluation report says `accuracy`; its number."""
    sagemaker = client(server)
    number = len(
        sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    )
    report = spec.parent / f"evaluation-{number + 1}.json"
    report.write_text(json.dumps({"metrics": {"accuracy": {"value": accuracy}}}))
    arn = register_version(sagemaker, status, str(report))
    return sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageVersion"]


def status_of(server, number: int) -> dict:
    sagemaker = client(server)
    listed = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    arn = next(v["ModelPackageArn"] for v in listed if v["ModelPackageVersion"] == number)
    return sagemaker.describe_model_package(ModelPackageName=arn)


def test_approve_shows_the_metrics_against_the_serving_version_and_records_who_and_why(
    server, spec
):
    register(server, spec, 0.80, status="Approved")
    register(server, spec, 0.91)
    result = decide(spec, "approve", 2, "beats version 1 on the holdout")
    assert result.exit_code == 0, result.output
    assert "against version 1, which serves now" in result.stdout
    assert "0.9100   was 0.8000  (+0.1100)" in result.stdout
    assert "approved tiny-model version 2" in result.stdout
    described = status_of(server, 2)
    assert described["ModelApprovalStatus"] == "Approved"
    who = f"arn:aws:iam::123456789012:user/{getpass.getuser()}"
    assert described["ApprovalDescription"] == (
        f"Approved by {who}: beats version 1 on the holdout"
    )


def test_reject_needs_a_reason_and_show_lists_every_decision(server, spec):
    register(server, spec, 0.80)
    refused = mlinfra(spec, "model", "reject", "tiny-model", "--env", "local", "--yes")
    assert refused.exit_code == 1
    assert "a rejection needs a reason" in refused.stderr and "--reason" in refused.stderr
    assert status_of(server, 1)["ModelApprovalStatus"] == "PendingManualApproval"

    assert decide(spec, "approve", 1, "first model").exit_code == 0
    rejected = decide(spec, "reject", 1, "leaks the label")
    assert rejected.exit_code == 0, rejected.output
    assert "this is the version that serves now" in rejected.stdout
    assert status_of(server, 1)["ModelApprovalStatus"] == "Rejected"

    shown = mlinfra(spec, "model", "show", "tiny-model", "--version", "1", "--env", "local")
    lines = [line for line in shown.stdout.splitlines() if line.startswith("    ")]
    assert len(lines) == 2, shown.stdout
    assert "Approved by arn:" in lines[0] and lines[0].endswith(": first model")
    assert "Rejected by arn:" in lines[1] and lines[1].endswith(": leaks the label")
    as_json = json.loads(
        mlinfra(spec, "model", "show", "tiny-model", "--version", "1", "--env", "local",
                "--json").stdout
    )  # fmt: skip
    history = as_json["version"]["history"]
    assert [h["status"] for h in history] == ["Approved", "Rejected"]
    assert history[1]["reason"] == "leaks the label"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["approve", "--version", "1"], "tiny-model version 1 is already approved"),
        (["reject", "--version", "2", "--reason", "x"], "tiny-model version 2 is already rejected"),
        (["approve", "--version", "9"], "has no version 9 (it has: 1, 2, 3)"),
        (["approve", "--env", "nowhere"], "has no environment 'nowhere'"),
    ],
)
def test_what_cannot_be_done_is_refused_and_nothing_changes(server, spec, args, message):
    register(server, spec, 0.8, status="Approved")
    register(server, spec, 0.7, status="Rejected")
    register(server, spec, 0.9)
    decision, *rest = args
    env = [] if "--env" in rest else ["--env", "local"]
    result = mlinfra(spec, "model", decision, "tiny-model", *env, *rest, "--yes")
    assert result.exit_code == 1
    assert message in result.stderr
    statuses = [status_of(server, n)["ModelApprovalStatus"] for n in (1, 2, 3)]
    assert statuses == ["Approved", "Rejected", "PendingManualApproval"]


def test_without_a_terminal_or_yes_it_shows_the_review_and_changes_nothing(server, spec):
    register(server, spec, 0.85)
    result = mlinfra(spec, "model", "approve", "tiny-model", "--env", "local")
    assert result.exit_code == 1
    assert "no version serves now" in result.stdout
    assert "accuracy" in result.stdout and "0.8500" in result.stdout
    assert "pass --yes" in result.stderr
    assert status_of(server, 1)["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_model_without_versions_says_how_to_make_one(spec):
    result = mlinfra(spec, "model", "approve", "tiny-model", "--env", "local", "--yes")
    assert result.exit_code == 1
    assert "has no versions yet" in result.stderr
