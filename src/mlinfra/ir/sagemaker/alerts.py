"""Alert targets: an SNS topic with its email and webhook subscriptions, and alarm actions.

Monitors (`on_violation.alert`) and endpoint SLOs (`slo.alert`) name their targets the same
way: `email:<address>` and `webhook:<URL>` subscribe to a topic of the component's own, at
`<component>/alerts`; an `sns:<topic ARN>` is an alarm action itself, so only-SNS targets need
no topic.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import Ref, Resource
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.naming import fit
from mlinfra.spec.model import Component, OnViolation, Slo

TOPIC_NAME_LIMIT = 256


def targets(alert: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """(position from 1, kind, value) of each alert target."""
    return [(i, *target.split(":", 1)) for i, target in enumerate(alert, start=1)]


def topic_address(component: Component) -> str:
    return f"{component.address}/alerts"


def alert_topic(
    ctx: LoweringContext, component: Component, owner: Slo | OnViolation, topic_name: str
) -> list[Resource]:
    """The component's topic and the email and webhook subscriptions of `owner.alert` (the
    endpoint's `slo` or the monitor's `on_violation`); none for none."""
    subscribers = [t for t in targets(owner.alert) if t[1] != "sns"]
    if not subscribers:
        return []
    topic: dict[str, Any] = {"name": fit(topic_name, TOPIC_NAME_LIMIT)}
    if ctx.kms_key is not None:
        topic["kms_master_key_id"] = ctx.kms_key
    topic["tags"] = ctx.tags(component)
    address = topic_address(component)
    resources = [ctx.resource(address, "aws.sns.Topic", topic, owner.range_of("alert"))]
    for i, kind, value in subscribers:
        protocol = "email" if kind == "email" else value.split(":", 1)[0]
        resources.append(
            ctx.resource(
                f"{component.address}/alert-{i}",
                "aws.sns.TopicSubscription",
                {"topic": Ref(address, "arn"), "protocol": protocol, "endpoint": value},
                owner.range_of("alert", i - 1),
            )
        )
    return resources


def alarm_actions(alert: tuple[str, ...], topic: list[Resource]) -> list:
    """What an alarm notifies: the component's topic, and the SNS topics named directly."""
    actions: list[Any] = [Ref(topic[0].address, "arn")] if topic else []
    return actions + [value for _, kind, value in targets(alert) if kind == "sns"]
