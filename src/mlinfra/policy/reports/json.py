"""The audit for scripts: a versioned JSON document (`format_version` "1", `SCHEMA` below).

    {
      "format_version": "1",
      "spec_files": ["mlinfra.yaml"],
      "fail_on": "high",                     # null with --fail-on none
      "summary": {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0,
                  "active": 1, "waived": 1, "rules": 30, "failing": 1},
      "environments": [
        {
          "environment": "dev",
          "spec_file": "mlinfra.yaml",
          "packs": ["baseline", "sagemaker-security"],
          "rules": ["endpoint-kms-key", ...],          # the rules applied
          "summary": {... as above, for this environment ...},
          "findings": [                                  # waived ones too
            {"rule_id", "severity", "title", "environment", "address", "component",
             "message", "remediation",
             "location": {"file", "line", "column", "end_line", "end_column"} | null,
             "waived": bool, "waiver": {"reason", "owner", "expires"} | null}
          ],
          "warnings": [{"message", "location": {...} | null}]
        }
      ]
    }

Severities are critical, high, medium, low, info; findings are sorted by severity (highest
first), address, rule id. Columns are 1-based; `end_column` is the column after the last
character. A change that removes or renames a field bumps `format_version`; new fields may
be added without one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.policy.model import Finding
from mlinfra.policy.result import AuditResult
from mlinfra.policy.severity import Severity

FORMAT_VERSION = "1"


def render(results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH) -> str:
    return json.dumps(document(results, fail_on=fail_on), indent=2) + "\n"


def document(
    results: Sequence[AuditResult], *, fail_on: Severity | None = Severity.HIGH
) -> dict[str, Any]:
    environments = [_environment(r, fail_on) for r in results]
    total: dict[str, int] = {}
    for env in environments:
        for key, n in env["summary"].items():
            total[key] = total.get(key, 0) + n
    return {
        "format_version": FORMAT_VERSION,
        "spec_files": sorted({r.spec_file for r in results}),
        "fail_on": fail_on.label if fail_on is not None else None,
        "summary": total or _empty_summary(),
        "environments": environments,
    }


def _empty_summary() -> dict[str, int]:
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    return {**counts, "active": 0, "waived": 0, "rules": 0, "failing": 0}


def _environment(result: AuditResult, fail_on: Severity | None) -> dict[str, Any]:
    return {
        "environment": result.environment,
        "spec_file": result.spec_file,
        "packs": list(result.packs),
        "rules": [r.id for r in result.rules],
        "summary": {**result.summary(), "failing": len(result.failing(fail_on))},
        "findings": [finding_json(f) for f in result.findings],
        "warnings": [
            {
                "message": getattr(w, "message", str(w)),
                "location": location(getattr(w, "source", None)),
            }
            for w in result.warnings
        ],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    waiver = finding.waiver
    return {
        "rule_id": finding.rule.id,
        "severity": finding.severity.label,
        "title": finding.rule.title,
        "environment": finding.environment,
        "address": finding.address,
        "component": finding.component,
        "message": finding.message,
        "remediation": finding.rule.remediation,
        "location": location(finding.source),
        "waived": waiver is not None,
        "waiver": (
            {
                "reason": waiver.get("reason"),
                "owner": waiver.get("owner"),
                "expires": str(waiver["expires"]) if waiver.get("expires") else None,
            }
            if waiver is not None
            else None
        ),
    }


def location(source: SourceRange | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {
        "file": source.filename,
        "line": source.start.line,
        "column": source.start.column,
        "end_line": source.end.line,
        "end_column": source.end.column,
    }


_LOCATION = {
    "type": ["object", "null"],
    "required": ["file", "line", "column", "end_line", "end_column"],
    "additionalProperties": False,
    "properties": {
        "file": {"type": "string"},
        "line": {"type": "integer", "minimum": 1},
        "column": {"type": "integer", "minimum": 1},
        "end_line": {"type": "integer", "minimum": 1},
        "end_column": {"type": "integer", "minimum": 1},
    },
}
_SEVERITY = {"enum": [s.label for s in Severity]}
_SUMMARY = {
    "type": "object",
    "required": [*(s.label for s in Severity), "active", "waived", "rules", "failing"],
    "additionalProperties": {"type": "integer", "minimum": 0},
}
_FINDING = {
    "type": "object",
    "required": [
        "rule_id",
        "severity",
        "title",
        "environment",
        "address",
        "component",
        "message",
        "remediation",
        "location",
        "waived",
        "waiver",
    ],
    "properties": {
        "rule_id": {"type": "string"},
        "severity": _SEVERITY,
        "title": {"type": "string"},
        "environment": {"type": "string"},
        "address": {"type": "string"},
        "component": {"type": "string"},
        "message": {"type": "string"},
        "remediation": {"type": "string"},
        "location": _LOCATION,
        "waived": {"type": "boolean"},
        "waiver": {
            "type": ["object", "null"],
            "required": ["reason", "owner", "expires"],
            "properties": {
                "reason": {"type": ["string", "null"]},
                "owner": {"type": ["string", "null"]},
                "expires": {"type": ["string", "null"]},
            },
        },
    },
}

# The JSON Schema of the document, version 1.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "mlinfra audit report",
    "type": "object",
    "required": ["format_version", "spec_files", "fail_on", "summary", "environments"],
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "spec_files": {"type": "array", "items": {"type": "string"}},
        "fail_on": {"oneOf": [_SEVERITY, {"type": "null"}]},
        "summary": _SUMMARY,
        "environments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "environment",
                    "spec_file",
                    "packs",
                    "rules",
                    "summary",
                    "findings",
                    "warnings",
                ],
                "properties": {
                    "environment": {"type": "string"},
                    "spec_file": {"type": "string"},
                    "packs": {"type": "array", "items": {"type": "string"}},
                    "rules": {"type": "array", "items": {"type": "string"}},
                    "summary": _SUMMARY,
                    "findings": {"type": "array", "items": _FINDING},
                    "warnings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "location"],
                            "properties": {
                                "message": {"type": "string"},
                                "location": _LOCATION,
                            },
                        },
                    },
                },
            },
        },
    },
}
