"""What each endpoint really serves, checked after Pulumi says it applied the spec.

The AWS provider that `pulumi_aws` bridges waits for an updated endpoint to be `InService`
and records the update as done. But when SageMaker rolls a blue/green update back (an alarm
of its `AutoRollbackConfiguration` fired, or the new fleet failed), the endpoint is back
`InService` on its *previous* configuration, and the provider still records the new one
(hashicorp/terraform-provider-aws#48997, #46663); Pulumi then deletes the previous
configuration, the one in service, as replaced. Nothing fails, and nothing serves what was
applied.

So after `pulumi up` (and `pulumi refresh`), mlinfra describes each endpoint
(DescribeEndpoint: `EndpointConfigName`, `EndpointStatus`, `FailureReason`,
`PendingDeploymentSummary`, `LastDeploymentConfig.AutoRollbackConfiguration.Alarms`) and,
where the configuration in service is not the one applied, finds out why: the failure
reason SageMaker gives, and which of the rollback alarms is in ALARM or went into it since
the update began (CloudWatch DescribeAlarms, DescribeAlarmHistory).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlinfra.render.runtime import is_missing

# States in which an endpoint serves what its EndpointConfigName says.
SERVING = ("InService", "Updating", "SystemUpdating")


@dataclass(frozen=True)
class Serving:
    """An endpoint as it is: the configuration it serves against the one applied."""

    address: str  # endpoint.churn-api
    endpoint: str  # its name in AWS
    applied: str  # the endpoint configuration applied
    serving: str | None  # the configuration in service (None: the endpoint is gone)
    status: str
    reason: str = ""  # why it does not serve what was applied ("" when it does)

    @property
    def ok(self) -> bool:
        return self.serving == self.applied and self.status in SERVING

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "serving": self.serving,
            "status": self.status,
            "reason": self.reason,
        }


def applied_endpoints(
    graph: Any, stack: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str, str, list[str]]]:
    """(address, name, configuration applied, rollback alarms applied) of each endpoint of
    `graph` that the stack holds, from the outputs Pulumi recorded for it."""
    found = []
    for resource in graph.of_type("aws.sagemaker.Endpoint"):
        outputs = stack.get(resource.address) or {}
        if outputs.get("name") and outputs.get("endpoint_config_name"):
            found.append(
                (
                    resource.address,
                    outputs["name"],
                    outputs["endpoint_config_name"],
                    rollback_alarms(outputs.get("deployment_config")),
                )
            )
    return found


def rollback_alarms(deployment: Any) -> list[str]:
    """The alarm names of a deployment configuration: DescribeEndpoint's
    `LastDeploymentConfig`, or the `deployment_config` output Pulumi's stack holds (whose
    nested keys are camelCase)."""
    rollback = _field(deployment, "AutoRollbackConfiguration")
    alarms = _field(rollback, "Alarms") or []
    return [name for name in (_field(a, "AlarmName") for a in alarms) if isinstance(name, str)]


def _field(value: Any, name: str) -> Any:
    """`value[name]` under AWS's, Pulumi's or Terraform's spelling of `name` (PascalCase,
    camelCase, snake_case); a nested block kept as a one-item list is looked into."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, Mapping):
        return None
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    for key in (name, name[0].lower() + name[1:], snake):
        if key in value:
            return value[key]
    return None


def check(
    sagemaker: Any,
    cloudwatch: Any,
    endpoints: Iterable[tuple[str, str, str, list[str]]],
    since: datetime | None = None,
) -> list[Serving]:
    """Describe each (address, name, applied configuration, rollback alarms) endpoint;
    `since` is when the apply began (alarm history before it is not this update's)."""
    return [
        _check_one(sagemaker, cloudwatch, address, name, applied, alarms, since)
        for address, name, applied, alarms in endpoints
    ]


def _check_one(sagemaker, cloudwatch, address, name, applied, alarms, since) -> Serving:
    from botocore.exceptions import ClientError

    try:
        described = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if is_missing(exc):
            return Serving(address, name, applied, None, "missing", "the endpoint does not exist")
        raise
    serving = described.get("EndpointConfigName")
    status = described.get("EndpointStatus", "")
    found = Serving(address, name, applied, serving, status)
    if found.ok:
        return found
    reasons = []
    if status not in SERVING:
        reasons.append(f"its status is {status}")
    if described.get("FailureReason"):
        reasons.append(f"SageMaker says: {described['FailureReason']}")
    pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    if serving != applied:
        if pending == applied:
            reasons.append(f"the update to {applied} is still in progress")
        else:
            names = rollback_alarms(described.get("LastDeploymentConfig")) or alarms
            reasons.append(f"SageMaker rolled the update to {applied} back to {serving}")
            reasons.extend(_fired(cloudwatch, names, since))
            reasons.extend(_config_gone(sagemaker, serving))
    return Serving(address, name, applied, serving, status, "; ".join(reasons))


def _fired(cloudwatch, names: list[str], since: datetime | None) -> list[str]:
    """Which of the rollback alarms is in ALARM, or went into it since the update began."""
    if not names:
        return ["the update had no rollback alarm: the new fleet itself failed"]
    found = []
    described = cloudwatch.describe_alarms(AlarmNames=names)
    alarms = described.get("MetricAlarms", []) + described.get("CompositeAlarms", [])
    for alarm in alarms:
        if alarm.get("StateValue") == "ALARM":
            found.append(f"alarm {alarm['AlarmName']} is in ALARM: {alarm.get('StateReason', '')}")
    if not found:
        # Back to OK by now, perhaps: their history tells which fired during the update.
        for name in names:
            history = cloudwatch.describe_alarm_history(
                AlarmName=name,
                HistoryItemType="StateUpdate",
                ScanBy="TimestampDescending",
                **({"StartDate": since} if since else {}),
            )
            for item in history.get("AlarmHistoryItems", []):
                if _into_alarm(item):
                    found.append(f"alarm {name} went into ALARM at {item.get('Timestamp')}")
                    break
    if not found:
        found.append(
            f"none of its rollback alarms ({', '.join(names)}) is or was in ALARM: see the "
            "endpoint's events and logs in CloudWatch"
        )
    return found


def _into_alarm(item: Mapping[str, Any]) -> bool:
    """Whether a StateUpdate history item is a move into ALARM: its `HistoryData` (JSON)
    says the new state, its summary reads "Alarm updated from OK to ALARM"."""
    import json

    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        data = {}
    new = data.get("newState") if isinstance(data, dict) else None
    if isinstance(new, dict) and "stateValue" in new:
        return new["stateValue"] == "ALARM"
    return str(item.get("HistorySummary", "")).endswith("to ALARM")


def _config_gone(sagemaker, config: str | None) -> list[str]:
    from botocore.exceptions import ClientError

    if not config:
        return []
    try:
        sagemaker.describe_endpoint_config(EndpointConfigName=config)
    except ClientError as exc:
        if is_missing(exc):
            return [
                f"configuration {config}, the one in service, no longer exists (Pulumi deleted "
                "it, taking the update as done): the endpoint serves on, but cannot be updated "
                "or scaled until a configuration is applied again"
            ]
        raise
    return []


# --- what mlinfra's state records -------------------------------------------------------------

# The output under which the state keeps an endpoint that does not serve what was applied:
# {"applied", "serving", "status", "reason", "property"}; gone once it serves it again.
NOT_SERVING = "mlinfra:not_serving"
CONFIG = "endpoint_config_name"


def recorded(state: Any, checks: Iterable[Serving]) -> Any:
    """`state` with each checked endpoint as it really is: the configuration in service as
    its input and output (what `refresh` then compares with), and, while that is not the
    one applied, a property that differs from the spec's (so `plan` shows the endpoint's
    update as still to make) and the `NOT_SERVING` record of what was applied and why."""
    from dataclasses import replace

    for found in checks:
        entry = state.get(found.address)
        if entry is None:
            continue
        outputs = dict(entry.outputs or {})
        inputs = dict(entry.inputs or {})
        properties = dict(entry.properties) if isinstance(entry.properties, Mapping) else {}
        before = outputs.pop(NOT_SERVING, None)
        if found.ok:
            if before is None:
                continue
            properties[CONFIG] = before["property"]
        elif found.serving is not None:
            record = found.to_json()
            record["property"] = before["property"] if before else properties.get(CONFIG)
            outputs[NOT_SERVING] = record
            inputs[CONFIG] = outputs[CONFIG] = properties[CONFIG] = found.serving
        else:
            continue  # gone: `refresh` drops it from the state
        state = state.with_resource(
            found.address, replace(entry, properties=properties, inputs=inputs, outputs=outputs)
        )
    return state


def not_serving(state: Any) -> dict[str, Mapping[str, Any]]:
    """Address -> the `NOT_SERVING` record of each endpoint the state says does not serve
    what was applied."""
    return {
        address: entry.outputs[NOT_SERVING]
        for address, entry in state.resources.items()
        if isinstance(entry.outputs, Mapping) and NOT_SERVING in entry.outputs
    }


def recorded_endpoints(state: Any) -> list[tuple[str, str, str, list[str]]]:
    """(address, name, configuration applied, rollback alarms) of each endpoint the state
    records: what `refresh` checks."""
    found = []
    for address, entry in state.resources.items():
        outputs = entry.outputs if isinstance(entry.outputs, Mapping) else {}
        if entry.type != "aws.sagemaker.Endpoint" or not outputs.get("name"):
            continue
        applied = (outputs.get(NOT_SERVING) or {}).get("applied") or outputs.get(CONFIG)
        if applied:
            alarms = rollback_alarms(outputs.get("deployment_config"))
            found.append((address, outputs["name"], applied, alarms))
    return found
