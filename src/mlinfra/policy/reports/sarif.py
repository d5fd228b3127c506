"""The audit as SARIF 2.1.0, for code scanning (GitHub `upload-sarif`).

One run for every environment audited: the driver lists each rule applied once (with its
rationale, remediation and references as help, and a `security-severity` GitHub ranks
alerts by); each finding is a result at the spec line responsible, its message naming the
environment and resource. Waived findings are results with an external suppression carrying
the waiver's reason, so code scanning shows them as dismissed rather than open.

`partialFingerprints` hash the rule id, environment and address (not the line), so an alert
survives edits that move the spec's lines; when a rule finds several things wrong with one
resource (the steps of a pipeline), their messages tell them apart.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlinfra import __version__
from mlinfra.diagnostics import SourceRange
from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT = "mlinfraFinding/v1"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub's scale: critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.0",
    Severity.HIGH: "7.0",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def render(results: Sequence[AuditResult], *, root: str | None = None) -> str:
    return json.dumps(document(results, root=root), indent=2) + "\n"


def document(results: Sequence[AuditResult], *, root: str | None = None) -> dict[str, Any]:
    """The SARIF log. File URIs are relative to `root`: by default the git repository that
    holds the spec, else the current directory."""
    rules: dict[str, Rule] = {}
    for result in results:
        for rule in result.rules:
            rules.setdefault(rule.id, rule)
        for finding in result.findings:  # a finding's rule is applied; this keeps it so
            rules.setdefault(finding.rule.id, finding.rule)
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    shared = Counter(f.key() for r in results for f in r.findings)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mlinfra",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(r) for r in rules.values()],
                    }
                },
                "invocations": [_invocation(results, root)],
                "results": [
                    _result(f, index[f.rule.id], r.spec_file, root, shared[f.key()] > 1)
                    for r in results
                    for f in r.findings
                ],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _rule(rule: Rule) -> dict[str, Any]:
    refs = _references(rule)
    help_text = f"{rule.rationale}\n\nRemediation: {rule.remediation}"
    help_markdown = f"{rule.rationale}\n\n**Remediation:** {rule.remediation}"
    if refs:
        help_text += "\n\nEquivalent checks: " + "; ".join(refs)
        help_markdown += "\n\n**Equivalent checks:**\n" + "".join(f"\n- {r}" for r in refs)
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "severity": rule.severity.label,
            "tags": [*rule.packs, "security"],
        },
    }


def _references(rule: Rule) -> list[str]:
    refs = rule.references
    return [
        *(f"Checkov {c}" for c in refs.checkov),
        *(f"AWS Config {c}" for c in refs.aws_config),
        *(f"Security Hub {c}" for c in refs.security_hub),
    ]


def _result(
    finding: Finding, rule_index: int, spec_file: str, root: str | None, shared: bool
) -> dict:
    out: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {
            "text": f"{finding.message} (environment {finding.environment}, "
            f"resource {finding.address})"
        },
        "locations": [_location(finding.source, spec_file, root)],
        "partialFingerprints": {FINGERPRINT: fingerprint(finding, shared)},
        "properties": {
            "environment": finding.environment,
            "address": finding.address,
            "component": finding.component,
            "severity": finding.severity.label,
        },
    }
    if finding.waiver is not None:
        waiver = finding.waiver
        suppression: dict[str, Any] = {
            "kind": "external",
            "status": "accepted",
            "justification": str(waiver.get("reason", "")),
        }
        extra = {k: str(waiver[k]) for k in ("owner", "expires") if waiver.get(k)}
        if extra:
            suppression["properties"] = extra
        out["suppressions"] = [suppression]
    return out


def fingerprint(finding: Finding, shared: bool = False) -> str:
    """Stable across runs and line moves: the rule id, environment and address; with
    `shared` (one rule finding several things wrong with one resource, e.g. a pipeline's
    steps), the message too, which tells them apart."""
    key = "\0".join((*finding.key(), finding.message) if shared else finding.key())
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _location(source: SourceRange | None, spec_file: str, root: str | None) -> dict:
    filename = source.filename if source is not None else spec_file
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(filename, root)}}
    if source is not None:
        start_line, start_column = max(source.start.line, 1), max(source.start.column, 1)
        end_line, end_column = source.end.line, source.end.column
        if (end_line, end_column) < (start_line, start_column):
            end_line, end_column = start_line, start_column
        physical["region"] = {
            "startLine": start_line,
            "startColumn": start_column,
            "endLine": end_line,
            "endColumn": max(end_column, 1),
        }
    else:
        physical["region"] = {"startLine": 1}
    return {"physicalLocation": physical}


def artifact_uri(filename: str, root: str | None = None) -> str:
    """The file as code scanning names it: relative to the repository, with `/`."""
    path = Path(os.path.abspath(filename))
    base = Path(os.path.abspath(root)) if root is not None else repository_root(path)
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_uri()  # outside the repository: an absolute file URI


def repository_root(path: Path) -> Path:
    """The git work tree holding `path`, else the current directory."""
    for folder in path.parents:
        if (folder / ".git").exists():
            return folder
    return Path(os.getcwd())


def _invocation(results: Sequence[AuditResult], root: str | None) -> dict[str, Any]:
    notifications = []
    for result in results:
        for warning in result.warnings:
            note: dict[str, Any] = {
                "level": "warning",
                "message": {"text": getattr(warning, "message", str(warning))},
            }
            source = getattr(warning, "source", None)
            if source is not None:
                note["locations"] = [_location(source, result.spec_file, root)]
            notifications.append(note)
    out: dict[str, Any] = {"executionSuccessful": True}
    if notifications:
        out["toolExecutionNotifications"] = notifications
    return out
