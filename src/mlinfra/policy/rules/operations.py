"""Operations rules: tags, who hears about alarms and violations, and how long previews live."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from mlinfra.ir.graph import Resource
from mlinfra.policy.model import AuditContext, Finding, References, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity
from mlinfra.spec.model import Monitor
from mlinfra.spec.values import parse_duration

METRIC_ALARM = "aws.cloudwatch.MetricAlarm"
MONITOR_SCHEDULE = "aws.sagemaker.MonitoringSchedule"
PIPELINE = "aws.sagemaker.Pipeline"
# What preview-ttl's findings are about, as waivers name it.
PREVIEWS = "previews"

# The resource types mlinfra lowers to whose pulumi_aws arguments take `tags` (a test checks
# this against pulumi_aws, both ways, for every type the reference spec lowers to).
TAGGABLE_TYPES = (
    "aws.kms.Key",
    "aws.s3.Bucket",
    "aws.s3.BucketObjectv2",
    "aws.iam.Role",
    "aws.sagemaker.FeatureGroup",
    "aws.sagemaker.ModelPackageGroup",
    "aws.sagemaker.Model",
    "aws.sagemaker.Pipeline",
    "aws.sagemaker.EndpointConfiguration",
    "aws.sagemaker.Endpoint",
    "aws.sagemaker.DataQualityJobDefinition",
    "aws.sagemaker.MonitoringSchedule",
    "aws.cloudwatch.MetricAlarm",
    "aws.cloudwatch.EventRule",
    "aws.appautoscaling.Target",
    "aws.sns.Topic",
)

# A preview is for reviewing one change; one that outlives a month is an environment that
# nobody owns, still paying for its endpoints.
MAX_PREVIEW_TTL = dt.timedelta(days=30)


def _short(address: str) -> str:
    return address.split(".", 1)[1] if "." in address else address


@rule(
    RuleId.REQUIRED_TAGS,
    title="Every taggable resource carries the tags the policy requires",
    severity=Severity.LOW,
    packs=("baseline",),
    resource_types=TAGGABLE_TYPES,
    rationale=(
        "Cost allocation, ownership and attribute-based access control all read tags. A "
        "resource without the organisation's required tags is a cost nobody is charged for "
        "and an owner nobody can find. Without `policies.required_tags` the rule passes."
    ),
    remediation=(
        "Add the missing keys under `defaults.tags` (or the environment's `tags`): mlinfra "
        "puts them on every resource it creates."
    ),
    references=References(aws_config=("required-tags",)),
)
def required_tags(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    required = ctx.policies.required_tags
    tags = resource.properties.get("tags") or {}
    missing = [key for key in required if key not in tags]
    if not missing:
        return
    yield ctx.finding(
        required_tags,
        resource,
        f"{resource.address} lacks the required tag{'s' if len(missing) > 1 else ''} "
        f"{', '.join(missing)} in {ctx.spec.env}",
        ctx.setting_at("tags"),
    )


@rule(
    RuleId.MONITOR_ALERT_TARGETS,
    title="Monitors alert someone when they find a violation",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(MONITOR_SCHEDULE, PIPELINE),
    rationale=(
        "A monitor that finds drift and tells no one only writes reports to S3. Its violation "
        "alarms must notify a person or a system: an email, a webhook or an SNS topic. On "
        "Model Monitor (`engine: model-monitor`), a monitor whose baseline is in S3 gets no "
        "violation alarms (mlinfra cannot read the features from it when it compiles), so it "
        "alerts no one either; on mlinfra's engine the alarm needs no feature names."
    ),
    remediation=(
        "Add `on_violation: {alert: ['email:ml-oncall@example.com']}` to the monitor "
        "(`webhook:https://...` and `sns:<topic ARN>` work too), with a local baseline CSV."
    ),
)
def monitor_alert_targets(schedule: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if schedule.type == PIPELINE and not (
        schedule.component.startswith("monitor.") and schedule.address == schedule.component
    ):
        return  # a spec pipeline, not a monitor's
    component = ctx.component_of(schedule)
    name = _short(schedule.component)
    alarms = ctx.in_component(schedule.component, METRIC_ALARM)
    targets = component.on_violation.alert if isinstance(component, Monitor) else ()
    if not targets:
        yield ctx.finding(
            monitor_alert_targets,
            schedule,
            f"monitor {name} alerts no one when it finds a violation in {ctx.spec.env}",
            ctx.at(component, "on_violation", "alert"),
        )
    elif not alarms:
        yield ctx.finding(
            monitor_alert_targets,
            schedule,
            f"monitor {name} has no violation alarms in {ctx.spec.env} (its baseline is not a "
            "local CSV), so its alert targets are never notified",
            ctx.at(component, "baseline"),
        )
    elif not all(a.properties.get("alarm_actions") for a in alarms):
        yield ctx.finding(
            monitor_alert_targets,
            schedule,
            f"monitor {name} has violation alarms that notify none of its alert targets",
            ctx.at(component, "on_violation", "alert"),
        )


@rule(
    RuleId.CLOUDWATCH_ALARM_ACTIONS,
    title="Every CloudWatch alarm notifies someone when it fires",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(METRIC_ALARM,),
    rationale=(
        "An alarm without actions changes state in the CloudWatch console and nowhere else. "
        "Endpoint SLO alarms roll back deployments, but between deployments a breached SLO "
        "pages no one unless the alarm has an action."
    ),
    remediation=(
        "List alert targets: `on_violation.alert` for a monitor's alarms, `slo.alert` for an "
        "endpoint's SLO alarms (email:<address>, webhook:<URL> or sns:<topic ARN>)."
    ),
    references=References(
        aws_config=("cloudwatch-alarm-action-check",),
        security_hub=("CloudWatch.15",),
    ),
)
def cloudwatch_alarm_actions(alarm: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if alarm.properties.get("alarm_actions") and alarm.properties.get("actions_enabled", True):
        return
    component = ctx.component_of(alarm)
    source = None
    if component is not None and component.kind == "monitor":
        source = ctx.at(component, "on_violation", "alert")
    elif component is not None and component.kind == "endpoint":
        source = ctx.at(component, "slo")
    described = alarm.properties.get("alarm_description") or alarm.properties.get("name")
    yield ctx.finding(
        cloudwatch_alarm_actions,
        alarm,
        f"alarm {alarm.properties.get('name')} ({described}) notifies no one when it fires",
        source,
    )


@rule(
    RuleId.PREVIEW_TTL,
    title="Preview environments expire",
    severity=Severity.LOW,
    packs=("baseline",),
    resource_types=(),  # judges the preview as a whole
    rationale=(
        "A branch preview runs real endpoints, billed per instance-hour whether anyone calls "
        "them or not. `previews.ttl` destroys a preview after a while (72h unless set); one "
        f"longer than {MAX_PREVIEW_TTL.days} days lets forgotten previews pile up. Only "
        "previews are judged: the rule does not apply to other environments."
    ),
    remediation="Set `previews.ttl` to a duration such as `72h` (at most 30d).",
)
def preview_ttl(_: Resource | None, ctx: AuditContext) -> Iterator[Finding]:
    if ctx.spec.base is None:
        return
    ttl = ctx.spec.previews.ttl if ctx.spec.previews is not None else None
    if not ttl:
        message = "previews set no ttl: a preview runs until someone destroys it"
    else:
        try:
            lifetime = parse_duration(ttl)
        except ValueError:
            return  # validation reports a malformed duration
        if lifetime <= MAX_PREVIEW_TTL:
            return
        message = (
            f"previews live {ttl}: a forgotten preview keeps its endpoints billing that long "
            f"(at most {MAX_PREVIEW_TTL.days}d)"
        )
    yield Finding(
        rule=preview_ttl,
        environment=ctx.spec.env,
        address=PREVIEWS,
        component=PREVIEWS,
        message=message,
        source=ctx.spec.range_of("previews", "ttl"),
    )
