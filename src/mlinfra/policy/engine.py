"""Running the audit: the rules of an environment's packs over its IR, then its waivers.

`audit_environment(spec, graph, spec_file)` is the whole audit of one environment:

- The rules applied are those in at least one of the environment's packs (`policies.packs`,
  with the schema's default when the spec says nothing; an explicit `[]` applies none), in
  the order of `policy.rules.RULES`.
- A rule with `resource_types` runs once per resource of those types, in the graph's order.
  A rule with no `resource_types` judges the environment as a whole (e.g. `preview-ttl`):
  it runs once, with `resource=None`, and builds its findings itself (`Finding(...)`, its
  address naming what it judges, `source` from `ctx.setting_at(...)` or a spec node's
  `range_of(...)`).
- Findings are sorted (`policy.result.finding_order`), then the waivers (`policy.waivers`)
  mark the findings they suppress (`Finding.waiver` is the waiver as written).

Findings are kept whether waived or not: reports show the waived ones as such.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from mlinfra.ir.graph import Resource, ResourceGraph
from mlinfra.policy.errors import RuleCrashed
from mlinfra.policy.model import AuditContext, Finding, Rule
from mlinfra.policy.result import AuditResult, finding_order
from mlinfra.policy.rules import RULES
from mlinfra.policy.waivers import AuditWarning, apply_waivers
from mlinfra.spec.model import EnvSpec

# The audit judges what is deployed to AWS; a local environment runs in the emulator.
AUDITED_TARGETS = ("sagemaker",)


def packs_of(spec: EnvSpec) -> tuple[str, ...]:
    return spec.policies.packs


def rules_for(packs: Iterable[str], rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """The rules in at least one of `packs`, in the order given."""
    wanted = set(packs)
    return tuple(r for r in rules if wanted.intersection(r.packs))


def not_audited(spec: EnvSpec) -> str | None:
    """Why the audit skips this environment, or None when it judges it."""
    if spec.target in AUDITED_TARGETS:
        return None
    return (
        f"environment {spec.env} has target {spec.target}: nothing to audit "
        "(the audit judges what is deployed to SageMaker)"
    )


def audit_environment(
    spec: EnvSpec,
    graph: ResourceGraph,
    spec_file: str,
    *,
    today: date | None = None,
    rules: tuple[Rule, ...] | None = None,
) -> AuditResult:
    """Apply the environment's packs to its graph, then its waivers.

    `rules` are the candidates (default: every rule, `RULES`); only those in the
    environment's packs run. `today` decides which waivers have expired.
    """
    today = today or date.today()
    if rules is None:
        rules = RULES
    packs = packs_of(spec)
    applied = rules_for(packs, rules)
    ctx = AuditContext(spec, graph)

    found: list[Finding] = []
    checked: list[tuple[str, str]] = []
    for rule in applied:
        if not rule.resource_types:
            checked.append((rule.id, ""))
            found.extend(_run(rule, None, ctx))
            continue
        for type_name in rule.resource_types:
            for resource in ctx.of_type(type_name):
                checked.append((rule.id, resource.address))
                found.extend(_run(rule, resource, ctx))
    findings = sorted(dict.fromkeys(found), key=finding_order)

    waived, warnings = apply_waivers(spec, findings, applied, packs, today)
    if not packs:
        warnings.insert(
            0,
            AuditWarning(
                f"policies.packs is empty: no rule applies to {spec.env}",
                spec.policies.range_of("packs"),
            ),
        )
    return AuditResult(
        environment=spec.env,
        spec_file=spec_file,
        packs=packs,
        rules=applied,
        findings=tuple(waived),
        warnings=tuple(warnings),
        checked=tuple(checked),
    )


def _run(rule: Rule, resource: Resource | None, ctx: AuditContext) -> list[Finding]:
    try:
        return list(rule.check(resource, ctx) or ())
    except Exception as exc:  # a rule's bug: say which rule and where, then stop
        where = resource.address if resource is not None else "the environment"
        raise RuleCrashed(
            f"rule {rule.id} failed on {where} in {ctx.spec.env}: {type(exc).__name__}: {exc}"
        ) from exc
