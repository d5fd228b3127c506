"""The ids of mlinfra's compliance rules, so that waivers are checked when the spec is.

Each id is the stable name of a rule that `mlinfra audit` applies; a waiver naming an id not
listed here can never match and is reported by `validate`. The rules' logic lives beside them
in this package as it lands; this list is the contract their ids keep.
"""

from __future__ import annotations

RULE_IDS = frozenset(
    {
        # Endpoints
        "endpoint-kms-key",
        "endpoint-data-capture",
        "endpoint-data-capture-encrypted",
        "endpoint-min-instances",
        "endpoint-autoscaling",
        "endpoint-safe-deployment",
        "endpoint-rollback-alarms",
        "endpoint-monitored",
        "endpoint-instance-allowlist",
        # Models
        "model-network-isolation",
        "model-in-vpc",
        "model-manual-approval",
        "model-scheduled-retraining",
        # Jobs (processing, training, monitoring)
        "job-volume-kms",
        "job-output-kms",
        "job-inter-container-encryption",
        "job-network-isolation",
        # Feature stores
        "feature-store-online-kms",
        "feature-store-offline-kms",
        # Storage, keys and identity
        "s3-public-access-block",
        "s3-tls-only",
        "s3-versioning",
        "s3-kms-encryption",
        "kms-key-rotation",
        "iam-no-wildcard-actions",
        "iam-no-wildcard-resources",
        "iam-metrics-namespace",
        # Operations
        "required-tags",
        "monitor-alert-targets",
        "cloudwatch-alarm-actions",
        "preview-ttl",
    }
)


def rule_ids() -> frozenset[str]:
    return RULE_IDS
