"""The audit as Markdown: summary first, then findings, waived findings and warnings, with
every piece of user text escaped for tables."""

from __future__ import annotations

from types import MappingProxyType

from mlinfra.diagnostics import Position, SourceRange
from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.reports.markdown import cell, code, render
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity


def _never(resource, ctx):
    return iter(())


def rule(id_: str, severity: Severity) -> Rule:
    return Rule(
        id=id_,
        title="t",
        severity=severity,
        packs=("baseline",),
        resource_types=("aws.sagemaker.EndpointConfiguration",),
        rationale="r",
        remediation="m",
        check=_never,
    )


KMS = rule("endpoint-kms-key", Severity.HIGH)
CAPTURE = rule("endpoint-data-capture", Severity.MEDIUM)


def finding(r: Rule, address: str, message: str = "not encrypted", waiver=None) -> Finding:
    where = SourceRange("examples/churn/mlinfra.yaml", Position(125, 20), Position(125, 30))
    return Finding(r, "prod", address, address.split("/")[0], message, where, waiver)


def result(*findings: Finding, warnings: tuple[str, ...] = ()) -> AuditResult:
    return AuditResult(
        environment="prod",
        spec_file="examples/churn/mlinfra.yaml",
        packs=("baseline", "sagemaker-security"),
        rules=(KMS, CAPTURE),
        findings=findings,
        warnings=warnings,
    )


def test_each_environment_opens_with_its_summary_then_a_findings_table():
    text = render(
        [result(finding(CAPTURE, "endpoint.b/config"), finding(KMS, "endpoint.a/config"))]
    )

    lines = text.splitlines()
    assert lines[0] == "### mlinfra audit: `prod` (`examples/churn/mlinfra.yaml`)"
    assert lines[2] == (
        "**2 findings (1 high, 1 medium)** · 2 rules from packs baseline, sagemaker-security"
    )
    assert lines[4] == "| Severity | Rule | Resource | Spec line | Message |"
    # Most severe first.
    assert lines[6] == (
        "| **high** | `endpoint-kms-key` | `endpoint.a/config` | "
        "`examples/churn/mlinfra.yaml:125` | not encrypted |"
    )
    assert lines[7].startswith("| **medium** | `endpoint-data-capture` |")


def test_a_clean_environment_says_so():
    text = render([result()])

    assert "**No findings** · 2 rules" in text
    assert "| Severity |" not in text


def test_waived_findings_fold_into_details_with_their_reason_owner_and_expiry():
    waiver = MappingProxyType(
        {
            "rule": "endpoint-kms-key",
            "resource": "endpoint.a",
            "reason": "synthetic | data only",
            "owner": "ml-platform@example.com",
            "expires": "2027-06-30",
        }
    )
    text = render([result(finding(KMS, "endpoint.a/config", waiver=waiver))])

    assert "**No findings**, 1 waived" in text
    assert "<details>\n<summary>1 waived finding</summary>" in text
    assert (
        r"| high | `endpoint-kms-key` | `endpoint.a/config` | synthetic \| data only | "
        "ml-platform@example.com | 2027-06-30 |"
    ) in text


def test_warnings_follow_the_findings():
    text = render([result(warnings=("mlinfra.yaml:158:7: waiver #1 matched no finding",))])

    assert text.endswith("**Warnings**\n\n- mlinfra.yaml:158:7: waiver #1 matched no finding\n")


def test_messages_cannot_break_the_table_or_inject_html():
    nasty = "bad | pipe\nnew line `tick` <img src=x onerror=alert(1)> & [link](http://e)"
    text = render([result(finding(KMS, "endpoint.a/config", message=nasty))])

    row = next(line for line in text.splitlines() if "endpoint.a/config" in line)
    assert row.endswith(
        r"| bad \| pipe<br>new line \`tick\` &lt;img src=x onerror=alert(1)&gt; &amp; "
        r"\[link\](http://e) |"
    )
    assert "<img" not in text


def test_code_spans_fall_back_to_escaped_text_when_they_could_break():
    assert code("endpoint.a/config") == "`endpoint.a/config`"
    assert code("a`b|c") == r"a\`b\|c"
    assert cell("  two\r\nlines  ") == "two<br>lines"


def test_many_findings_fold_into_details():
    many = [finding(KMS, f"endpoint.e{i:02}/config") for i in range(11)]
    text = render([result(*many)])

    assert "<details>\n<summary>11 findings</summary>" in text


def test_every_environment_is_rendered_in_order():
    dev = AuditResult("dev", "mlinfra.yaml", ("baseline",), (KMS,), (), ())
    prod = result(finding(KMS, "endpoint.a/config"))
    text = render([dev, prod])

    assert text.index("mlinfra audit: `dev`") < text.index("mlinfra audit: `prod`")
