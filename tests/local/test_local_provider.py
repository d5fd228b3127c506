"""The local providers against a real emulator: what a local apply does, resource by resource.

Each test lowers a spec for its `local` environment, then creates the graph's resources in
order through `LocalProvider`, resolving Refs and Calls as the embedded engine does, and
checks the result with boto3 as application code would see it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shop import ENDPOINT, LATEST_APPROVED, graph_of, predict, register_version, shop_spec

from mlinfra.emulator.access import Access
from mlinfra.engines.providers.local import LocalProvider, ProviderError, diff
from mlinfra.engines.providers.values import resolve
from mlinfra.ir.graph import Ref, ResourceGraph
from mlinfra.ir.local import api


def apply(graph: ResourceGraph, provider: LocalProvider, outputs=None) -> dict[str, dict]:
    """Create in dependency order each resource not yet in `outputs`; outputs by address."""
    outputs = dict(outputs or {})
    for resource in graph.resources:
        if resource.address not in outputs:
            inputs = resolve(resource.properties, output_of(outputs), provider.call)
            outputs[resource.address] = provider.create(resource.type, inputs)
    return outputs


def output_of(outputs: dict):
    return lambda ref: outputs[ref.address][ref.attribute]


def inputs_of(graph: ResourceGraph, outputs: dict, provider: LocalProvider) -> dict[str, dict]:
    return {
        r.address: resolve(r.properties, output_of(outputs), provider.call) for r in graph.resources
    }


def test_lowered_local_graph_is_emulator_requests(project: Path) -> None:
    graph = graph_of(project, shop_spec())
    assert [(r.address, r.type) for r in graph.resources] == [
        ("feature_store.customers", api.FEATURE_GROUP),
        ("model.scorer/registry", api.MODEL_PACKAGE_GROUP),
        ("model.scorer", api.MODEL),
        ("endpoint.scorer-api/config", api.ENDPOINT_CONFIG),
        ("endpoint.scorer-api", api.ENDPOINT),
    ]
    group = graph.get("feature_store.customers").properties
    assert group["FeatureGroupName"] == "shop-local-customers"
    assert dict(group["OnlineStoreConfig"]["TtlDuration"]) == {"Unit": "Days", "Value": 30}
    model = graph.get("model.scorer").properties
    assert model["PrimaryContainer"]["ModelDataUrl"] == "models/a/model.joblib"
    assert model["ModelName"].startswith("shop-local-scorer-")
    config = graph.get("endpoint.scorer-api/config").properties
    assert config["ProductionVariants"][0]["ModelName"] == Ref("model.scorer", "name")
    assert graph.outputs["endpoint.scorer-api"] == ENDPOINT
    tags = {t["Key"]: t["Value"] for t in graph.get("endpoint.scorer-api").properties["Tags"]}
    assert tags == {
        "team": "growth",
        "mlinfra:project": "shop",
        "mlinfra:environment": "local",
        "mlinfra:component": "endpoint.scorer-api",
    }


def test_changed_artifact_is_a_new_model_and_config(project: Path) -> None:
    first = graph_of(project, shop_spec())
    second = graph_of(project, shop_spec("artifact: models/b/model.joblib"))
    for address in ("model.scorer", "endpoint.scorer-api/config"):
        assert first.get(address).properties != second.get(address).properties
    endpoint = "endpoint.scorer-api"
    assert first.get(endpoint).properties == second.get(endpoint).properties


def test_apply_serves_update_moves_endpoint_delete_cleans_up(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    graph = graph_of(project, shop_spec())
    outputs = apply(graph, provider)

    endpoint = outputs["endpoint.scorer-api"]
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["arn"].endswith(f":endpoint/{ENDPOINT}")
    assert predict(emulator, b"3,0,0\n-3,0,0\n") == [1, 0]
    sagemaker = provider.client
    group = sagemaker.describe_feature_group(FeatureGroupName="shop-local-customers")
    assert group["OnlineStoreConfig"]["TtlDuration"] == {"Unit": "Days", "Value": 30}

    # A new artifact: a new model and configuration; the endpoint changes in place.
    old_inputs = inputs_of(graph, outputs, provider)
    changed = graph_of(project, shop_spec("artifact: models/b/model.joblib"))
    for address in ("model.scorer", "endpoint.scorer-api/config"):
        resource = changed.get(address)
        new = resolve(resource.properties, output_of(outputs), provider.call)
        assert diff(resource.type, old_inputs[address], new).replace
        outputs[address] = provider.create(resource.type, new)
    new_endpoint = resolve(
        changed.get("endpoint.scorer-api").properties, output_of(outputs), provider.call
    )
    change = diff(api.ENDPOINT, old_inputs["endpoint.scorer-api"], new_endpoint)
    assert change.changed == ("EndpointConfigName",) and not change.replace
    provider.update(api.ENDPOINT, old_inputs["endpoint.scorer-api"], new_endpoint)
    assert predict(emulator, b"0,3,0\n0,-3,0\n") == [1, 0]  # model b reads column 1
    # The old configuration and model go after the endpoint has moved.
    provider.delete(api.ENDPOINT_CONFIG, old_inputs["endpoint.scorer-api/config"])
    provider.delete(api.MODEL, old_inputs["model.scorer"])
    assert provider.read(api.MODEL, old_inputs["model.scorer"]["ModelName"]) is None

    # Tags change in place, through AddTags and DeleteTags.
    retagged = dict(new_endpoint, Tags=[{"Key": "team", "Value": "search"}])
    assert not diff(api.ENDPOINT, new_endpoint, retagged).replace
    provider.update(api.ENDPOINT, new_endpoint, retagged)
    arn = outputs["endpoint.scorer-api"]["arn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "search"}]

    for resource in reversed(changed.resources):
        inputs = resolve(resource.properties, output_of(outputs), provider.call)
        provider.delete(resource.type, inputs)
        provider.delete(resource.type, inputs)  # already gone: not an error
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_feature_groups()["FeatureGroupSummaries"] == []


def test_latest_approved_resolves_in_the_emulator_registry(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    graph = graph_of(project, shop_spec(LATEST_APPROVED))
    registry, model = graph.get("model.scorer/registry"), graph.get("model.scorer")
    # Before the group exists (a first apply), as after: no approved version yet.
    with pytest.raises(ProviderError, match="no approved version in the emulator: register"):
        resolve(model.properties, None, provider.call)
    created = provider.create(registry.type, resolve(registry.properties, None, provider.call))
    with pytest.raises(ProviderError, match="no approved version in the emulator"):
        resolve(model.properties, None, provider.call)

    register_version(emulator, "models/a/model.joblib")
    arn = register_version(emulator, "models/b/model.joblib")
    outputs = apply(graph, provider, {registry.address: created})
    assert outputs["model.scorer"]["name"].endswith("-v2")
    assert outputs["model.scorer"]["PrimaryContainer"]["ModelPackageName"] == arn
    assert outputs["endpoint.scorer-api/config"]["name"].endswith("-v2")
    assert predict(emulator, b"0,3,0\n") == [1]
    assert provider.call("model_package_arn", ("shop-local-scorers", 2)) == arn
    with pytest.raises(ProviderError, match="has no version 7"):
        provider.call("model_package_arn", ("shop-local-scorers", 7))


def test_failed_endpoint_says_why_and_leaves_nothing(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    (project / "models" / "broken.joblib").write_bytes(b"not a model")
    graph = graph_of(project, shop_spec("artifact: models/broken.joblib"))
    with pytest.raises(ProviderError, match="failed to deploy"):
        apply(graph, provider)
    assert provider.read(api.ENDPOINT, ENDPOINT) is None


def test_duplicate_create_is_a_clear_error(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    group = graph_of(project, shop_spec()).get("feature_store.customers")
    inputs = json.loads(json.dumps(resolve(group.properties, None, provider.call)))
    provider.create(group.type, inputs)
    with pytest.raises(ProviderError, match="shop-local-customers: ResourceInUse"):
        provider.create(group.type, inputs)


def test_a_feature_group_loses_its_ttl_and_throughput_in_place(project: Path, emulator) -> None:
    provider = LocalProvider.for_access(Access.for_server(emulator))
    throughput = "ttl: 30d, throughput: {mode: provisioned, read_units: 4, write_units: 2}"
    group = graph_of(project, shop_spec().replace("ttl: 30d", throughput))
    old = resolve(group.get("feature_store.customers").properties, None, provider.call)
    provider.create(api.FEATURE_GROUP, old)
    plain = graph_of(project, shop_spec().replace("enabled: true, ttl: 30d", "enabled: true"))
    new = resolve(plain.get("feature_store.customers").properties, None, provider.call)
    assert not diff(api.FEATURE_GROUP, old, new).replace
    provider.update(api.FEATURE_GROUP, old, new)
    found = provider.client.describe_feature_group(FeatureGroupName="shop-local-customers")
    assert "TtlDuration" not in found["OnlineStoreConfig"]
    assert found["ThroughputConfig"] == {"ThroughputMode": "OnDemand"}
    assert provider.refresh(api.FEATURE_GROUP, new) == new  # no drift after the update
