"""The id of every compliance rule, written once.

An id is a rule's stable name: waivers, reports and other tools use it. Each rule module
declares its rules with these (`@rule(RuleId.ENDPOINT_KMS_KEY, ...)`), and `validate` checks
the ids waivers name against `RULE_IDS` without importing a rule: the rules bring lowering
and the monitor job's code with them, which a cold `validate` must not pay for.
"""

from __future__ import annotations

import enum


class RuleId(enum.StrEnum):
    """A rule's id; its value is the kebab-case name users write."""

    # Endpoints
    ENDPOINT_KMS_KEY = "endpoint-kms-key"
    ENDPOINT_DATA_CAPTURE = "endpoint-data-capture"
    ENDPOINT_DATA_CAPTURE_ENCRYPTED = "endpoint-data-capture-encrypted"
    ENDPOINT_MIN_INSTANCES = "endpoint-min-instances"
    ENDPOINT_AUTOSCALING = "endpoint-autoscaling"
    ENDPOINT_SAFE_DEPLOYMENT = "endpoint-safe-deployment"
    ENDPOINT_ROLLBACK_ALARMS = "endpoint-rollback-alarms"
    ENDPOINT_MONITORED = "endpoint-monitored"
    ENDPOINT_INSTANCE_ALLOWLIST = "endpoint-instance-allowlist"

    # Feature stores
    FEATURE_STORE_ONLINE_KMS = "feature-store-online-kms"
    FEATURE_STORE_OFFLINE_KMS = "feature-store-offline-kms"

    # Identity
    IAM_NO_WILDCARD_ACTIONS = "iam-no-wildcard-actions"
    IAM_NO_WILDCARD_RESOURCES = "iam-no-wildcard-resources"
    IAM_METRICS_NAMESPACE = "iam-metrics-namespace"

    # Jobs (processing, training, monitoring)
    JOB_VOLUME_KMS = "job-volume-kms"
    JOB_OUTPUT_KMS = "job-output-kms"
    JOB_INTER_CONTAINER_ENCRYPTION = "job-inter-container-encryption"
    JOB_NETWORK_ISOLATION = "job-network-isolation"

    # Models
    MODEL_NETWORK_ISOLATION = "model-network-isolation"
    MODEL_IN_VPC = "model-in-vpc"
    MODEL_MANUAL_APPROVAL = "model-manual-approval"
    MODEL_SCHEDULED_RETRAINING = "model-scheduled-retraining"

    # Operations
    REQUIRED_TAGS = "required-tags"
    MONITOR_ALERT_TARGETS = "monitor-alert-targets"
    CLOUDWATCH_ALARM_ACTIONS = "cloudwatch-alarm-actions"
    PREVIEW_TTL = "preview-ttl"

    # Storage and keys
    S3_PUBLIC_ACCESS_BLOCK = "s3-public-access-block"
    S3_TLS_ONLY = "s3-tls-only"
    S3_VERSIONING = "s3-versioning"
    S3_KMS_ENCRYPTION = "s3-kms-encryption"
    KMS_KEY_ROTATION = "kms-key-rotation"


RULE_IDS = frozenset(str(i) for i in RuleId)
