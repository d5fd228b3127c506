"""Rules on identity: the inline policies of the roles mlinfra creates, read statement by
statement. Only `Allow` statements grant anything, so only they are judged; a finding is
made per offending statement and names it (by Sid, else by position) and the action.

Role policies are derived from the spec, not written in it: findings point at the
component whose role it is (the policy resource's own source).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlinfra.ir.graph import Resource
from mlinfra.policy.model import AuditContext, Finding, References, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity
from mlinfra.policy.values import as_tuple, fields, json_document

ROLE_POLICY = "aws.iam.RolePolicy"

# Actions whose permission IAM can only grant on `"Resource": "*"`: the Service
# Authorization Reference lists no resource type for them, so a narrower Resource makes the
# statement match nothing. A statement of these alone passes `iam-no-wildcard-resources`.
# Only actions mlinfra's roles use are listed, each with why "*" is all it can be.
RESOURCE_WILDCARD_ONLY = {
    # The token is for the caller's registry as a whole; images are pulled under a separate
    # statement naming the repositories.
    "ecr:getauthorizationtoken": "returns a token for the whole registry",
    # Narrowed by the `cloudwatch:namespace` condition instead.
    "cloudwatch:putmetricdata": "metrics have no ARN; the namespace condition narrows it",
    # EC2's Describe calls take no resource-level permissions. SageMaker makes them to
    # attach a job or model to the VPC; the interfaces it creates are narrowed by ARN.
    "ec2:describedhcpoptions": "EC2 Describe calls take no resource-level permissions",
    "ec2:describenetworkinterfaces": "EC2 Describe calls take no resource-level permissions",
    "ec2:describesecuritygroups": "EC2 Describe calls take no resource-level permissions",
    "ec2:describesubnets": "EC2 Describe calls take no resource-level permissions",
    "ec2:describevpcs": "EC2 Describe calls take no resource-level permissions",
    # SageMaker's List calls take no resource-level permissions either. A model-quality
    # monitor's job lists its group's approved versions to say which one serves next.
    "sagemaker:listmodelpackages": "SageMaker List calls take no resource-level permissions",
}


def allow_statements(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each `Allow` statement of the resource's policy document, with its name in findings:
    `statement "Sid"`, or `statement 3` (1-based) when it has no Sid."""
    policy = resource.properties.get("policy")
    document = json_document(policy)
    statements = as_tuple(fields(document).get("Statement"))
    for position, statement in enumerate(statements, start=1):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            sid = statement.get("Sid")
            yield (f"statement {sid!r}" if sid else f"statement {position}"), statement


def is_wildcard_action(action: Any) -> bool:
    """`*` (every action of every service) or `service:*` (every action of one)."""
    return isinstance(action, str) and (action == "*" or action.endswith(":*"))


@rule(
    RuleId.IAM_NO_WILDCARD_ACTIONS,
    title="Role policies name the actions they allow",
    severity=Severity.HIGH,
    packs=("baseline",),
    resource_types=(ROLE_POLICY,),
    rationale=(
        "An execution role runs user code (scripts, training entry points, model servers). "
        "`*` or `service:*` grants every action of a service, today's and those AWS adds "
        "later, including ones that change permissions or delete data; an `Allow` with "
        "`NotAction` grants everything it does not name. Listing the actions keeps each "
        "role to what its job does."
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: the roles mlinfra creates list their actions, so "
        "a finding here is a bug in mlinfra's lowering; report it, or waive it under "
        "`policies.waivers` with the reason the role needs every action."
    ),
    references=References(
        checkov=("CKV_AWS_63",),
        aws_config=(
            "iam-policy-no-statements-with-admin-access",
            "iam-policy-no-statements-with-full-access",
        ),
        security_hub=("IAM.1", "IAM.21"),
    ),
)
def iam_no_wildcard_actions(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    for name, statement in allow_statements(resource):
        wildcards = [a for a in as_tuple(statement.get("Action")) if is_wildcard_action(a)]
        for action in wildcards:
            message = f"{name} of {resource.address} allows every action of {action!r}"
            yield ctx.finding(
                iam_no_wildcard_actions, resource, message, subject=f"{name} {action}"
            )
        if "NotAction" in statement:
            excluded = ", ".join(str(a) for a in as_tuple(statement["NotAction"]))
            message = f"{name} of {resource.address} allows every action but {excluded}"
            yield ctx.finding(
                iam_no_wildcard_actions, resource, message, subject=f"{name} NotAction"
            )


@rule(
    RuleId.IAM_NO_WILDCARD_RESOURCES,
    title="Role policies name the resources they allow actions on, where IAM can",
    severity=Severity.MEDIUM,
    packs=("baseline",),
    resource_types=(ROLE_POLICY,),
    rationale=(
        'An action allowed on `"Resource": "*"` reaches every resource of its kind in the '
        "account, other teams' buckets and models included. Actions that IAM can only grant "
        "on `*` (ecr:GetAuthorizationToken, cloudwatch:PutMetricData, EC2's Describe calls) "
        "are exempt; a statement mixing them with other actions is not."
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: the roles mlinfra creates name their resources, "
        "so a finding here is a bug in mlinfra's lowering; report it, or waive it under "
        "`policies.waivers` with the reason the role needs every resource."
    ),
    references=References(checkov=("CKV_AWS_355",)),
)
def iam_no_wildcard_resources(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    for name, statement in allow_statements(resource):
        actions = [str(a) for a in as_tuple(statement.get("Action"))]
        if "NotResource" in statement:
            message = f"{name} of {resource.address} allows {', '.join(actions)} on every "
            message += "resource but those it names (NotResource)"
            yield ctx.finding(iam_no_wildcard_resources, resource, message, subject=name)
        elif "*" in as_tuple(statement.get("Resource")):
            restrictable = [a for a in actions if a.lower() not in RESOURCE_WILDCARD_ONLY]
            if restrictable or "NotAction" in statement:
                allowed = ", ".join(restrictable) or "every action it does not exclude"
                message = f'{name} of {resource.address} allows {allowed} on "*"'
                yield ctx.finding(iam_no_wildcard_resources, resource, message, subject=name)


PUT_METRIC_DATA = "cloudwatch:putmetricdata"
NAMESPACE_KEY = "cloudwatch:namespace"


def _conditions_on(statement: Mapping[str, Any], key: str) -> bool:
    """Whether some condition operator of the statement tests `key` (keys are case-blind)."""
    for operator in fields(statement.get("Condition")).values():
        if any(str(k).lower() == key for k in fields(operator)):
            return True
    return False


@rule(
    RuleId.IAM_METRICS_NAMESPACE,
    title="Role policies that put CloudWatch metrics name the namespace they may put them in",
    severity=Severity.MEDIUM,
    packs=("baseline",),
    resource_types=(ROLE_POLICY,),
    rationale=(
        "cloudwatch:PutMetricData can only be allowed on `*`, so without a "
        "`cloudwatch:namespace` condition a role may publish into any namespace: forge the "
        "metrics other teams' alarms and autoscaling act on, or silence an alarm by feeding it "
        "good values. Every role mlinfra creates that publishes metrics (jobs, the monitor "
        "job) is limited to its own namespace this way (CloudWatch's guide, \"Using condition "
        'keys to limit access to CloudWatch namespaces").'
    ),
    remediation=(
        "Nothing to write in mlinfra.yaml: the roles mlinfra creates carry the condition, so a "
        "finding here is a bug in mlinfra's lowering; report it, or waive it under "
        "`policies.waivers` with the reason the role must publish anywhere."
    ),
)
def iam_metrics_namespace(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    for name, statement in allow_statements(resource):
        actions = [str(a).lower() for a in as_tuple(statement.get("Action"))]
        puts = any(a in (PUT_METRIC_DATA, "cloudwatch:*", "*") for a in actions)
        if puts and not _conditions_on(statement, NAMESPACE_KEY):
            message = (
                f"{name} of {resource.address} may put CloudWatch metrics in any namespace "
                f"(no {NAMESPACE_KEY} condition)"
            )
            yield ctx.finding(iam_metrics_namespace, resource, message, subject=name)
