"""A rule's contract: what a rule is, what it sees of an environment, and what it finds.

A rule is a small unit with a stable kebab-case id (`policy.rule_ids`) that waivers, reports
and other tools name; it inspects the resources of one environment's IR (so overrides count)
and yields a `Finding` for each resource that fails it, pointing at the spec line
responsible. `@rule(...)` on a check function makes it a `Rule`; `policy.rules.RULES` lists
them all. Findings are plain data: the reports (text, JSON, SARIF, JUnit, Markdown) and
compliance diffs only read them.

The three types refer to each other (a rule's check takes the context and yields findings,
which name their rule), so they live together here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Resource, ResourceGraph
from mlinfra.policy.packs import PACKS
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity
from mlinfra.spec.model import Component, EnvSpec, Policies, Security


@dataclass(frozen=True)
class References:
    """The equivalent checks of established tools, where they exist."""

    checkov: tuple[str, ...] = ()  # CKV_AWS_*
    aws_config: tuple[str, ...] = ()  # AWS Config managed rule names
    security_hub: tuple[str, ...] = ()  # Security Hub controls, e.g. SageMaker.1


# A rule's check: the resources of its types, one at a time, with the environment around
# (None for a rule that judges the environment as a whole).
Check = Callable[["Resource | None", "AuditContext"], Iterator["Finding"]]


@dataclass(frozen=True)
class Rule:
    id: str  # stable, kebab-case: waivers and reports name it
    title: str  # one line, what is required: "Endpoints encrypt their storage with KMS"
    severity: Severity
    packs: tuple[str, ...]
    resource_types: tuple[str, ...]  # IR types it inspects: "aws.sagemaker.EndpointConfiguration"
    rationale: str
    remediation: str  # what to write in mlinfra.yaml
    check: Check = field(repr=False, compare=False)
    references: References = References()


def rule(
    id: RuleId,  # noqa: A002 - the rule's id, as users and tools call it
    *,
    title: str,
    severity: Severity,
    packs: tuple[str, ...],
    resource_types: tuple[str, ...],
    rationale: str,
    remediation: str,
    references: References | None = None,
) -> Callable[[Check], Rule]:
    """Declare a rule whose check is the decorated function: the function's name then holds
    the `Rule`, which `policy.rules.RULES` lists."""
    unknown = [p for p in packs if p not in PACKS]
    if unknown or not packs:
        raise ValueError(f"rule {id}: packs must be some of {', '.join(PACKS)}, not {unknown}")

    def declare(check: Check) -> Rule:
        return Rule(
            id=str(id),  # the plain text, as reports and waivers write it
            title=title,
            severity=severity,
            packs=tuple(packs),
            resource_types=tuple(resource_types),
            rationale=rationale,
            remediation=remediation,
            check=check,
            references=references or References(),
        )

    return declare


@dataclass(frozen=True)
class Finding:
    """One resource failing one rule in one environment."""

    rule: Rule
    environment: str
    address: str  # the resource's IR address: "endpoint.churn-api/config"
    component: str  # the spec component responsible: "endpoint.churn-api"
    message: str  # what is wrong with this resource, in the user's words
    source: SourceRange | None  # the offending value, or the component's key when missing
    waiver: MappingProxyType | None = None  # the waiver that suppresses it, if any
    # What inside the resource fails, when one resource can fail a rule several times:
    # a pipeline's step ("step train"), a policy's statement ("statement Jobs").
    subject: str = ""

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    def key(self) -> tuple[str, str, str, str]:
        """What identifies a finding across revisions: lines move, addresses do not."""
        return (self.rule.id, self.environment, self.address, self.subject)


@dataclass(frozen=True)
class AuditContext:
    """What a rule sees: one environment's resolved spec and IR, and how to point at the spec."""

    spec: EnvSpec
    graph: ResourceGraph

    # -- the IR -----------------------------------------------------------------------------

    def resource(self, address: str) -> Resource | None:
        return self._by_address.get(address)

    def of_type(self, type_name: str) -> tuple[Resource, ...]:
        return self._by_type.get(type_name, ())

    def in_component(self, component: str, type_name: str) -> tuple[Resource, ...]:
        """The resources of `type_name` lowered from `component` (`monitor.drift`)."""
        return self._by_component_type.get((component, type_name), ())

    def referring_to(self, address: str, type_name: str | None = None) -> tuple[Resource, ...]:
        """The resources whose properties refer to `address` (attached policies, alarms...)."""
        found = self._referrers.get(address, ())
        return found if type_name is None else tuple(r for r in found if r.type == type_name)

    @functools.cached_property
    def _referrers(self) -> dict[str, tuple[Resource, ...]]:
        # Built once: rules ask per resource, and a scan per question is quadratic in size.
        found: dict[str, list[Resource]] = {}
        for r in self.graph.resources:
            for address in dict.fromkeys(r.dependencies()):
                found.setdefault(address, []).append(r)
        return {address: tuple(items) for address, items in found.items()}

    @functools.cached_property
    def memo(self) -> dict[str, Any]:
        """Per-audit scratch space for rules that index the graph once (by rule id)."""
        return {}

    @functools.cached_property
    def _by_address(self) -> dict[str, Resource]:
        return {r.address: r for r in self.graph.resources}

    @functools.cached_property
    def _by_component_type(self) -> dict[tuple[str, str], tuple[Resource, ...]]:
        # Built once, like `_referrers`: rules ask per resource for its component's others.
        found: dict[tuple[str, str], list[Resource]] = {}
        for r in self.graph.resources:
            found.setdefault((r.component, r.type), []).append(r)
        return {key: tuple(items) for key, items in found.items()}

    @functools.cached_property
    def _by_type(self) -> dict[str, tuple[Resource, ...]]:
        found: dict[str, list[Resource]] = {}
        for r in self.graph.resources:
            found.setdefault(r.type, []).append(r)
        return {t: tuple(items) for t, items in found.items()}

    # -- the spec ---------------------------------------------------------------------------

    def component_of(self, resource: Resource) -> Component | None:
        """The spec component a resource was lowered from (None for shared ones: buckets)."""
        return self.spec.component(resource.component)

    @property
    def security(self) -> Security:
        return self.spec.security

    @property
    def policies(self) -> Policies:
        return self.spec.policies

    @property
    def is_prod(self) -> bool:
        """Production-like: the environment is protected or named prod/production."""
        return self.spec.protect or self.spec.env in ("prod", "production")

    def at(self, component: Component | None, *path: str | int) -> SourceRange | None:
        """Where `path` of the component is written in the spec (override or default), or
        the nearest key above it when it is not written: the component's own key."""
        if component is None:
            return None
        return component.range_of(*path)

    def setting_at(self, *path: str | int) -> SourceRange:
        """Where an environment setting (`security`, `kms_key`...) comes from: the
        environment's own value, else `defaults`, else the environment's key."""
        return self.spec.environment.range_of(*path)

    def finding(
        self,
        rule: Rule,
        resource: Resource,
        message: str,
        source: SourceRange | None = None,
        subject: str = "",
    ) -> Finding:
        """A finding of `rule` on `resource` (on `subject` inside it, when one resource can
        fail a rule several times); `source` defaults to the resource's own."""
        return Finding(
            rule=rule,
            environment=self.spec.env,
            address=resource.address,
            component=resource.component,
            message=message,
            source=source if source is not None else resource.source,
            subject=subject,
        )
