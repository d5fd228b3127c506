"""`mlinfra audit` and `mlinfra audit rules`: environments, formats, --out, exit codes, and
compliance diffs, on the churn example and small specs, with the real rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from mlinfra.cli.main import cli
from mlinfra.policy.reports import json as json_report
from mlinfra.policy.rule_ids import RULE_IDS

ROOT = Path(__file__).parents[2]
CHURN = ROOT / "examples" / "churn" / "mlinfra.yaml"
SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())

MINI = """\
version: 1
project: mini
environments:
  dev:
    target: sagemaker
    account: "111111111111"
    security:
      kms_key: create
  local:
    target: local
models:
  scorer:
    registry_group: scorer
    framework: sklearn
    framework_version: "1.2-1"
    version: latest-approved
endpoints:
  api:
    model: scorer
    instance_type: ml.m5.large
    instance_count: 1
"""


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["audit", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def churn(*args: str) -> Result:
    return run("-f", str(CHURN.relative_to(Path.cwd())), *args)


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


# -- audit rules ----------------------------------------------------------------------------


def test_rules_json_lists_every_rule_once() -> None:
    result = run("rules", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["rules"]
    ids = [r["id"] for r in listed]
    assert len(ids) == len(set(ids)) == 31
    assert set(ids) == RULE_IDS
    first = listed[0]
    assert set(first) == {
        "id",
        "title",
        "severity",
        "packs",
        "resource_types",
        "rationale",
        "remediation",
        "references",
    }
    assert first["severity"] in ("critical", "high", "medium", "low", "info")


def test_rules_lists_id_severity_packs_and_title() -> None:
    result = run("rules")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RULE", "SEVERITY", "PACKS", "TITLE"]
    assert len(lines) == 1 + 31 + 1 and lines[-1] == "31 rule(s)"
    kms = next(line for line in lines if line.startswith("endpoint-kms-key "))
    assert "sagemaker-security" in kms


def test_rules_of_one_pack() -> None:
    listed = json.loads(run("rules", "--json", "--pack", "prod-readiness").stdout)["rules"]
    assert listed and all("prod-readiness" in r["packs"] for r in listed)


# -- the audit of the churn example -----------------------------------------------------------


def test_churn_dev_waiver_suppresses_endpoint_kms_key() -> None:
    result = churn("--env", "dev", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    waived = result.stdout[result.stdout.index("  WAIVED") :]
    assert "endpoint-kms-key  endpoint.churn-api/config" in waived
    assert "waived: The dev account holds synthetic data only" in waived
    active = result.stdout[: result.stdout.index("  WAIVED")]
    assert "endpoint-kms-key" not in active


def test_churn_audits_every_sagemaker_environment_by_default() -> None:
    result = churn("--format", "json", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [e["environment"] for e in document["environments"]] == ["dev", "prod"]
    assert "info: environment local has target local: nothing to audit" in result.stderr


def test_a_local_environment_is_skipped_with_an_info_line() -> None:
    result = churn("--env", "local")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        "info: environment local has target local: nothing to audit "
        "(the audit judges what is deployed to SageMaker)"
    )
    assert "0 environments: no findings" in result.stdout


def test_exit_1_when_a_finding_reaches_fail_on() -> None:
    # The example passes its own audit at the default (high): dev's one high finding, its
    # captured requests not encrypted, is waived (dev holds synthetic data only). Its
    # medium ones (no KMS key in dev) are not.
    assert churn().exit_code == 0
    failed = churn("--env", "dev", "--fail-on", "medium")
    assert failed.exit_code == 1
    assert "audit failed: 30 unwaived finding(s) at or above medium in dev" in failed.stderr
    assert churn("--env", "dev", "--fail-on", "critical").exit_code == 0
    assert churn("--env", "dev", "--fail-on", "none").exit_code == 0
    assert churn("--env", "dev", "--fail-on", "LOW").exit_code == 1


def test_exit_0_when_no_finding_reaches_fail_on() -> None:
    prod = churn("--env", "prod", "--format", "json", "--fail-on", "high")
    assert prod.exit_code == 0, prod.output
    summary = json.loads(prod.stdout)["summary"]
    assert summary["critical"] == summary["high"] == summary["failing"] == 0


def test_a_bad_fail_on_is_a_usage_error() -> None:
    result = churn("--fail-on", "severe")
    assert result.exit_code == 2
    assert "'severe' is not one of" in result.stderr


def test_an_unknown_environment_exits_1_with_a_suggestion() -> None:
    result = churn("--env", "prd")
    assert result.exit_code == 1
    assert "has no environment 'prd' (it has: dev, local, prod)" in result.stderr
    assert "did you mean 'prod'?" in result.stderr


def test_an_invalid_spec_exits_1_with_its_diagnostics(tmp_path: Path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(MINI.replace("instance_count: 1", "instance_count: -1"))
    result = run("-f", str(spec))
    assert result.exit_code == 1
    assert "invalid (1 error(s)" in result.stdout


def test_a_missing_spec_exits_1(tmp_path: Path) -> None:
    result = run("-f", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_environments_are_audited_in_the_order_named() -> None:
    result = churn("--env", "prod", "--env", "dev", "--format", "json", "--fail-on", "none")
    document = json.loads(result.stdout)
    assert [e["environment"] for e in document["environments"]] == ["prod", "dev"]
    jsonschema.validate(document, json_report.SCHEMA)


def test_out_writes_the_report_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "audit.sarif"
    result = churn("--env", "dev", "--format", "sarif", "--out", str(out), "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Wrote the sarif audit report to {out}: dev: ")
    assert len(result.stdout.splitlines()) == 1
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(out.read_text()))


def test_out_to_a_missing_folder_exits_1(tmp_path: Path) -> None:
    result = churn("--env", "dev", "--format", "json", "--out", str(tmp_path / "no" / "a.json"))
    assert result.exit_code == 1
    assert "error: cannot write" in result.stderr


def test_sarif_of_churn_names_the_spec_from_the_repository_root() -> None:
    result = churn("--format", "sarif", "--fail-on", "none")
    document = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    run_ = document["runs"][0]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"]
    }
    assert uris == {"examples/churn/mlinfra.yaml"}
    prints = [(r["partialFingerprints"], r["properties"]["environment"]) for r in run_["results"]]
    assert len({json.dumps(p) for p in prints}) == len(prints)
    suppressed = [r for r in run_["results"] if r.get("suppressions")]
    assert {r["ruleId"] for r in suppressed} == {
        "endpoint-kms-key",
        "endpoint-data-capture-encrypted",
    }


def test_junit_of_churn_is_well_formed() -> None:
    result = churn("--format", "junit", "--fail-on", "high")
    assert result.exit_code == 0
    root = ET.fromstring(result.stdout)  # noqa: S314 - our own output
    assert [s.get("name") for s in root.findall("testsuite")] == ["dev", "prod"]
    assert root.get("failures") == "0" and int(root.get("skipped")) >= 2


def test_markdown_of_churn() -> None:
    result = churn("--env", "dev", "--format", "markdown", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert "endpoint-kms-key" in result.stdout


def test_warnings_go_to_stderr_with_machine_formats(tmp_path: Path) -> None:
    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(
        MINI + "policies:\n  waivers:\n    - rule: endpoint-kms-key\n      resource: endpoint.api\n"
        "      reason: old\n      owner: me@example.com\n      expires: 2020-01-01\n"
    )
    result = run("-f", str(spec), "--format", "json", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert "expired on 2020-01-01" in result.stderr
    (env,) = json.loads(result.stdout)["environments"]
    assert "expired on 2020-01-01" in env["warnings"][0]["message"]


# -- compliance diffs -----------------------------------------------------------------------


def test_diff_and_against_env_together_are_a_usage_error() -> None:
    assert churn("--diff", "HEAD", "--against-env", "prod", "--env", "dev").exit_code == 2


def test_against_env_needs_one_env() -> None:
    result = churn("--against-env", "prod")
    assert result.exit_code == 2
    assert "compares one --env ENV with OTHER" in result.stderr


def test_a_diff_is_not_reported_as_sarif() -> None:
    assert churn("--against-env", "prod", "--env", "dev", "--format", "sarif").exit_code == 2


def test_against_env_exits_1_only_for_new_findings() -> None:
    # dev's medium findings (no KMS key) are not in prod: new going from prod to dev, not
    # from dev to prod.
    assert churn("--env", "dev", "--against-env", "prod", "--fail-on", "medium").exit_code == 0
    worse = churn("--env", "prod", "--against-env", "dev", "--fail-on", "medium")
    assert worse.exit_code == 1
    assert "new unwaived finding(s) at or above medium" in worse.stderr
    assert churn("--env", "prod", "--against-env", "dev", "--fail-on", "none").exit_code == 0


def test_against_an_unknown_environment_exits_1() -> None:
    result = churn("--env", "dev", "--against-env", "prd")
    assert result.exit_code == 1
    assert "no environment 'prd'" in result.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_against_a_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    spec = tmp_path / "mlinfra.yaml"
    spec.write_text(MINI)
    git("init", "-q")
    git("add", "mlinfra.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    monkeypatch.chdir(tmp_path)

    assert run("--diff", "HEAD").exit_code == 0  # nothing changed
    spec.write_text(MINI.replace("    security:\n      kms_key: create\n", ""))
    weaker = run("--diff", "HEAD", "--format", "json", "--fail-on", "medium")
    assert weaker.exit_code == 1, weaker.output
    assert json.loads(weaker.stdout)
    assert run("--diff", "HEAD", "--fail-on", "none").exit_code == 0
    assert run("--diff", "..HEAD").exit_code == 2
    unknown = run("--diff", "no-such-revision")
    assert unknown.exit_code == 1 and "error:" in unknown.stderr


def test_against_env_counts_each_finding_as_the_audit_does() -> None:
    # Per step of a pipeline, as `--diff` counts them: no two findings merge into one.
    dev = json.loads(churn("--env", "dev", "--format", "json", "--fail-on", "none").output)
    against = churn("--env", "dev", "--against-env", "prod", "--format", "json").output
    summary = json.loads(against)["summary"]

    assert summary["resolved"] + summary["unchanged"] == dev["summary"]["active"]
