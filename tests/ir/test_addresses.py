"""Typed addresses: every address lowering makes parses into its kind, name and part and
prints back to the same text; malformed text is refused, by the parser and by the graph."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from mlinfra.diagnostics import Position, SourceRange
from mlinfra.ir.addresses import Address, AddressError
from mlinfra.ir.graph import GraphError, Resource, build_graph, freeze
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
KINDS = {"bucket", "kms", "feature_store", "model", "pipeline", "endpoint", "monitor", "batch_job"}


@functools.cache
def graphs():
    spec = validate_file(str(EXAMPLE / "mlinfra.yaml"))
    return [lower(env, EXAMPLE) for env in spec.environments.values()]


def test_every_address_of_the_example_prints_back_as_it_was_written():
    for graph in graphs():
        for resource in graph.resources:
            address = resource.addr
            assert str(address) == resource.address
            assert str(address.component) == resource.component
            assert address.kind in KINDS


def test_an_address_is_its_kind_name_and_part():
    config = Address.parse("endpoint.churn-api/config")
    assert (config.kind, config.name, config.part) == ("endpoint", "churn-api", "config")
    assert config.component == Address("endpoint", "churn-api")
    assert Address.parse("endpoint.churn-api").joinpath("config") == config
    assert Address.parse("kms.key").component == Address("kms", "key")
    assert Address.parse("pipeline.p/script-train").part == "script-train"


@pytest.mark.parametrize("text", ["", "endpoint", ".x", "endpoint.", "endpoint.x/", "/config"])
def test_text_that_is_not_an_address_is_refused(text):
    with pytest.raises(AddressError, match="is not a resource address"):
        Address.parse(text)


def test_a_graph_refuses_a_malformed_address():
    where = SourceRange("mlinfra.yaml", Position(1, 1), Position(1, 2))
    broken = Resource("endpoint", "aws.sagemaker.Endpoint", freeze({}), where)
    with pytest.raises(GraphError, match="'endpoint' is not a resource address"):
        build_graph("churn", "dev", "sagemaker", "us-east-1", [broken])
