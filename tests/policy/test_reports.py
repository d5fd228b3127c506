"""The audit's reports: text, JSON (its versioned shape), SARIF 2.1.0 and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from mlinfra.ir.lower import lower
from mlinfra.policy.engine import audit_environment
from mlinfra.policy.model import References, Rule
from mlinfra.policy.reports import json as json_report
from mlinfra.policy.reports import junit, sarif, text
from mlinfra.policy.reports.formats import render
from mlinfra.policy.reports.wording import location_of
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity
from mlinfra.spec.validate import validate_file, validate_text

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())

SPEC = """\
version: 1
project: mini
environments:
  dev:
    target: sagemaker
    account: "111111111111"
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
  batch:
    model: scorer
    instance_type: ml.m5.large
    instance_count: 1
policies:
  packs: [baseline]
  waivers:
    - rule: endpoint-kms-key
      resource: endpoint.api
      reason: Synthetic data only
      owner: team@example.com
      expires: 2030-01-31
    - rule: s3-versioning
      resource: endpoint.batch
      reason: Nothing to keep
      owner: team@example.com
"""
STALE = SPEC.splitlines().index("    - rule: s3-versioning") + 1  # waiver #2's first line


def make_rule(
    rule_id: str, severity: Severity, resource_types: tuple[str, ...], fails=lambda r: True
) -> Rule:
    def check(resource, ctx):
        if fails(resource):
            yield ctx.finding(made, resource, f"{resource.address} breaks {rule_id}")

    made = Rule(
        id=rule_id,
        title=f"{rule_id} holds",
        severity=severity,
        packs=("baseline",),
        resource_types=resource_types,
        rationale=f"Why {rule_id} matters.",
        remediation=f"Fix {rule_id} in mlinfra.yaml.",
        check=check,
        references=References(checkov=("CKV_AWS_98",), security_hub=("SageMaker.1",)),
    )
    return made


RULES = (
    make_rule("endpoint-kms-key", Severity.HIGH, ("aws.sagemaker.EndpointConfiguration",)),
    make_rule("s3-versioning", Severity.MEDIUM, ("aws.s3.Bucket",), lambda r: False),
    make_rule("model-in-vpc", Severity.LOW, ("aws.sagemaker.Model",)),
    make_rule("endpoint-monitored", Severity.CRITICAL, ("aws.sns.Topic",)),  # none to check
)


@pytest.fixture
def result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditResult:
    """dev: 2 kms findings (api's waived), 1 low, a stale waiver (#2)."""
    (tmp_path / "mlinfra.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    validation = validate_text(SPEC, "mlinfra.yaml", tmp_path)
    assert validation.ok, [d.summary for d in validation.diagnostics]
    spec = validation.environments["dev"]
    return audit_environment(
        spec, lower(spec, tmp_path), "mlinfra.yaml", today=date(2026, 1, 1), rules=RULES
    )


# -- text -----------------------------------------------------------------------------------


def test_text_opens_with_the_summary(result: AuditResult) -> None:
    lines = text.render([result], fail_on=Severity.HIGH).splitlines()
    assert lines[0] == (
        "Audit of mlinfra.yaml: 1 environment (dev): 2 findings (1 high, 1 low), 1 waived; "
        "1 at or above high"
    )
    assert lines[2] == "dev: 2 findings (1 high, 1 low), 1 waived; 4 rules from baseline"


def test_text_groups_findings_by_severity_with_location_and_fix(result: AuditResult) -> None:
    report = text.render([result])
    high, low, waived = (report.index(s) for s in ("  HIGH (1)", "  LOW (1)", "  WAIVED (1)"))
    assert high < low < waived
    assert (
        "    mlinfra.yaml:20:20  endpoint-kms-key  endpoint.batch/config\n"
        "        endpoint.batch/config breaks endpoint-kms-key\n"
        "        fix: Fix endpoint-kms-key in mlinfra.yaml.\n"
    ) in report
    assert "waived: Synthetic data only (owner team@example.com, until 2030-01-31)" in report


def test_text_ends_with_the_warnings(result: AuditResult) -> None:
    report = text.render([result])
    assert report.rstrip().splitlines()[-1] == (
        f"    warning: mlinfra.yaml:{STALE}:7: waiver #2 for s3-versioning on endpoint.batch "
        "matched no finding in dev: remove it"
    )


def test_text_says_so_when_nothing_is_found() -> None:
    assert text.render([]).startswith("Audit of the spec: 0 environments: no findings")


# -- json -----------------------------------------------------------------------------------


def test_json_follows_its_schema(result: AuditResult) -> None:
    document = json.loads(json_report.render([result]))
    jsonschema.validate(document, json_report.SCHEMA)
    assert document["format_version"] == "1"


def test_json_lists_every_finding_with_its_location(result: AuditResult) -> None:
    document = json.loads(render("json", [result], fail_on=Severity.HIGH))
    (env,) = document["environments"]
    assert env["environment"] == "dev" and env["packs"] == ["baseline"]
    assert env["summary"] == {
        "critical": 0,
        "high": 1,
        "medium": 0,
        "low": 1,
        "info": 0,
        "active": 2,
        "waived": 1,
        "rules": 4,
        "failing": 1,
    }
    assert document["summary"] == env["summary"]
    batch = next(f for f in env["findings"] if f["address"] == "endpoint.batch/config")
    assert batch == {
        "rule_id": "endpoint-kms-key",
        "severity": "high",
        "title": "endpoint-kms-key holds",
        "environment": "dev",
        "address": "endpoint.batch/config",
        "component": "endpoint.batch",
        "message": "endpoint.batch/config breaks endpoint-kms-key",
        "remediation": "Fix endpoint-kms-key in mlinfra.yaml.",
        "location": {
            "file": "mlinfra.yaml",
            "line": 20,
            "column": 20,
            "end_line": 20,
            "end_column": 31,
        },
        "waived": False,
        "waiver": None,
    }


def test_json_marks_waived_findings_with_their_waiver(result: AuditResult) -> None:
    (env,) = json.loads(json_report.render([result]))["environments"]
    api = next(f for f in env["findings"] if f["address"] == "endpoint.api/config")
    assert api["waived"] is True
    assert api["waiver"] == {
        "reason": "Synthetic data only",
        "owner": "team@example.com",
        "expires": "2030-01-31",
    }


def test_json_warnings_carry_their_location(result: AuditResult) -> None:
    (env,) = json.loads(json_report.render([result]))["environments"]
    assert env["warnings"] == [
        {
            "message": "waiver #2 for s3-versioning on endpoint.batch matched no finding in "
            "dev: remove it",
            "location": {
                "file": "mlinfra.yaml",
                "line": STALE,
                "column": 7,
                "end_line": STALE + 4,
                "end_column": 1,
            },
        }
    ]


def test_json_with_fail_on_none_counts_nothing_failing(result: AuditResult) -> None:
    document = json.loads(json_report.render([result], fail_on=None))
    assert document["fail_on"] is None
    assert document["summary"]["failing"] == 0


# -- sarif ----------------------------------------------------------------------------------


def sarif_of(result: AuditResult) -> dict:
    return json.loads(sarif.render([result]))


def test_sarif_is_valid_sarif_2_1_0(result: AuditResult) -> None:
    document = sarif_of(result)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-schema-2.1.0.json")
    assert len(document["runs"]) == 1


def test_sarif_driver_describes_each_rule_applied(result: AuditResult) -> None:
    driver = sarif_of(result)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "mlinfra" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == [r.id for r in RULES]
    kms = driver["rules"][0]
    assert kms["name"] == "EndpointKmsKey"
    assert kms["shortDescription"] == {"text": "endpoint-kms-key holds"}
    assert kms["fullDescription"] == {"text": "Why endpoint-kms-key matters."}
    assert "Fix endpoint-kms-key in mlinfra.yaml." in kms["help"]["text"]
    assert "Checkov CKV_AWS_98" in kms["help"]["markdown"]
    assert kms["properties"]["security-severity"] == "7.0"
    assert kms["properties"]["tags"] == ["baseline", "security"]
    assert kms["defaultConfiguration"] == {"level": "error"}
    levels = {r["id"]: r["properties"]["security-severity"] for r in driver["rules"]}
    assert levels == {
        "endpoint-kms-key": "7.0",
        "s3-versioning": "5.0",
        "model-in-vpc": "3.0",
        "endpoint-monitored": "9.0",
    }


def test_sarif_results_point_at_the_spec(result: AuditResult) -> None:
    run = sarif_of(result)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    batch = next(r for r in run["results"] if r["properties"]["address"] == "endpoint.batch/config")
    assert batch["ruleId"] == "endpoint-kms-key"
    assert rules[batch["ruleIndex"]]["id"] == "endpoint-kms-key"
    assert batch["level"] == "error"
    assert batch["message"]["text"] == (
        "endpoint.batch/config breaks endpoint-kms-key "
        "(environment dev, resource endpoint.batch/config)"
    )
    assert batch["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "mlinfra.yaml"},
        "region": {"startLine": 20, "startColumn": 20, "endLine": 20, "endColumn": 31},
    }
    low = next(r for r in run["results"] if r["ruleId"] == "model-in-vpc")
    assert low["level"] == "note"


def test_sarif_suppresses_waived_findings_with_the_reason(result: AuditResult) -> None:
    run = sarif_of(result)["runs"][0]
    api = next(r for r in run["results"] if r["properties"]["address"] == "endpoint.api/config")
    assert api["suppressions"][0]["kind"] == "external"
    assert api["suppressions"][0]["justification"] == "Synthetic data only"
    assert sum("suppressions" in r for r in run["results"]) == 1


def test_sarif_fingerprints_ignore_lines(result: AuditResult) -> None:
    from dataclasses import replace

    from mlinfra.diagnostics import Position

    finding = result.findings[0]
    moved = replace(
        finding, source=replace(finding.source, start=Position(99, 1), end=Position(99, 5))
    )
    assert sarif.fingerprint(moved) == sarif.fingerprint(finding)
    prints = [
        r["partialFingerprints"]["mlinfraFinding/v1"]
        for r in sarif_of(result)["runs"][0]["results"]
    ]
    assert len(set(prints)) == len(prints)


def test_sarif_uris_are_relative_posix_paths(tmp_path: Path) -> None:
    (tmp_path / "specs" / "team").mkdir(parents=True)
    spec = tmp_path / "specs" / "team" / "mlinfra.yaml"
    assert sarif.artifact_uri(str(spec), root=str(tmp_path)) == "specs/team/mlinfra.yaml"
    (tmp_path / ".git").mkdir()
    assert sarif.artifact_uri(str(spec)) == "specs/team/mlinfra.yaml"


def test_sarif_warnings_are_notifications(result: AuditResult) -> None:
    (invocation,) = sarif_of(result)["runs"][0]["invocations"]
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert note["message"]["text"].startswith("waiver #2 for s3-versioning")
    assert note["locations"][0]["physicalLocation"]["region"]["startLine"] == STALE


# -- junit ----------------------------------------------------------------------------------


def junit_of(result: AuditResult, fail_on: Severity | None = Severity.HIGH) -> ET.Element:
    return ET.fromstring(junit.render([result], fail_on=fail_on))  # noqa: S314 - our own XML


def test_junit_has_a_suite_per_environment_and_a_case_per_check(result: AuditResult) -> None:
    root = junit_of(result)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "dev"
    cases = [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")]
    assert cases == [
        ("dev.endpoint-kms-key", "endpoint.api/config"),
        ("dev.endpoint-kms-key", "endpoint.batch/config"),
        ("dev.s3-versioning", "bucket.artifacts"),
        ("dev.s3-versioning", "bucket.capture"),
        ("dev.s3-versioning", "bucket.monitoring"),
        ("dev.model-in-vpc", "model.scorer"),
        ("dev.endpoint-monitored", "no resources"),
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("7", "1", "1")
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("7", "1", "1")


def test_junit_failures_and_skips(result: AuditResult) -> None:
    suite = junit_of(result).find("testsuite")
    by_name = {c.get("name"): c for c in suite.findall("testcase")}
    failure = by_name["endpoint.batch/config"].find("failure")
    assert failure.get("type") == "high"
    assert failure.get("message") == "endpoint.batch/config breaks endpoint-kms-key"
    assert "mlinfra.yaml:20:20" in failure.text
    skipped = by_name["endpoint.api/config"].find("skipped")
    assert skipped.get("message") == "Synthetic data only"
    assert "waiver #2" in suite.find("system-err").text


def test_junit_findings_below_fail_on_pass(result: AuditResult) -> None:
    case = next(
        c for c in junit_of(result).iter("testcase") if c.get("classname") == "dev.model-in-vpc"
    )
    assert case.find("failure") is None
    assert "model.scorer breaks model-in-vpc" in case.find("system-out").text
    assert junit_of(result, Severity.LOW).find("testsuite").get("failures") == "2"
    assert junit_of(result, None).find("testsuite").get("failures") == "0"


def test_every_format_renders_with_no_environment() -> None:
    for fmt in ("text", "json", "sarif", "junit"):
        assert render(fmt, [])
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(render("sarif", [])))


def test_text_lists_findings_on_one_line_once_under_it_each_fix_once() -> None:
    spec_file = Path(__file__).resolve().parents[2] / "examples" / "churn" / "mlinfra.yaml"
    spec = validate_file(spec_file).environments["dev"]
    audited = audit_environment(spec, lower(spec, spec_file.parent), str(spec_file))
    report = text.render([audited])

    # dev's settings (one line of the spec) leave many things unencrypted.
    medium = [f for f in audited.active() if f.severity is Severity.MEDIUM]
    line = max({location_of(f, "") for f in medium}, key=[location_of(f, "") for f in medium].count)
    shared = [f for f in medium if location_of(f, "") == line]
    assert len(shared) > 1
    section = report[report.index("  MEDIUM (") : report.index("  LOW (")]
    assert section.count(line) == 1
    assert f"    {line}  {len(shared)} findings on this line\n" in report
    steps = [f for f in shared if f.rule.id == "job-output-kms"]
    assert len(steps) > 1
    for finding in steps:
        assert f"      job-output-kms  {finding.address}\n          {finding.message}\n" in report
    assert report.count("          fix: " + steps[0].rule.remediation) == 1
