"""What the audit hands on: rules, the findings they make, and severities.

A rule is a small unit with a stable kebab-case id that waivers, reports and other tools
name; it inspects the resources of one environment's IR (so overrides count) and yields a
`Finding` for each resource that fails it, pointing at the spec line responsible. Findings
are plain data: the reports (text, JSON, SARIF, JUnit, Markdown) and compliance diffs only
read them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from mlinfra.diagnostics import SourceRange

if TYPE_CHECKING:
    from mlinfra.audit.context import AuditContext
    from mlinfra.ir.graph import Resource


class Severity(enum.IntEnum):
    """Ordered: `Severity.HIGH >= Severity.MEDIUM`."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"{text!r} is not a severity; use one of {names}") from None


PACKS = ("baseline", "sagemaker-security", "prod-readiness")


@dataclass(frozen=True)
class References:
    """The equivalent checks of established tools, where they exist."""

    checkov: tuple[str, ...] = ()  # CKV_AWS_*
    aws_config: tuple[str, ...] = ()  # AWS Config managed rule names
    security_hub: tuple[str, ...] = ()  # Security Hub controls, e.g. SageMaker.1


# A rule's check: the resources of its types, one at a time, with the environment around.
Check = Callable[["Resource", "AuditContext"], Iterator["Finding"]]


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
