"""The harness of every rule test: a rule over one environment, as the exact sets of the
addresses it fails and passes (Checkov's model), with the findings and where they point.

A test writes a small spec (`HEADER` and the components it needs; the scripts and baseline
lowering reads are written beside it) to a folder. `audited` validates it and lowers one
environment (or `preview`); `judge` runs one rule there as the engine does: over each
resource of the rule's types, or once over the environment for a rule without types (which
passes as `ENVIRONMENT`). `audit` does both. Where lowering cannot produce a failing
resource, a test changes the lowered graph itself (`changed`, `without`). `churn` is the
reference example's environment.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from mlinfra.frozen import freeze, thaw
from mlinfra.ir.graph import Json, Resource
from mlinfra.ir.lower import lower
from mlinfra.policy.model import AuditContext, Finding, Rule
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
    "data/baseline.csv": "tenure_months,monthly_charges\n12,70.5\n3,20.0\n",
    "pipelines/prepare.py": "print('prepare')\n",
    "pipelines/train.py": "print('train')\n",
}

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"


def write(folder: Path, text: str) -> Path:
    """The spec at `folder/mlinfra.yaml`, beside the files lowering reads."""
    for name, content in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    spec = folder / "mlinfra.yaml"
    spec.write_text(text)
    return spec


def audited(folder: Path, text: str, env: str) -> AuditContext:
    """What the rules see of environment `env` (or `preview`) of the spec `text`."""
    validation = validate_file(write(folder, text))
    assert validation.ok, [str(d) for d in validation.diagnostics if d.is_error]
    spec = validation.preview if env == "preview" else validation.environments[env]
    return AuditContext(spec, lower(spec, folder))


@functools.cache
def churn(env: str) -> AuditContext:
    """The churn example's environment `env` (or `preview`), lowered."""
    validation = validate_file(CHURN / "mlinfra.yaml")
    spec = validation.preview if env == "preview" else validation.environments[env]
    return AuditContext(spec, lower(spec, CHURN))


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based number of the first line of `text` holding `needle` (the first one below
    the line holding `after`, when given)."""
    lines = text.splitlines()
    start = 0 if after is None else line_of(text, after)
    found = [i + 1 for i, line in enumerate(lines) if i >= start and needle in line]
    assert found, f"{needle!r} is not in the spec"
    return found[0]


@dataclasses.dataclass(frozen=True)
class Judged:
    """A rule over one environment: the findings by failing address, and the addresses
    that passed."""

    failing: dict[str, list[Finding]]
    passing: frozenset[str]
    findings: tuple[Finding, ...]  # all of them, several on a resource with subjects
    text: str = ""  # the spec, when the test wrote it

    @property
    def messages(self) -> dict[str, list[str]]:
        return {address: [f.message for f in found] for address, found in self.failing.items()}

    def message(self, address: str) -> str:
        """The message of the (first) finding on `address`."""
        return self.failing[address][0].message

    def lines(self, address: str) -> set[int]:
        """The spec lines the findings on `address` point at."""
        return {f.source.start.line for f in self.failing[address]}

    def line(self, address: str) -> int:
        """The spec line the (first) finding on `address` points at."""
        source = self.failing[address][0].source
        assert source is not None, f"the finding on {address} has no source"
        return source.start.line

    def line_of(self, snippet: str, after: str | None = None) -> int:
        return line_of(self.text, snippet, after)


def judge(rule: Rule, ctx: AuditContext, text: str = "") -> Judged:
    """Run `rule` as the engine does: over each resource of its types, or once over the
    environment when it has none."""
    targets: list[tuple[str, Resource | None]] = (
        [(r.address, r) for t in rule.resource_types for r in ctx.of_type(t)]
        if rule.resource_types
        else [(ENVIRONMENT, None)]
    )
    failing: dict[str, list[Finding]] = {}
    passing: set[str] = set()
    findings: list[Finding] = []
    for address, resource in targets:
        found = list(rule.check(resource, ctx))
        # Several findings on one resource must differ by subject, or their keys collide.
        assert len({f.key() for f in found}) == len(found), f"{rule.id}: repeated {address}"
        assert all(f.rule is rule and f.environment == ctx.spec.env for f in found)
        if resource is not None:
            assert all(f.address == address for f in found), f"{rule.id} on {address}"
        findings.extend(found)
        for f in found:
            failing.setdefault(f.address, []).append(f)
        if not found:
            passing.add(address)
    return Judged(failing, frozenset(passing), tuple(findings), text)


def audit(folder: Path, text: str, env: str, rule: Rule) -> Judged:
    """Run `rule` over environment `env` (or `preview`) of the spec `text`."""
    return judge(rule, audited(folder, text, env), text)


def example_findings(env: str, rules: tuple[Rule, ...]) -> set[tuple[str, str]]:
    """(rule id, address) of every finding of `rules` in the churn example's `env`."""
    return {
        (rule.id, finding.address) for rule in rules for finding in judge(rule, churn(env)).findings
    }


def changed(ctx: AuditContext, address: str, **properties: Any) -> AuditContext:
    """The same environment with some properties of one resource replaced: a resource the
    lowering never makes, to show a rule fails it."""
    resources = tuple(
        dataclasses.replace(r, properties=freeze({**r.properties, **properties}))
        if r.address == address
        else r
        for r in ctx.graph.resources
    )
    assert resources != ctx.graph.resources, f"no resource at {address}"
    return AuditContext(ctx.spec, dataclasses.replace(ctx.graph, resources=resources))


def without(ctx: AuditContext, address: str) -> AuditContext:
    """The same environment without the resource at `address`."""
    resources = tuple(r for r in ctx.graph.resources if r.address != address)
    assert len(resources) == len(ctx.graph.resources) - 1, f"no resource at {address}"
    return AuditContext(ctx.spec, dataclasses.replace(ctx.graph, resources=resources))


def document(ctx: AuditContext, address: str, name: str = "policy") -> dict:
    """A mutable copy of a resource's JSON document property (a policy, a definition)."""
    value = ctx.resource(address).properties[name]
    return thaw(value.value if isinstance(value, Json) else value)
