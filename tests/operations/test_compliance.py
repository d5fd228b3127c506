"""The audit and the compliance diff as operations: which specs to compare, read from git or
the working tree, then judged."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from operations_project import CHURN, Recorder, validated

from mlinfra.operations import progress as events
from mlinfra.operations.compliance import AuditRequest, DiffRequest, audit, compliance_diff
from mlinfra.operations.errors import OperationError

ENDPOINT_KEY = "      kms_key: create\n"


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )


@pytest.fixture()
def repository(tmp_path: Path) -> Path:
    """The churn example committed under `specs/churn` of a repository; its spec file."""
    shutil.copytree(
        CHURN, tmp_path / "specs" / "churn", ignore=shutil.ignore_patterns("__pycache__")
    )
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "v1")
    return tmp_path / "specs" / "churn" / "mlinfra.yaml"


def test_a_commit_dropping_the_kms_key_weakens_encryption_and_adds_findings(repository) -> None:
    repository.write_text(repository.read_text().replace(ENDPOINT_KEY, "", 1))
    git(repository.parent, "commit", "-qam", "v2: no key")

    diff = compliance_diff(DiffRequest(str(repository), "prod", base="HEAD~1", head="HEAD"))

    assert diff.environments == ("prod",)
    assert diff.base_label.startswith("HEAD~1 (") and diff.head_label.startswith("HEAD (")
    assert diff.new and not diff.resolved
    weakened = {(c.category, c.address) for c in diff.weakened}
    assert ("encryption", "kms.key") in weakened
    # Findings point at the spec file as the user names it, not at the extracted copy.
    assert {f.source.filename for f in diff.new if f.source} == {str(repository)}


def test_the_working_tree_is_compared_when_no_head_is_given(repository) -> None:
    repository.write_text(repository.read_text().replace("approval: manual", "approval: auto"))

    diff = compliance_diff(DiffRequest(str(repository), "prod", base="HEAD"))

    assert diff.head_label == "working tree"
    assert [(c.category, c.direction) for c in diff.changes] == [("approval", "weakened")]


def test_every_environment_both_revisions_have_is_compared(repository) -> None:
    diff = compliance_diff(DiffRequest(str(repository), base="HEAD"))

    assert diff.environments == ("dev", "prod")
    assert any("nothing to audit" in note for note in diff.notes)  # the local one
    assert diff.new == () and diff.changes == ()


def test_an_unknown_revision_is_an_error_naming_it(repository) -> None:
    with pytest.raises(OperationError, match="unknown git revision 'v9'"):
        compliance_diff(DiffRequest(str(repository), "prod", base="v9"))


def test_a_spec_outside_git_cannot_be_compared_by_revision(churn) -> None:
    with pytest.raises(OperationError, match="not in a git repository: comparing revisions"):
        compliance_diff(DiffRequest(str(churn), "prod", base="HEAD"))


def test_two_environments_are_compared_with_their_names_set_aside(churn) -> None:
    request = DiffRequest(str(churn), "dev", other="prod", validation=validated(churn))
    diff = compliance_diff(request)

    assert (diff.base_label, diff.head_label) == ("dev", "prod")
    assert diff.environments == ("dev", "prod")
    assert {c.direction for c in diff.changes} <= {"strengthened", "changed"}


def test_an_unknown_other_environment_suggests_one(churn) -> None:
    request = DiffRequest(str(churn), "dev", other="prd", validation=validated(churn))
    with pytest.raises(OperationError, match="has no environment 'prd'") as raised:
        compliance_diff(request)
    assert raised.value.suggestion == "did you mean 'prod'?"


def test_the_audit_judges_each_sagemaker_environment_and_says_it_skips_the_local_one(
    churn,
) -> None:
    heard = Recorder()
    results = audit(AuditRequest(validated(churn), str(churn)), heard)

    assert [r.environment for r in results] == ["dev", "prod"]
    (skipped,) = heard.of(events.NotAudited)
    assert "local" in skipped.reason and "nothing to audit" in skipped.reason
