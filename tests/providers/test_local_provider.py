"""The local providers against a real emulator: what a local apply does, resource by resource.

Each test lowers a spec for its `local` environment, then creates the graph's resources in
order through `LocalProvider`, resolving Refs and Calls as the embedded engine will, and
checks the result with boto3 as application code would see it.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from mlinfra.ir.graph import Ref, ResourceGraph
from mlinfra.ir.local import api
from mlinfra.ir.lower import lower
from mlinfra.providers.local import LocalProvider, ProviderError, diff
from mlinfra.providers.values import resolve
from mlinfra.spec.validate import validate_file

SPEC = """\
version: 1
project: shop
defaults:
  tags: {team: growth}
environments:
  local:
    target: local
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features: {customer_id: string, event_time: string, spend: fractional}
    online: {enabled: true, ttl: 30d}
models:
  scorer:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: ARTIFACT
endpoints:
  scorer-api:
    model: scorer
    instance_type: ml.m5.large
    data_capture: {sampling_percent: 100}
"""

REGISTRY_SPEC = """\
version: 1
project: shop
environments:
  local:
    target: local
models:
  scorer:
    registry_group: scorers
    framework: sklearn
    framework_version: "1.2-1"
    version: latest-approved
endpoints:
  scorer-api:
    model: scorer
    instance_type: ml.m5.large
"""


def graph_of(project: Path, text: str) -> ResourceGraph:
    spec_file = project / "mlinfra.yaml"
    spec_file.write_text(text)
    result = validate_file(spec_file)
    assert result.ok, [d.summary for d in result.diagnostics]
    return lower(result.environments["local"], project)


def apply(graph: ResourceGraph, provider: LocalProvider, outputs=None) -> dict[str, dict]:
    """Create in dependency order each resource not yet in `outputs`; outputs by address."""
    outputs = dict(outputs or {})
    for resource in graph.resources:
        if resource.address in outputs:
            continue
        inputs = resolve(
            resource.properties, lambda r: outputs[r.address][r.attribute], provider.call
        )
        outputs[resource.address] = provider.create(resource.type, inputs)
    return outputs


def inputs_of(graph: ResourceGraph, outputs: dict, provider: LocalProvider) -> dict[str, dict]:
    return {
        r.address: resolve(
            r.properties, lambda ref: outputs[ref.address][ref.attribute], provider.call
        )
        for r in graph.resources
    }


def classes(answer) -> list[int]:
    """The predicted classes of a CSV answer of positive-class probabilities."""
    return [round(float(p)) for p in answer["Body"].read().decode().split()]


def runtime(url: str):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_lowered_local_graph_is_emulator_requests(project: Path) -> None:
    graph = graph_of(project, SPEC.replace("ARTIFACT", "models/a/model.joblib"))
    assert [(r.address, r.type) for r in graph.resources] == [
        ("feature_store.customers", api.FEATURE_GROUP),
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
    assert graph.outputs["endpoint.scorer-api"] == "shop-local-scorer-api"
    tags = {t["Key"]: t["Value"] for t in graph.get("endpoint.scorer-api").properties["Tags"]}
    assert tags == {
        "team": "growth",
        "mlinfra:project": "shop",
        "mlinfra:environment": "local",
        "mlinfra:component": "endpoint.scorer-api",
    }


def test_changed_artifact_is_a_new_model_and_config(project: Path) -> None:
    first = graph_of(project, SPEC.replace("ARTIFACT", "models/a/model.joblib"))
    second = graph_of(project, SPEC.replace("ARTIFACT", "models/b/model.joblib"))
    for address in ("model.scorer", "endpoint.scorer-api/config"):
        assert first.get(address).properties != second.get(address).properties
    assert (
        first.get("endpoint.scorer-api").properties == second.get("endpoint.scorer-api").properties
    )


def test_apply_serves_update_moves_endpoint_delete_cleans_up(project: Path, emulator) -> None:
    provider = LocalProvider.for_url(emulator.url, "us-east-1")
    graph = graph_of(project, SPEC.replace("ARTIFACT", "models/a/model.joblib"))
    outputs = apply(graph, provider)

    endpoint = outputs["endpoint.scorer-api"]
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["arn"].endswith(":endpoint/shop-local-scorer-api")
    client = runtime(emulator.url)
    answer = client.invoke_endpoint(
        EndpointName="shop-local-scorer-api", ContentType="text/csv", Body=b"3,0,0\n-3,0,0\n"
    )
    assert classes(answer) == [1, 0]
    sagemaker = provider.client
    group = sagemaker.describe_feature_group(FeatureGroupName="shop-local-customers")
    assert group["OnlineStoreConfig"]["TtlDuration"] == {"Unit": "Days", "Value": 30}

    # A new artifact: a new model and configuration; the endpoint changes in place.
    old_inputs = inputs_of(graph, outputs, provider)
    changed = graph_of(project, SPEC.replace("ARTIFACT", "models/b/model.joblib"))
    for address in ("model.scorer", "endpoint.scorer-api/config"):
        resource = changed.get(address)
        new = resolve(resource.properties, lambda r: outputs[r.address][r.attribute], provider.call)
        assert diff(resource.type, old_inputs[address], new).replace
        outputs[address] = provider.create(resource.type, new)
    endpoint_resource = changed.get("endpoint.scorer-api")
    new_endpoint = resolve(
        endpoint_resource.properties, lambda r: outputs[r.address][r.attribute], provider.call
    )
    change = diff(api.ENDPOINT, old_inputs["endpoint.scorer-api"], new_endpoint)
    assert change.changed == ("EndpointConfigName",) and not change.replace
    provider.update(api.ENDPOINT, old_inputs["endpoint.scorer-api"], new_endpoint)
    answer = client.invoke_endpoint(
        EndpointName="shop-local-scorer-api", ContentType="text/csv", Body=b"0,3,0\n0,-3,0\n"
    )
    assert classes(answer) == [1, 0]  # model b reads column 1
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
        inputs = resolve(
            resource.properties, lambda r: outputs[r.address][r.attribute], provider.call
        )
        provider.delete(resource.type, inputs)
        provider.delete(resource.type, inputs)  # already gone: not an error
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_feature_groups()["FeatureGroupSummaries"] == []


def test_latest_approved_resolves_in_the_emulator_registry(project: Path, emulator) -> None:
    provider = LocalProvider.for_url(emulator.url, "us-east-1")
    graph = graph_of(project, REGISTRY_SPEC)
    registry, model = graph.resources[0], graph.get("model.scorer")
    assert registry.type == api.MODEL_PACKAGE_GROUP
    created = provider.create(registry.type, resolve(registry.properties, None, provider.call))
    with pytest.raises(ProviderError, match="no approved version in the emulator"):
        resolve(model.properties, None, provider.call)

    sagemaker = provider.client
    for artifact in ("models/a/model.joblib", "models/b/model.joblib"):
        arn = sagemaker.create_model_package(
            ModelPackageGroupName="shop-local-scorers",
            InferenceSpecification={
                "Containers": [{"Image": "sklearn", "ModelDataUrl": artifact}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    outputs = apply(graph, provider, {registry.address: created})
    assert outputs["model.scorer"]["name"].endswith("-v2")
    assert outputs["model.scorer"]["PrimaryContainer"]["ModelPackageName"] == arn
    assert outputs["endpoint.scorer-api/config"]["name"].endswith("-v2")
    answer = runtime(emulator.url).invoke_endpoint(
        EndpointName="shop-local-scorer-api", ContentType="text/csv", Body=b"0,3,0\n"
    )
    assert classes(answer) == [1]
    assert provider.call("model_package_arn", ("shop-local-scorers", 2)) == arn
    with pytest.raises(ProviderError, match="has no version 7"):
        provider.call("model_package_arn", ("shop-local-scorers", 7))


def test_failed_endpoint_says_why_and_leaves_nothing(project: Path, emulator) -> None:
    provider = LocalProvider.for_url(emulator.url, "us-east-1")
    (project / "models" / "broken.joblib").write_bytes(b"not a model")
    graph = graph_of(project, SPEC.replace("ARTIFACT", "models/broken.joblib"))
    with pytest.raises(ProviderError, match="failed to deploy"):
        apply(graph, provider)
    assert provider.read(api.ENDPOINT, "shop-local-scorer-api") is None


def test_duplicate_create_is_a_clear_error(project: Path, emulator) -> None:
    provider = LocalProvider.for_url(emulator.url, "us-east-1")
    graph = graph_of(project, SPEC.replace("ARTIFACT", "models/a/model.joblib"))
    group = graph.get("feature_store.customers")
    inputs = json.loads(json.dumps(resolve(group.properties, None, provider.call)))
    provider.create(group.type, inputs)
    with pytest.raises(ProviderError, match="shop-local-customers: ResourceInUse"):
        provider.create(group.type, inputs)
