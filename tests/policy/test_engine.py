"""The audit engine: which rules run (by pack), on what, and the order of their findings.

The rules here are fakes built as `Rule` values and passed to the audit in place of
`RULES`; their ids are real ones, as waivers must name those.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlinfra.ir.lower import lower
from mlinfra.policy.engine import audit_environment, not_audited
from mlinfra.policy.errors import RuleCrashed
from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.result import AuditResult
from mlinfra.policy.rules import RULES
from mlinfra.policy.severity import Severity
from mlinfra.spec.validate import validate_text

SPEC = """\
version: 1
project: mini
environments:
  dev:
    target: sagemaker
    account: "111111111111"
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
  batch:
    model: scorer
    instance_type: ml.m5.large
    instance_count: 1
"""


def environment(tmp_path: Path, policies: str = "", env: str = "dev"):
    """The EnvSpec and graph of `env` in the small spec, with `policies` appended."""
    text = SPEC + policies
    (tmp_path / "mlinfra.yaml").write_text(text)
    result = validate_text(text, "mlinfra.yaml", tmp_path)
    assert result.ok, [d.summary for d in result.diagnostics]
    spec = result.environments[env]
    return spec, lower(spec, tmp_path)


def fake_rule(
    rule_id: str,
    severity: Severity = Severity.HIGH,
    packs: tuple[str, ...] = ("baseline",),
    resource_types: tuple[str, ...] = ("aws.sagemaker.EndpointConfiguration",),
    fails=lambda resource: True,
) -> Rule:
    def check(resource, ctx):
        if fails(resource):
            yield ctx.finding(made, resource, f"{resource.address} fails {rule_id}")

    made = Rule(
        id=rule_id,
        title=f"{rule_id} holds",
        severity=severity,
        packs=packs,
        resource_types=resource_types,
        rationale="Because.",
        remediation="Fix it.",
        check=check,
    )
    return made


def run(tmp_path: Path, rules: tuple[Rule, ...], policies: str = "") -> AuditResult:
    spec, graph = environment(tmp_path, policies)
    return audit_environment(spec, graph, "mlinfra.yaml", rules=rules)


def test_a_failing_resource_gives_a_finding_at_its_spec_line(tmp_path: Path) -> None:
    result = run(tmp_path, (fake_rule("endpoint-kms-key"),))
    assert [f.address for f in result.findings] == ["endpoint.api/config", "endpoint.batch/config"]
    first = result.findings[0]
    assert first.environment == "dev"
    assert first.component == "endpoint.api"
    assert first.message == "endpoint.api/config fails endpoint-kms-key"
    assert first.source is not None and first.source.filename == "mlinfra.yaml"
    # The resource's own source: `instance_type:` of endpoints.api.
    assert first.source.start.line == SPEC.splitlines().index("    instance_type: ml.m5.large") + 1
    assert not first.waived


def test_a_rule_runs_once_per_resource_of_its_types(tmp_path: Path) -> None:
    rule = fake_rule("s3-versioning", resource_types=("aws.s3.Bucket", "aws.sagemaker.Model"))
    result = run(tmp_path, (rule,))
    assert result.checked == (
        ("s3-versioning", "bucket.artifacts"),
        ("s3-versioning", "bucket.capture"),
        ("s3-versioning", "bucket.monitoring"),
        ("s3-versioning", "model.scorer"),
    )
    assert len(result.findings) == 4


def test_passing_resources_give_no_finding(tmp_path: Path) -> None:
    rule = fake_rule("endpoint-kms-key", fails=lambda r: r.address.startswith("endpoint.batch"))
    result = run(tmp_path, (rule,))
    assert [f.address for f in result.findings] == ["endpoint.batch/config"]
    assert len(result.checked) == 2


def test_packs_default_to_baseline(tmp_path: Path) -> None:
    baseline = fake_rule("endpoint-kms-key", packs=("baseline",))
    security = fake_rule("endpoint-data-capture", packs=("sagemaker-security",))
    result = run(tmp_path, (baseline, security))
    assert result.packs == ("baseline",)
    assert [r.id for r in result.rules] == ["endpoint-kms-key"]
    assert {f.rule.id for f in result.findings} == {"endpoint-kms-key"}


def test_packs_select_the_rules_in_any_of_them(tmp_path: Path) -> None:
    baseline = fake_rule("endpoint-kms-key", packs=("baseline",))
    security = fake_rule("endpoint-data-capture", packs=("sagemaker-security", "baseline"))
    ready = fake_rule("endpoint-min-instances", packs=("prod-readiness",))
    result = run(
        tmp_path, (baseline, security, ready), "policies:\n  packs: [sagemaker-security]\n"
    )
    assert result.packs == ("sagemaker-security",)
    assert [r.id for r in result.rules] == ["endpoint-data-capture"]


def test_no_packs_applies_no_rule_and_says_so(tmp_path: Path) -> None:
    result = run(tmp_path, (fake_rule("endpoint-kms-key"),), "policies:\n  packs: []\n")
    assert result.rules == () and result.findings == ()
    assert "policies.packs is empty" in result.warnings[0]


def test_findings_are_sorted_by_severity_then_address_then_rule(tmp_path: Path) -> None:
    rules = (
        fake_rule("s3-versioning", Severity.LOW, resource_types=("aws.s3.Bucket",)),
        fake_rule("endpoint-kms-key", Severity.MEDIUM),
        fake_rule("endpoint-data-capture", Severity.CRITICAL),
        fake_rule("endpoint-autoscaling", Severity.MEDIUM),
    )
    result = run(tmp_path, rules)
    assert [(f.severity.label, f.address, f.rule.id) for f in result.findings] == [
        ("critical", "endpoint.api/config", "endpoint-data-capture"),
        ("critical", "endpoint.batch/config", "endpoint-data-capture"),
        ("medium", "endpoint.api/config", "endpoint-autoscaling"),
        ("medium", "endpoint.api/config", "endpoint-kms-key"),
        ("medium", "endpoint.batch/config", "endpoint-autoscaling"),
        ("medium", "endpoint.batch/config", "endpoint-kms-key"),
        ("low", "bucket.artifacts", "s3-versioning"),
        ("low", "bucket.capture", "s3-versioning"),
        ("low", "bucket.monitoring", "s3-versioning"),
    ]
    assert result.active() == result.findings


def test_the_order_does_not_depend_on_the_order_of_the_rules(tmp_path: Path) -> None:
    rules = (
        fake_rule("endpoint-kms-key", Severity.MEDIUM),
        fake_rule("endpoint-autoscaling", Severity.MEDIUM),
    )
    forward = run(tmp_path, rules).findings
    backward = run(tmp_path, rules[::-1]).findings
    assert [f.key() for f in forward] == [f.key() for f in backward]


def test_failing_counts_active_findings_at_or_above_the_threshold(tmp_path: Path) -> None:
    rules = (
        fake_rule("endpoint-kms-key", Severity.HIGH),
        fake_rule("s3-versioning", Severity.LOW, resource_types=("aws.s3.Bucket",)),
    )
    result = run(tmp_path, rules)
    assert len(result.failing(Severity.CRITICAL)) == 0
    assert len(result.failing(Severity.HIGH)) == 2
    assert len(result.failing(Severity.LOW)) == 5
    assert len(result.failing(Severity.INFO)) == 5
    assert result.failing(None) == ()


def test_summary_counts_active_findings_per_severity(tmp_path: Path) -> None:
    rules = (
        fake_rule("endpoint-kms-key", Severity.HIGH),
        fake_rule("s3-versioning", Severity.LOW, resource_types=("aws.s3.Bucket",)),
    )
    assert run(tmp_path, rules).summary() == {
        "critical": 0,
        "high": 2,
        "medium": 0,
        "low": 3,
        "info": 0,
        "active": 5,
        "waived": 0,
        "rules": 2,
    }


def test_a_rule_without_resource_types_runs_once_with_no_resource(tmp_path: Path) -> None:
    seen = []

    def check(resource, ctx):
        seen.append(resource)
        yield Finding(
            rule=made,
            environment=ctx.spec.env,
            address="environment.dev",
            component="environment.dev",
            message="previews never expire",
            source=ctx.setting_at("tags"),
        )

    made = Rule(
        id="preview-ttl",
        title="Previews expire",
        severity=Severity.LOW,
        packs=("baseline",),
        resource_types=(),
        rationale="Because.",
        remediation="Set previews.ttl.",
        check=check,
    )
    result = run(tmp_path, (made,))
    assert seen == [None]
    assert result.checked == (("preview-ttl", ""),)
    assert [f.address for f in result.findings] == ["environment.dev"]


def test_a_crashing_rule_is_named_with_the_resource(tmp_path: Path) -> None:
    def check(resource, ctx):
        raise KeyError("instance_type")

    broken = Rule(
        "endpoint-kms-key",
        "t",
        Severity.HIGH,
        ("baseline",),
        ("aws.sagemaker.EndpointConfiguration",),
        "r",
        "m",
        check,
    )
    with pytest.raises(RuleCrashed, match="rule endpoint-kms-key failed on endpoint.api/config"):
        run(tmp_path, (broken,))


def test_local_environments_are_not_audited(tmp_path: Path) -> None:
    local, _ = environment(tmp_path, env="local")
    dev, _ = environment(tmp_path, env="dev")
    assert not_audited(dev) is None
    assert not_audited(local) == (
        "environment local has target local: nothing to audit "
        "(the audit judges what is deployed to SageMaker)"
    )


def test_every_listed_rule_runs_by_default(tmp_path: Path) -> None:
    spec, graph = environment(tmp_path, "policies:\n  packs: [baseline, prod-readiness]\n")
    result = audit_environment(spec, graph, "mlinfra.yaml")
    expected = [r.id for r in RULES if {"baseline", "prod-readiness"} & set(r.packs)]
    assert [r.id for r in result.rules] == expected
