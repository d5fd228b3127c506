"""The requests components are lowered to are SageMaker API requests: every field of every
local resource of the example is a member of botocore's request shape for the operation that
creates it (the emulator checks values too, when it takes them), and the SageMaker target's
resources read back as the same requests' fields."""

from __future__ import annotations

import functools
from pathlib import Path
from types import MappingProxyType

import botocore.session
import pytest

from mlinfra.engines.providers.services import CALLS
from mlinfra.ir.graph import Json
from mlinfra.ir.local.api import TYPES
from mlinfra.ir.lower import lower
from mlinfra.ir.sagemaker.fields import TABLES, request_of
from mlinfra.sagemaker.resources import kind_of
from mlinfra.spec.validate import validate_file

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"


@functools.cache
def graph(env: str):
    return lower(validate_file(str(EXAMPLE / "mlinfra.yaml")).environments[env], EXAMPLE)


def strays(value, shape, where: str):
    """The fields of `value` that `shape` does not have, by path."""
    if isinstance(value, Json):
        return  # a document sent as JSON text (a pipeline definition): checked on its own
    if shape.type_name == "structure" and isinstance(value, dict | MappingProxyType):
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                yield f"{where}.{key}"
            else:
                yield from strays(item, member, f"{where}.{key}")
    elif shape.type_name == "list" and isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from strays(item, shape.member, f"{where}[{i}]")


@functools.cache
def model(api: str = "sagemaker"):
    return botocore.session.get_session().get_service_model(api)


def operation_of(type_: str) -> tuple[str, str]:
    """The API and operation that create a local resource type."""
    kind = kind_of(type_)
    if kind.api == "sagemaker":
        return "sagemaker", "Create" + kind.noun
    # The emulator's other APIs: the one call that creates it (PutMetricAlarm...).
    put = CALLS[type_].put
    return kind.api, "".join(part.title() for part in put.split("_"))


def test_every_local_request_is_in_the_shape_of_its_create_operation():
    resources = graph("local").resources
    assert {r.type for r in resources} == set(TYPES)  # the example has every kind
    for resource in resources:
        api, name = operation_of(resource.type)
        shape = model(api).operation_model(name).input_shape
        assert list(strays(resource.properties, shape, name)) == [], resource.address


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_sagemaker_targets_resources_read_back_as_requests_of_the_same_shapes(env):
    found = [r for r in graph(env).resources if r.type in TABLES]
    assert {r.type for r in found} >= {
        "aws.sagemaker.Model",
        "aws.sagemaker.EndpointConfiguration",
        "aws.sagemaker.Endpoint",
        "aws.sagemaker.FeatureGroup",
        "aws.sagemaker.ModelPackageGroup",
        "aws.sagemaker.Pipeline",
    }
    for resource in found:
        table = TABLES[resource.type]
        request = request_of(resource.type, resource.properties)
        shape = model().operation_model(table.operation).input_shape
        assert list(strays(request, shape, table.operation)) == [], resource.address
