"""The audit as JUnit XML, for CI test views: each check of a rule on a resource is a test.

One `<testsuite>` per environment; one `<testcase>` per (rule, resource) the rule checked,
`classname` "ENV.RULE-ID" and `name` the resource's address (or "environment" for a rule that
judges the environment as a whole, and "no resources" for a rule that found none of its types
to check, so every rule applied appears). A case with a finding at or above `fail_on` has a
`<failure type="SEVERITY">`; one whose findings are all waived is `<skipped>` with the
waiver's reason; findings below `fail_on` pass, reported in `<system-out>`. Waiver warnings
go to the suite's `<system-err>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - builds XML, parses none
from collections.abc import Sequence

from mlinfra.policy.model import Finding
from mlinfra.policy.reports.wording import location_of
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity

NO_RESOURCES = "no resources"
ENVIRONMENT = "environment"


def render(results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH) -> str:
    suites = ET.Element("testsuites", name="mlinfra audit")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for result in results:
        suite = _suite(result, fail_on)
        suites.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, n in totals.items():
        suites.set(key, str(n))
    suites.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _cases(result: AuditResult) -> dict[tuple[str, str], list[Finding]]:
    """(rule id, address) -> its findings, in the order checked; rules with no check get
    one case of their own."""
    cases: dict[tuple[str, str], list[Finding]] = {pair: [] for pair in result.checked}
    for finding in result.findings:
        cases.setdefault((finding.rule.id, finding.address), []).append(finding)
    seen = {rule_id for rule_id, _ in cases}
    for rule in result.rules:
        if rule.id not in seen:
            cases[(rule.id, NO_RESOURCES)] = []
    return cases


def _suite(result: AuditResult, fail_on: Severity | None) -> ET.Element:
    suite = ET.Element("testsuite", name=result.environment)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="spec_file", value=result.spec_file)
    ET.SubElement(properties, "property", name="packs", value=",".join(result.packs))
    ET.SubElement(
        properties, "property", name="fail_on", value=fail_on.label if fail_on else "none"
    )
    tests = failures = skipped = 0
    for (rule_id, address), findings in _cases(result).items():
        tests += 1
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{result.environment}.{rule_id}",
            name=address or ENVIRONMENT,
        )
        if findings and findings[0].source is not None:
            case.set("file", findings[0].source.filename)
            case.set("line", str(findings[0].source.start.line))
        active = [f for f in findings if not f.waived]
        failing = [f for f in active if fail_on is not None and f.severity >= fail_on]
        if failing:
            failures += 1
            worst = max(f.severity for f in failing)
            failure = ET.SubElement(
                case, "failure", message="; ".join(f.message for f in failing), type=worst.label
            )
            failure.text = "\n".join(_describe(f, result.spec_file) for f in failing)
        elif findings and not active:
            skipped += 1
            reasons = dict.fromkeys(str(f.waiver.get("reason", "")) for f in findings)
            ET.SubElement(case, "skipped", message="; ".join(reasons))
        if active and len(active) > len(failing):
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(_describe(f, result.spec_file) for f in active if f not in failing)
    if result.warnings:
        err = ET.SubElement(suite, "system-err")
        err.text = "\n".join(f"warning: {w}" for w in result.warnings)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    return suite


def _describe(finding: Finding, spec_file: str) -> str:
    return (
        f"{location_of(finding, spec_file)}: {finding.severity.label}: {finding.rule.id}: "
        f"{finding.address}: {finding.message}\nfix: {finding.rule.remediation}"
    )
