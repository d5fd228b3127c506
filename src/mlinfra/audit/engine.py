"""Running the audit: the rules of an environment's packs over its IR, then its waivers.

`audit_environment(spec, graph, spec_file)` is the whole audit of one environment:

- The rules applied are those in at least one of the environment's packs (`policies.packs`,
  with the schema's default when the spec says nothing; an explicit `[]` applies none).
- A rule with `resource_types` runs once per resource of those types, in the graph's order.
  A rule with no `resource_types` judges the environment as a whole (e.g. `preview-ttl`):
  it runs once, with `resource=None`, and builds its findings itself (`Finding(...)`, its
  address naming what it judges, `source` from `ctx.setting_at(...)` or a spec node's
  `range_of(...)`).
- Findings are sorted by severity (highest first), address, rule id, then source position,
  so that every report and diff is stable from run to run.
- Waivers (`policies.waivers`) then mark the findings they suppress (`Finding.waiver` is the
  waiver as written). A waiver suppresses a finding when its rule is the finding's rule, it
  covers the environment (it lists it, or lists none), its `resource` is the finding's address
  or an address above it (`endpoint.churn-api` covers `endpoint.churn-api/config`), and it has
  not expired (`expires` is the last day it applies). Expired waivers, and waivers that match
  no finding in an environment they cover, become warnings that point at the waiver's line.

Findings are kept whether waived or not: reports show the waived ones as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from mlinfra.audit.context import AuditContext
from mlinfra.audit.errors import AuditError, RuleCrashed
from mlinfra.audit.model import Finding, Rule, Severity
from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Resource, ResourceGraph
from mlinfra.spec.model import EnvSpec

# The audit judges what is deployed to AWS; a local environment runs in the emulator.
AUDITED_TARGETS = ("sagemaker",)


class AuditWarning(str):
    """A warning about the audit itself (a stale waiver), as `file:line:col: message`.

    It is a `str`, so it prints as is; `message` and `source` keep its parts for the reports
    that place it (SARIF notifications, JSON).
    """

    message: str
    source: SourceRange | None

    def __new__(cls, message: str, source: SourceRange | None = None) -> AuditWarning:
        made = super().__new__(cls, f"{source}: {message}" if source is not None else message)
        made.message = message
        made.source = source
        return made


@dataclass(frozen=True)
class Waiver:
    """One entry of `policies.waivers`, parsed."""

    index: int  # its position under `policies.waivers`, from 0
    rule: str
    resource: str
    environments: tuple[str, ...]
    reason: str
    owner: str
    expires: date | None
    source: SourceRange | None
    written: Mapping  # the waiver as written: what `Finding.waiver` holds

    @property
    def name(self) -> str:
        return f"waiver #{self.index + 1} for {self.rule} on {self.resource}"

    def covers_environment(self, env: str) -> bool:
        return not self.environments or env in self.environments

    def covers(self, finding: Finding) -> bool:
        return finding.rule.id == self.rule and (
            finding.address == self.resource or finding.address.startswith(self.resource + "/")
        )

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


def waivers_of(spec: EnvSpec) -> tuple[Waiver, ...]:
    """The spec's waivers, in the order written; `AuditError` for an impossible date."""
    found = []
    for i, waiver in enumerate(spec.policies.waivers):
        source = waiver.range_of()
        expires = waiver.expires
        try:
            day = date.fromisoformat(str(expires)) if expires is not None else None
        except ValueError:
            raise AuditError(
                f"{source}: waiver #{i + 1} expires on {expires!r}, which is not a date "
                "(write YYYY-MM-DD)"
            ) from None
        # What reports show of the waiver: its fields as written (none left out as None).
        written = {
            "rule": waiver.rule,
            "resource": waiver.resource,
            "environments": waiver.environments,
            "reason": waiver.reason,
            "owner": waiver.owner,
            "expires": waiver.expires,
        }
        written = {name: value for name, value in written.items() if waiver.written(name)}
        found.append(
            Waiver(
                index=i,
                rule=waiver.rule,
                resource=waiver.resource,
                environments=waiver.environments,
                reason=waiver.reason,
                owner=waiver.owner,
                expires=day,
                source=source,
                written=MappingProxyType(written),
            )
        )
    return tuple(found)


def finding_order(finding: Finding) -> tuple:
    where = finding.source
    return (
        -finding.severity,
        finding.address,
        finding.rule.id,
        (where.filename, where.start.line, where.start.column) if where else ("", 0, 0),
        finding.message,
    )


@dataclass(frozen=True)
class AuditResult:
    environment: str
    spec_file: str
    packs: tuple[str, ...]
    rules: tuple[Rule, ...]  # the rules applied: those in the environment's packs
    findings: tuple[Finding, ...]  # every finding, waived ones too (finding.waiver set)
    warnings: tuple[str, ...]  # AuditWarning: expired waivers, waivers matching nothing
    # What was checked, as (rule id, resource address) pairs; the address is "" for a rule
    # that judges the environment as a whole. JUnit reports one test case per pair.
    checked: tuple[tuple[str, str], ...] = ()

    def active(self) -> tuple[Finding, ...]:
        """The findings no waiver suppresses, most severe first."""
        return tuple(sorted((f for f in self.findings if not f.waived), key=finding_order))

    def waived(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.waived)

    def failing(self, fail_on: Severity | None) -> tuple[Finding, ...]:
        """The active findings at or above `fail_on` (None: nothing fails)."""
        if fail_on is None:
            return ()
        return tuple(f for f in self.active() if f.severity >= fail_on)

    def summary(self) -> dict[str, int]:
        """Active findings per severity (highest first), then `active`, `waived`, `rules`."""
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        active = self.active()
        for f in active:
            counts[f.severity.label] += 1
        counts["active"] = len(active)
        counts["waived"] = len(self.findings) - len(active)
        counts["rules"] = len(self.rules)
        return counts


def packs_of(spec: EnvSpec) -> tuple[str, ...]:
    return spec.policies.packs


def rules_for(packs: Iterable[str], rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """The rules in at least one of `packs`, in their registry order."""
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

    `rules` are the candidates (default: every registered rule); only those in the
    environment's packs run. `today` decides which waivers have expired.
    """
    today = today or date.today()
    if rules is None:
        from mlinfra.audit.registry import all_rules

        rules = all_rules()
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

    waived, warnings = _apply_waivers(spec, findings, applied, today)
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


def _apply_waivers(
    spec: EnvSpec, findings: list[Finding], applied: tuple[Rule, ...], today: date
) -> tuple[list[Finding], list[AuditWarning]]:
    env = spec.env
    covering = [w for w in waivers_of(spec) if w.covers_environment(env)]
    live = [w for w in covering if not w.expired(today)]
    matched: set[int] = set()
    out = []
    for finding in findings:
        matching = [w for w in live if w.covers(finding)]
        matched.update(w.index for w in matching)
        if matching:
            written = matching[0].written
            if not isinstance(written, MappingProxyType):
                written = MappingProxyType(dict(written))
            finding = dataclasses.replace(finding, waiver=written)
        out.append(finding)

    applied_ids = {r.id for r in applied}
    warnings = []
    for w in covering:
        if w.expired(today):
            covered = sum(1 for f in findings if w.covers(f))
            effect = (
                f"{covered} finding(s) in {env} it covered count again: renew it or fix them"
                if covered
                else f"it matches no finding in {env} anyway: remove it"
            )
            warnings.append(
                AuditWarning(
                    f"{w.name} (owner {w.owner}) expired on {w.expires.isoformat()}; {effect}",
                    w.source,
                )
            )
        elif w.index not in matched:
            why = (
                ""
                if w.rule in applied_ids
                else f" (rule {w.rule} is not in the packs applied: {', '.join(packs_of(spec))})"
            )
            warnings.append(
                AuditWarning(f"{w.name} matched no finding in {env}{why}: remove it", w.source)
            )
    return out, warnings
