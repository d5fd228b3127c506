"""The local providers as Pulumi dynamic providers: what a rendered local program imports.

A local environment's `__main__.py` says which spec's emulator it deploys into
(`use_emulator`), then declares each resource with the class of its type, with the SageMaker
request as keyword arguments:

    local.use_emulator("../../mlinfra.yaml", region="us-east-1")
    endpoint_x = local.Endpoint("endpoint.x", EndpointName="p-local-x", ...)

Each class registers a Pulumi dynamic resource whose provider calls `LocalProvider`, the
same code the embedded engine runs, so `pulumi up` on a local stack and `mlinfra apply`
create the same things. The emulator is found (or started) beside the spec when a provider
first acts, so previews of unchanged stacks do not need it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import pulumi
from pulumi import dynamic

from mlinfra.engines.providers.local import KINDS, OUTPUT_FIELDS, LocalProvider, diff
from mlinfra.ir.local import api

_TARGET: dict[str, str] = {}


def use_emulator(spec_file: str, region: str) -> None:
    """Deploy into the emulator of `spec_file`'s folder (relative to the program's folder)."""
    _TARGET["spec_file"] = os.path.abspath(spec_file)
    _TARGET["region"] = region


def _target() -> tuple[str, str]:
    if "spec_file" not in _TARGET:
        raise RuntimeError("call local.use_emulator(spec_file, region) before declaring resources")
    return _TARGET["spec_file"], _TARGET["region"]


class _Provider(dynamic.ResourceProvider):
    """One resource type's create/diff/update/delete/read, through `LocalProvider`.

    Pulumi stores this object (pickled) in the stack's state, so it holds plain text only.
    """

    def __init__(self, type_: str, spec_file: str, region: str) -> None:
        self.type_ = type_
        self.spec_file = spec_file
        self.region = region

    def _local(self) -> LocalProvider:
        return LocalProvider.for_spec(self.spec_file, self.region)

    def _name(self, props: dict[str, Any]) -> str:
        return props[KINDS[self.type_].name_field]

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        outputs = self._local().create(self.type_, _inputs(props))
        return dynamic.CreateResult(id_=self._name(props), outs=outputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        change = diff(self.type_, _inputs(olds), _inputs(news))
        same_name = self._name(olds) == self._name(news)
        return dynamic.DiffResult(
            changes=change.any,
            replaces=list(change.changed) if change.replace else [],
            # A replacement under the same name must delete the old one first; one under
            # a new name (hashed models and configs) creates the new one first.
            delete_before_replace=change.replace and same_name,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=self._local().update(self.type_, olds, _inputs(news)))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._local().delete(self.type_, _inputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        found = self._local().read(self.type_, id_)
        if found is None:
            return dynamic.ReadResult(id_=None, outs={})
        return dynamic.ReadResult(id_=id_, outs=props)


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    # Pulumi hands back the declared outputs (None until created) beside the inputs.
    return {k: v for k, v in props.items() if k not in OUTPUT_FIELDS and k != "__provider"}


class LocalResource(dynamic.Resource):
    """A resource of the local emulator; `name` and `arn` are known once it exists."""

    TYPE = ""
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **properties: Any
    ) -> None:
        spec_file, region = _target()
        outputs = dict.fromkeys(OUTPUT_FIELDS)
        super().__init__(
            _Provider(self.TYPE, spec_file, region),
            resource_name,
            {**properties, **outputs},
            opts,
        )


class Model(LocalResource):
    TYPE = api.MODEL


class EndpointConfig(LocalResource):
    TYPE = api.ENDPOINT_CONFIG


class Endpoint(LocalResource):
    TYPE = api.ENDPOINT


class FeatureGroup(LocalResource):
    TYPE = api.FEATURE_GROUP


class ModelPackageGroup(LocalResource):
    TYPE = api.MODEL_PACKAGE_GROUP


class Pipeline(LocalResource):
    TYPE = api.PIPELINE


class MonitoringSchedule(LocalResource):
    TYPE = api.MONITORING_SCHEDULE


class MetricAlarm(LocalResource):
    TYPE = api.METRIC_ALARM


class ScalableTarget(LocalResource):
    TYPE = api.SCALABLE_TARGET


class ScalingPolicy(LocalResource):
    TYPE = api.SCALING_POLICY


# --- values known when the program runs ---------------------------------------------------


def latest_approved_model_package(group: str) -> str:
    return _call("latest_approved_model_package", group)


def latest_approved_version(group: str) -> str:
    return _call("latest_approved_version", group)


def model_package_arn(group: str, version: int | str) -> str:
    return _call("model_package_arn", group, version)


@functools.cache  # once per run, so a version and its ARN always agree
def _call(function: str, *args: Any) -> Any:
    spec_file, region = _target()
    return LocalProvider.for_spec(spec_file, region).call(function, args)
