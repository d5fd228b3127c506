"""What every step a pipeline builds shares: the definition being built (`Build`), and the
KMS key and VPC settings job steps take from the environment's `security:`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.endpoints import has_instance_storage
from mlinfra.ir.sagemaker.pipeline_definition.inputs import DataFlow
from mlinfra.spec.model import Pipeline, Security

VOLUME_SIZE_GB = 30
LOG_LEVEL = "20"  # logging.INFO, the SDK's default container log level


@dataclass(frozen=True)
class Build:
    """One pipeline's definition being built: what every step builder reads."""

    ctx: LoweringContext
    component: Pipeline
    role_arn: Any
    code_uris: Mapping[str, Any]
    flow: DataFlow
    metric_reads: Mapping[str, list[str]]

    @property
    def steps(self) -> Mapping[str, Any]:
        return self.component.steps

    @property
    def security(self) -> Security:
        return self.ctx.spec.security

    @property
    def isolated(self) -> bool:
        return self.security.network_isolation

    @property
    def encrypted_traffic(self) -> bool:
        return self.security.encrypt_inter_container_traffic


def with_key(build: Build, fields: dict, name: str) -> dict:
    if build.ctx.kms_key is not None:
        fields[name] = build.ctx.kms_key
    return fields


def with_volume_key(build: Build, fields: dict) -> dict:
    # Instances with NVMe instance storage encrypt it in hardware, and SageMaker refuses a
    # volume key for them.
    if has_instance_storage(fields["InstanceType"]):
        return fields
    return with_key(build, fields, "VolumeKmsKeyId")


def vpc_config(build: Build) -> dict | None:
    vpc = build.security.vpc
    if vpc is None:
        return None
    return {"SecurityGroupIds": list(vpc.security_groups), "Subnets": list(vpc.subnets)}
