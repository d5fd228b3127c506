"""Small specs for the endpoint, model and operations rule tests, and how to audit them.

A test writes a spec (the `HEADER` and the components it needs) to a folder, and `audit`
validates it, lowers one environment and runs one rule over every resource of the rule's
types: the addresses that fail, with their findings, and those that pass.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from mlinfra.audit.context import AuditContext
from mlinfra.audit.model import Finding, Rule
from mlinfra.diagnostics import Severity
from mlinfra.ir.graph import Resource
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

HEADER = """\
version: 1
project: demo
defaults:
  region: us-east-1
  tags:
    team: ml
environments:
  dev:
    target: sagemaker
    account: "111111111111"
  prod:
    target: sagemaker
    account: "222222222222"
    protect: true
    security:
      kms_key: create
"""

# A model served from S3, so no local artifact is needed.
MODEL = """\
models:
  m:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: s3://demo-models/m/model.tar.gz
"""

# What a rule judging a whole environment (no resource types) passes or fails on.
ENVIRONMENT = "(environment)"

# The local files specs name: a monitor baseline and pipeline scripts.
FILES = {
    "data/baseline.csv": "tenure,charges\n1,2.5\n3,4.5\n",
    "pipelines/prepare.py": "print('prepare')\n",
    "pipelines/train.py": "print('train')\n",
}


@dataclass(frozen=True)
class Audit:
    text: str
    failing: dict[str, Finding]  # address -> its (first) finding
    passing: frozenset[str]
    findings: tuple[Finding, ...]  # all of them, several on a resource with subjects

    def line_of(self, snippet: str, after: str | None = None) -> int:
        """The 1-based line holding `snippet` (the first one after the line holding `after`)."""
        lines = self.text.splitlines()
        start = 0 if after is None else self.line_of(after)
        found = [i + 1 for i, line in enumerate(lines) if i >= start and snippet in line]
        assert found, f"{snippet!r} is not in the spec"
        return found[0]

    def line(self, address: str) -> int:
        source = self.failing[address].source
        assert source is not None, f"the finding on {address} has no source"
        return source.start.line


def write(folder: Path, text: str) -> Path:
    for name, content in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    spec = folder / "mlinfra.yaml"
    spec.write_text(text)
    return spec


def audit(folder: Path, text: str, env: str, rule: Rule) -> Audit:
    """Run `rule` over environment `env` (or `preview`) of the spec `text`."""
    validation = validate_file(write(folder, text))
    errors = [str(d) for d in validation.diagnostics if d.severity is Severity.ERROR]
    assert not errors, errors
    spec = validation.preview if env == "preview" else validation.environments[env]
    ctx = AuditContext(spec, lower(spec, folder))
    failing: dict[str, Finding] = {}
    passing: set[str] = set()
    findings: list[Finding] = []
    for address, resource in judged(ctx, rule):
        found = list(rule.check(resource, ctx))
        # Several findings on one resource must differ by subject, or their keys collide.
        assert len({f.key() for f in found}) == len(found), f"{rule.id}: repeated {address}"
        assert all(f.rule is rule and f.environment == spec.env for f in found)
        findings.extend(found)
        if found:
            failing.setdefault(found[0].address, found[0])
        else:
            passing.add(address)
    return Audit(text, failing, frozenset(passing), tuple(findings))


def judged(ctx: AuditContext, rule: Rule) -> list[tuple[str, Resource | None]]:
    """What the engine runs `rule` on: each resource of its types, or the environment."""
    if not rule.resource_types:
        return [(ENVIRONMENT, None)]
    return [(r.address, r) for t in rule.resource_types for r in ctx.of_type(t)]


# --- the reference spec -----------------------------------------------------------------------

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"


@functools.cache
def example_context(env: str) -> AuditContext:
    """The churn example's environment `env` (or `preview`), lowered."""
    validation = validate_file(CHURN / "mlinfra.yaml")
    spec = validation.preview if env == "preview" else validation.environments[env]
    return AuditContext(spec, lower(spec, CHURN))


def example_findings(env: str, rules: tuple[Rule, ...]) -> set[tuple[str, str]]:
    """(rule id, address) of every finding of `rules` in the churn example's `env`."""
    ctx = example_context(env)
    return {
        (rule.id, finding.address)
        for rule in rules
        for _, resource in judged(ctx, rule)
        for finding in rule.check(resource, ctx)
    }
