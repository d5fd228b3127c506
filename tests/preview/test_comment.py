"""`mlinfra preview plan --format markdown`: the pull request comment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from preview_project import git, preview

from mlinfra.preview.naming import preview_env_name

CHURN = Path(__file__).parents[2] / "examples" / "churn"


@pytest.fixture()
def churn(tmp_path: Path) -> Path:
    """The churn example in a repository: `main`, then a branch that isolates dev's network."""
    shutil.copy(CHURN / "mlinfra.yaml", tmp_path / "mlinfra.yaml")
    for folder in ("data", "pipelines"):
        shutil.copytree(CHURN / folder, tmp_path / folder)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "churn")
    git(tmp_path, "checkout", "-qb", "harden-dev")
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(
        spec.read_text().replace(
            '    account: "111111111111"\n',
            '    account: "111111111111"\n    security:\n      network_isolation: true\n',
            1,
        )
    )
    return spec


def test_the_comment_puts_the_summary_first_then_the_plan_then_the_audit(churn: Path) -> None:
    code, out = preview("plan", "-f", str(churn), "--format", "markdown")
    assert code == 0, out
    env = preview_env_name("harden-dev")
    lines = out.splitlines()
    assert lines[0] == f"## mlinfra preview `{env}`"
    # The model, three pipeline steps and the batch job's two (its export and its transform
    # job, isolated as its model is); the monitor job is judged on its VPC instead.
    assert lines[2].startswith("**Plan: ") and "Audit: 0 new findings, 6 resolved" in lines[2]
    assert "| Branch | `harden-dev` |" in out
    assert "| Based on | `dev` (target sagemaker, region us-east-1) |" in out
    plan_at = out.index(f"### mlinfra plan: `churn` / `{env}`")
    audit_at = out.index("### Audit of `dev`: this branch against the fork point from main")
    assert plan_at < audit_at
    resolved = out[out.index("#### Findings this branch resolves") :]
    assert "`model-network-isolation`" in resolved
    assert "#### Findings this branch adds" not in out
    assert out.rstrip().endswith(f"<!-- mlinfra-preview: {env} -->")


def test_the_comment_is_the_same_every_time(churn: Path) -> None:
    first = preview("plan", "-f", str(churn), "--format", "markdown")
    assert first == preview("plan", "-f", str(churn), "--format", "markdown")


def test_a_branch_that_weakens_its_base_shows_the_findings_it_adds(churn: Path) -> None:
    git(churn.parent, "commit", "-qam", "harden dev")
    git(churn.parent, "checkout", "-qb", "soften-dev")
    churn.write_text(
        churn.read_text().replace("network_isolation: true", "network_isolation: false", 1)
    )
    code, out = preview(
        "plan", "-f", str(churn), "--format", "markdown", "--compare-to", "harden-dev"
    )
    assert code == 0, out
    assert "Audit: 6 new findings (6 medium), 0 resolved" in out
    assert "#### Findings this branch adds" in out
    assert "this branch against harden-dev" in out


def test_a_local_base_is_not_audited_and_the_comment_says_why(churn: Path) -> None:
    code, out = preview("plan", "-f", str(churn), "--format", "markdown", "--base", "local")
    assert code == 0, out
    assert "Audit:" not in out.splitlines()[2]
    assert "_Not compared: environment local has target local: nothing to audit" in out


def test_a_hostile_branch_name_is_escaped_in_the_comment(spec_file: Path) -> None:
    code, out = preview(
        "plan", "-f", str(spec_file), "--format", "markdown", "--branch", "x<img src=y>|`z`"
    )
    assert code == 0, out
    assert "<img" not in out
    assert "| Branch | x&lt;img src=y&gt;\\|" in out
