"""What every SageMaker lowering function shares: the environment, names, tags and the
addresses of the environment-wide resources (key, buckets) that components use."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Concat, Ref, Resource, freeze
from mlinfra.naming import fit, physical_name
from mlinfra.spec.model import Component, Endpoint, EnvSpec

# Addresses of the environment-wide resources.
KMS_KEY = "kms.key"
BUCKETS = ("artifacts", "capture", "monitoring")  # bucket.<purpose>
# S3 bucket names: 3-63 lowercase characters, globally unique (hence the account id).
BUCKET_NAME_LIMIT = 63
IAM_ROLE_NAME_LIMIT = 64


@dataclass(frozen=True)
class LoweringContext:
    spec: EnvSpec
    spec_dir: Path | None  # where relative paths (scripts, artifacts, baselines) are read

    # -- names ------------------------------------------------------------------------------

    def name(self, component: Component | str, kind: str) -> str:
        """The SageMaker name of a component's resource (`{project}-{env}-{component}`)."""
        name = component if isinstance(component, str) else component.name
        return physical_name(self.spec.project, self.spec.env, name, kind).name

    def bucket_name(self, purpose: str) -> str:
        account = self.spec.account or "account"
        wanted = f"{self.spec.project}-{self.spec.env}-{purpose}-{account}"
        return fit(wanted, BUCKET_NAME_LIMIT)

    def role_name(self, component: Component) -> str:
        kind = component.kind.replace("_", "-")
        wanted = f"{self.spec.project}-{self.spec.env}-{kind}-{component.name}"
        return fit(wanted, IAM_ROLE_NAME_LIMIT)

    @functools.cached_property
    def endpoints_by_model(self) -> dict[str, tuple[Endpoint, ...]]:
        """Model name -> the endpoints serving it, in spec order (asked once per model and
        per registering step, so looked up rather than searched)."""
        found: dict[str, list[Endpoint]] = {}
        for endpoint in self.spec.endpoints.values():
            found.setdefault(endpoint.model, []).append(endpoint)
        return {model: tuple(endpoints) for model, endpoints in found.items()}

    # -- shared resources -------------------------------------------------------------------

    @property
    def kms_key(self) -> Ref | str | None:
        """The KMS key everything that can encrypt uses: created, given by ARN, or none."""
        setting = self.spec.security.kms_key
        if setting == "create":
            return Ref(KMS_KEY, "arn")
        if setting and setting != "none":
            return setting
        return None

    def bucket(self, purpose: str, attribute: str = "bucket") -> Ref:
        return Ref(f"bucket.{purpose}", attribute)

    def s3_uri(self, purpose: str, *parts: str) -> Concat:
        """`s3://<bucket>/<parts>` of a bucket the program creates, known when it runs."""
        key = "/".join(parts)
        return Concat(("s3://", self.bucket(purpose), f"/{key}" if key else ""))

    # -- tags and sources -------------------------------------------------------------------

    def tags(self, component: Component | None = None) -> MappingProxyType:
        tags = dict(self.spec.tags)
        tags["mlinfra:project"] = self.spec.project
        tags["mlinfra:environment"] = self.spec.env
        if component is not None:
            tags["mlinfra:component"] = component.address
        return MappingProxyType(tags)

    def resource(
        self,
        address: str,
        type_: str,
        properties: dict[str, Any],
        source: SourceRange | None,
        depends_on: tuple[str, ...] = (),
        replace_on_change: bool = False,
    ) -> Resource:
        return Resource(address, type_, freeze(properties), source, depends_on, replace_on_change)
