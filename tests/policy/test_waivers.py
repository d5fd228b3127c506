"""Waivers: which findings they suppress, until when, and the warnings about stale ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from mlinfra.ir.lower import lower
from mlinfra.policy.engine import audit_environment
from mlinfra.policy.errors import AuditError
from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity
from mlinfra.policy.waivers import waivers_of
from mlinfra.spec.validate import validate_text

SPEC = """\
version: 1
project: mini
environments:
  dev:
    target: sagemaker
    account: "111111111111"
  prod:
    target: sagemaker
    account: "222222222222"
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
  waivers:
"""


def waiver(
    resource: str = "endpoint.api",
    rule: str = "endpoint-kms-key",
    environments: str | None = "[dev]",
    expires: str | None = "2030-01-31",
) -> str:
    lines = [f"    - rule: {rule}", f"      resource: {resource}"]
    if environments is not None:
        lines.append(f"      environments: {environments}")
    lines += ["      reason: Synthetic data only", "      owner: team@example.com"]
    if expires is not None:
        lines.append(f"      expires: {expires}")
    return "\n".join(lines) + "\n"


def kms_rule() -> Rule:
    def check(resource, ctx):
        yield ctx.finding(made, resource, "no KMS key")

    made = Rule(
        id="endpoint-kms-key",
        title="Endpoints encrypt their volumes with KMS",
        severity=Severity.HIGH,
        packs=("baseline",),
        resource_types=("aws.sagemaker.EndpointConfiguration", "aws.sagemaker.Endpoint"),
        rationale="Because.",
        remediation="Set security.kms_key.",
        check=check,
    )
    return made


def audit(
    tmp_path: Path, *waivers: str, env: str = "dev", today: date = date(2026, 1, 1)
) -> AuditResult:
    text = SPEC + "".join(waivers)
    (tmp_path / "mlinfra.yaml").write_text(text)
    result = validate_text(text, "mlinfra.yaml", tmp_path)
    assert result.ok, [d.summary for d in result.diagnostics]
    spec = result.environments[env]
    graph = lower(spec, tmp_path)
    return audit_environment(spec, graph, "mlinfra.yaml", today=today, rules=(kms_rule(),))


def waived(result: AuditResult) -> list[str]:
    return [f.address for f in result.findings if f.waived]


def test_a_waiver_naming_a_component_covers_all_its_resources(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver("endpoint.api"))
    assert waived(result) == ["endpoint.api", "endpoint.api/config"]
    assert [f.address for f in result.active()] == ["endpoint.batch", "endpoint.batch/config"]
    assert result.warnings == ()


def test_a_waiver_naming_a_resource_covers_only_it(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver("endpoint.api/config"))
    assert waived(result) == ["endpoint.api/config"]


def test_a_waiver_does_not_cover_a_component_whose_name_it_begins(tmp_path: Path) -> None:
    text = SPEC + waiver("endpoint.api")
    spec = validate_text(text, "mlinfra.yaml", tmp_path).environments["dev"]
    (covering,) = waivers_of(spec)
    rule = kms_rule()
    other = Finding(rule, "dev", "endpoint.api-v2/config", "endpoint.api-v2", "m", None)
    assert covering.covers(replace(other, address="endpoint.api/config"))
    assert not covering.covers(other)


def test_a_waiver_of_another_rule_suppresses_nothing(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver(rule="endpoint-data-capture"))
    assert waived(result) == []
    assert len(result.failing(Severity.HIGH)) == 4


def test_waived_findings_keep_the_waiver_as_written(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver("endpoint.api/config"))
    finding = next(f for f in result.findings if f.waived)
    assert finding.waiver["reason"] == "Synthetic data only"
    assert finding.waiver["owner"] == "team@example.com"
    assert finding.waiver["expires"] == "2030-01-31"
    assert finding not in result.active()
    assert result.summary()["waived"] == 1


def test_a_waiver_applies_only_in_the_environments_it_lists(tmp_path: Path) -> None:
    assert waived(audit(tmp_path, waiver(environments="[dev]"), env="dev")) != []
    assert waived(audit(tmp_path, waiver(environments="[dev]"), env="prod")) == []


def test_a_waiver_listing_no_environment_applies_in_all(tmp_path: Path) -> None:
    for env in ("dev", "prod"):
        assert waived(audit(tmp_path, waiver(environments=None), env=env)) != []


def test_a_waiver_applies_on_its_expiry_date(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver(expires="2026-03-31"), today=date(2026, 3, 31))
    assert waived(result) != []
    assert result.warnings == ()


def test_a_waiver_stops_applying_the_day_after_it_expires(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver(expires="2026-03-31"), today=date(2026, 4, 1))
    assert waived(result) == []
    assert len(result.failing(Severity.HIGH)) == 4


def test_an_expired_waiver_warns_with_its_owner_date_and_line(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver(expires="2026-03-31"), today=date(2026, 4, 1))
    line = SPEC.count("\n") + 1  # the waiver's first line
    assert result.warnings == (
        f"mlinfra.yaml:{line}:7: waiver #1 for endpoint-kms-key on endpoint.api "
        "(owner team@example.com) expired on 2026-03-31; 2 finding(s) in dev it covered "
        "count again: renew it or fix them",
    )
    assert result.warnings[0].source.start.line == line


def test_an_expired_waiver_matching_nothing_warns_to_remove_it(tmp_path: Path) -> None:
    stale = waiver("endpoint.api", rule="endpoint-data-capture", expires="2026-03-31")
    result = audit(tmp_path, stale, today=date(2026, 4, 1))
    assert result.warnings[0].message == (
        "waiver #1 for endpoint-data-capture on endpoint.api (owner team@example.com) expired "
        "on 2026-03-31; it matches no finding in dev anyway: remove it"
    )
    assert len(result.warnings) == 1


def test_a_waiver_without_expiry_never_expires(tmp_path: Path) -> None:
    result = audit(tmp_path, waiver(expires=None), today=date(2999, 1, 1))
    assert waived(result) != [] and result.warnings == ()


def test_a_waiver_matching_nothing_warns_to_remove_it(tmp_path: Path) -> None:
    result = audit(
        tmp_path, waiver("endpoint.api"), waiver("endpoint.batch/alarm", environments=None)
    )
    line = SPEC.count("\n") + waiver("endpoint.api").count("\n") + 1
    assert result.warnings == (
        f"mlinfra.yaml:{line}:7: waiver #2 for endpoint-kms-key on endpoint.batch/alarm "
        "matched no finding in dev: remove it",
    )


def test_a_waiver_for_a_rule_outside_the_packs_says_why_it_matched_nothing(
    tmp_path: Path,
) -> None:
    result = audit(tmp_path, waiver(rule="endpoint-data-capture"))
    assert result.warnings[0].message == (
        "waiver #1 for endpoint-data-capture on endpoint.api matched no finding in dev "
        "(rule endpoint-data-capture is not in the packs applied: baseline): remove it"
    )


def test_a_waiver_for_another_environment_gives_no_warning(tmp_path: Path) -> None:
    assert audit(tmp_path, waiver(environments="[dev]"), env="prod").warnings == ()


def test_the_first_of_two_matching_waivers_is_the_one_reported(tmp_path: Path) -> None:
    second = waiver("endpoint.api/config").replace("Synthetic data only", "Second")
    result = audit(tmp_path, waiver("endpoint.api"), second)
    config = next(f for f in result.findings if f.address == "endpoint.api/config")
    assert config.waiver["reason"] == "Synthetic data only"
    assert result.warnings == ()  # the second matched a finding too


def test_an_impossible_expiry_date_is_an_audit_error(tmp_path: Path) -> None:
    # Validation refuses it; the audit does too, should a spec reach it unvalidated.
    spec = validate_text(SPEC + waiver(), "mlinfra.yaml", tmp_path).environments["dev"]
    impossible = replace(spec.policies.waivers[0], expires="2026-02-30")
    broken = replace(spec, policies=replace(spec.policies, waivers=(impossible,)))
    with pytest.raises(AuditError, match="waiver #1 expires on '2026-02-30', which is not a date"):
        waivers_of(broken)


def test_churn_dev_waives_endpoint_kms_key_and_prod_does_not() -> None:
    churn = Path(__file__).parents[2] / "examples" / "churn"
    from mlinfra.spec.validate import validate_file

    result = validate_file(churn / "mlinfra.yaml")
    audits = {}
    for env in ("dev", "prod"):
        spec = result.environments[env]
        audits[env] = audit_environment(
            spec, lower(spec, churn), "mlinfra.yaml", today=date(2027, 6, 30)
        )
    dev_kms = [f for f in audits["dev"].findings if f.rule.id == "endpoint-kms-key"]
    assert dev_kms and all(f.waived for f in dev_kms)
    assert audits["dev"].warnings == ()
    assert not [f for f in audits["prod"].findings if f.rule.id == "endpoint-kms-key"]
