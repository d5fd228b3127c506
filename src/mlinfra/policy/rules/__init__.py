"""mlinfra's compliance rules, one module per area; `RULES` lists every one of them.

This tuple is the registry: a rule not listed here never runs. Its order is the order
`mlinfra audit rules` lists them in and the audit applies them. A new rule gets its id in
`policy.rule_ids`, its check in the module of its area (`@rule(RuleId.X, ...)`), and its
place here.
"""

from __future__ import annotations

from mlinfra.policy.model import Rule
from mlinfra.policy.rules import (
    endpoints,
    feature_stores,
    identity,
    jobs,
    models,
    operations,
    storage,
)

RULES: tuple[Rule, ...] = (
    endpoints.endpoint_kms_key,
    endpoints.endpoint_data_capture,
    endpoints.endpoint_data_capture_encrypted,
    endpoints.endpoint_min_instances,
    endpoints.endpoint_autoscaling,
    endpoints.endpoint_safe_deployment,
    endpoints.endpoint_rollback_alarms,
    endpoints.endpoint_monitored,
    endpoints.endpoint_instance_allowlist,
    feature_stores.feature_store_online_kms,
    feature_stores.feature_store_offline_kms,
    identity.iam_no_wildcard_actions,
    identity.iam_no_wildcard_resources,
    identity.iam_metrics_namespace,
    jobs.job_volume_kms,
    jobs.job_output_kms,
    jobs.job_inter_container_encryption,
    jobs.job_network_isolation,
    models.model_network_isolation,
    models.model_in_vpc,
    models.model_manual_approval,
    models.model_scheduled_retraining,
    operations.required_tags,
    operations.monitor_alert_targets,
    operations.cloudwatch_alarm_actions,
    operations.preview_ttl,
    storage.s3_public_access_block,
    storage.s3_tls_only,
    storage.s3_versioning,
    storage.s3_kms_encryption,
    storage.kms_key_rotation,
)
