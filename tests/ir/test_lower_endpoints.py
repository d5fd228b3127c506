"""Endpoints (configuration, SLO alarms, deployments, autoscaling), and the SageMaker
environment as the environment, model and endpoint lowerings build it together."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pulumi
import pulumi_aws
import pytest

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, build_graph
from mlinfra.ir.sagemaker import environment, models
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.endpoints import has_instance_storage, lower_endpoint
from mlinfra.spec.validate import validate_file
from typed_specs import changed, plain, with_settings

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
ENDPOINT = "endpoint.churn-api"
MODEL = "model.churn-model"
MLINFRA_TAGS = ("mlinfra:project", "mlinfra:environment", "mlinfra:component")
# Importing pulumi_aws.s3 defines its deprecated V2 classes, which warn as they are defined.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

# The registry lookup of prod's model: its group, and the endpoint that keeps what it
# serves while the group has no approved version.
LOOKUP = ("churn-prod-churn", "churn-prod-churn-api")


@functools.cache
def churn_spec(env: str):
    return validate_file(str(CHURN / "mlinfra.yaml")).environments[env]


def spec_with(env: str, endpoint: dict | None = None, model: dict | None = None, **settings):
    """The churn spec of `env` with the endpoint's or model's fields, or its settings, changed."""
    spec = changed(churn_spec(env), ENDPOINT, **(endpoint or {}))
    spec = changed(spec, MODEL, **(model or {}))
    return with_settings(spec, **settings) if settings else spec


def lowered(spec) -> dict:
    ctx = LoweringContext(spec, CHURN)
    return {r.address: r for r in lower_endpoint(ctx, spec.component(ENDPOINT))}


def config_name(spec) -> str:
    return lowered(spec)[f"{ENDPOINT}/config"].properties["name"]


def fields(args: Args) -> dict:
    return dict(args.fields)


# --- the configuration ------------------------------------------------------------------------


def test_endpoint_lowers_to_config_alarms_endpoint_and_scaling():
    assert {a: r.type for a, r in lowered(churn_spec("prod")).items()} == {
        f"{ENDPOINT}/config": "aws.sagemaker.EndpointConfiguration",
        f"{ENDPOINT}/alarm-latency": "aws.cloudwatch.MetricAlarm",
        f"{ENDPOINT}/alarm-errors": "aws.cloudwatch.MetricAlarm",
        ENDPOINT: "aws.sagemaker.Endpoint",
        f"{ENDPOINT}/scaling-target": "aws.appautoscaling.Target",
        f"{ENDPOINT}/scaling-policy": "aws.appautoscaling.Policy",
    }


def test_prod_config_serves_the_model_encrypted_and_captures_20_percent():
    config = lowered(churn_spec("prod"))[f"{ENDPOINT}/config"]
    (variant,) = config.properties["production_variants"]
    assert fields(variant) == {
        "variant_name": "primary",
        "model_name": Ref(MODEL, "name"),
        "initial_instance_count": 2,
        "instance_type": "ml.m5.large",
        "initial_variant_weight": 1.0,
    }
    assert config.properties["kms_key_arn"] == Ref("kms.key", "arn")
    capture = fields(config.properties["data_capture_config"])
    assert capture["enable_capture"] is True
    assert capture["initial_sampling_percentage"] == 20
    assert capture["destination_s3_uri"] == Concat(
        ("s3://", Ref("bucket.capture", "bucket"), "/churn-prod-churn-api")
    )
    assert [fields(o) for o in capture["capture_options"]] == [
        {"capture_mode": "Input"},
        {"capture_mode": "Output"},
    ]
    assert capture["kms_key_id"] == Ref("kms.key", "arn")


def test_dev_config_has_no_kms_key():
    config = lowered(churn_spec("dev"))[f"{ENDPOINT}/config"].properties
    assert "kms_key_arn" not in config
    assert "kms_key_id" not in fields(config["data_capture_config"])


def test_no_kms_key_for_instance_types_with_instance_storage():
    # CreateEndpointConfig rejects a KMS key for instances with NVMe instance storage.
    assert all(map(has_instance_storage, ["ml.m5d.large", "ml.g4dn.xlarge", "ml.g5.xlarge"]))
    assert not any(map(has_instance_storage, ["ml.m5.large", "ml.c5n.xlarge", "ml.t2.medium"]))
    config = lowered(spec_with("prod", {"instance_type": "ml.g4dn.xlarge"}))
    assert "kms_key_arn" not in config[f"{ENDPOINT}/config"].properties


def test_disabled_data_capture_is_left_out():
    spec = spec_with("prod", {"data_capture": {"enabled": False}})
    assert "data_capture_config" not in lowered(spec)[f"{ENDPOINT}/config"].properties


def test_config_name_carries_a_content_hash_and_is_replaced_not_updated():
    config = lowered(churn_spec("prod"))[f"{ENDPOINT}/config"]
    # churn serves the registry's latest approved version: it is in the name when it runs.
    static, separator, version = config.properties["name"].parts
    assert re.fullmatch(r"churn-prod-churn-api-[0-9a-f]{8}", static)
    assert (separator, version) == ("-v", Call("latest_approved_version", LOOKUP))
    assert config.replace_on_change is True
    assert config_name(churn_spec("prod")) == config.properties["name"]


def test_config_name_changes_with_the_instance_type_but_not_otherwise():
    name = config_name(churn_spec("prod"))
    assert config_name(spec_with("prod", {"instance_type": "ml.c5.xlarge"})) != name
    assert config_name(spec_with("prod", {"instance_count": 3})) != name
    # What lives outside the configuration does not make a new one.
    unrelated = {
        "autoscaling": {"min": 3, "max": 9},
        "slo": {"latency_p99_ms": 100},
        "deployment": {"strategy": "linear"},
        "description": "another description",
    }
    assert config_name(spec_with("prod", unrelated)) == name


def test_config_name_changes_when_the_model_changes():
    name = config_name(churn_spec("prod"))
    assert config_name(spec_with("prod", model={"version": 4})) != name


# --- deployments and alarms -------------------------------------------------------------------


def test_canary_deployment_rolls_back_on_the_slo_alarms():
    endpoint = lowered(churn_spec("prod"))[ENDPOINT].properties
    assert endpoint["name"] == "churn-prod-churn-api"
    assert endpoint["endpoint_config_name"] == Ref(f"{ENDPOINT}/config", "name")
    deployment = fields(endpoint["deployment_config"])
    routing = fields(
        fields(deployment["blue_green_update_policy"])["traffic_routing_configuration"]
    )
    assert routing["type"] == "CANARY"
    assert routing["wait_interval_in_seconds"] == 600
    assert fields(routing["canary_size"]) == {"type": "CAPACITY_PERCENT", "value": 10}
    alarms = fields(deployment["auto_rollback_configuration"])["alarms"]
    assert [fields(a) for a in alarms] == [
        {"alarm_name": Ref(f"{ENDPOINT}/alarm-latency", "name")},
        {"alarm_name": Ref(f"{ENDPOINT}/alarm-errors", "name")},
    ]


def test_linear_deployment_shifts_in_steps():
    deployment = {"strategy": "linear", "linear_step_percent": 25}
    endpoint = lowered(spec_with("prod", {"deployment": deployment}))[ENDPOINT].properties
    policy = fields(endpoint["deployment_config"])["blue_green_update_policy"]
    routing = fields(fields(policy)["traffic_routing_configuration"])
    assert routing["type"] == "LINEAR"
    assert fields(routing["linear_step_size"]) == {"type": "CAPACITY_PERCENT", "value": 25}
    assert "auto_rollback_configuration" not in fields(endpoint["deployment_config"])


def test_all_at_once_without_rollback_is_sagemakers_default():
    deployment = {"strategy": "all_at_once"}
    endpoint = lowered(spec_with("prod", {"deployment": deployment}))[ENDPOINT]
    assert "deployment_config" not in endpoint.properties


def test_latency_alarm_watches_p99_model_latency_in_microseconds():
    alarm = lowered(churn_spec("prod"))[f"{ENDPOINT}/alarm-latency"].properties
    assert alarm["name"] == "churn-prod-churn-api-latency-p99"
    assert alarm["namespace"] == "AWS/SageMaker"
    assert alarm["metric_name"] == "ModelLatency"
    assert alarm["extended_statistic"] == "p99"
    assert alarm["threshold"] == 250_000
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert dict(alarm["dimensions"]) == {
        "EndpointName": "churn-prod-churn-api",
        "VariantName": "primary",
    }


def test_error_alarm_is_the_5xx_percentage_of_invocations():
    alarm = lowered(churn_spec("prod"))[f"{ENDPOINT}/alarm-errors"].properties
    assert alarm["threshold"] == 1.0
    queries = {fields(q)["id"]: fields(q) for q in alarm["metric_queries"]}
    assert queries["error_rate"]["expression"] == "100 * errors / invocations"
    assert queries["error_rate"]["return_data"] is True
    assert fields(queries["errors"]["metric"])["metric_name"] == "Invocation5XXErrors"
    assert fields(queries["invocations"]["metric"])["metric_name"] == "Invocations"
    assert all(fields(queries[q]["metric"])["stat"] == "Sum" for q in ("errors", "invocations"))
    assert "metric_name" not in alarm  # metric math and a single metric are exclusive


def test_alarms_follow_the_slo_that_is_given():
    spec = spec_with("prod", {"slo": {"error_rate_percent": 2}})
    resources = lowered(spec)
    assert f"{ENDPOINT}/alarm-latency" not in resources
    deployment = fields(resources[ENDPOINT].properties["deployment_config"])
    alarms = fields(deployment["auto_rollback_configuration"])["alarms"]
    assert [fields(a) for a in alarms] == [{"alarm_name": Ref(f"{ENDPOINT}/alarm-errors", "name")}]


# --- autoscaling ------------------------------------------------------------------------------


def test_prod_scales_between_2_and_8_instances_on_invocations():
    resources = lowered(churn_spec("prod"))
    target = resources[f"{ENDPOINT}/scaling-target"].properties
    assert (target["min_capacity"], target["max_capacity"]) == (2, 8)
    assert target["service_namespace"] == "sagemaker"
    assert target["scalable_dimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["resource_id"] == Concat(("endpoint/", Ref(ENDPOINT, "name"), "/variant/primary"))
    policy = resources[f"{ENDPOINT}/scaling-policy"].properties
    assert policy["policy_type"] == "TargetTrackingScaling"
    tracking = fields(policy["target_tracking_scaling_policy_configuration"])
    assert tracking["target_value"] == 200.0
    assert fields(tracking["predefined_metric_specification"]) == {
        "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["scale_in_cooldown"], tracking["scale_out_cooldown"]) == (300, 300)


def test_dev_scales_between_1_and_4_and_no_autoscaling_means_no_scaling_resources():
    target = lowered(churn_spec("dev"))[f"{ENDPOINT}/scaling-target"].properties
    assert (target["min_capacity"], target["max_capacity"]) == (1, 4)
    resources = lowered(spec_with("dev", {"autoscaling": None}))
    assert not any("scaling" in address for address in resources)


# --- the environment as a whole ---------------------------------------------------------------


def lower_all(env: str):
    """The graph of what this lowering owns: environment, models and endpoints."""
    spec = churn_spec(env)
    ctx = LoweringContext(spec, CHURN)
    resources = environment.lower_environment(ctx)
    for component in spec.of_kind("model"):
        resources += models.lower_model(ctx, component)
    for component in spec.of_kind("endpoint"):
        resources += lower_endpoint(ctx, component)
    return build_graph(spec.project, spec.env, spec.target, spec.region, resources)


def test_every_reference_resolves_and_resources_come_dependencies_first():
    for env in ("dev", "prod"):
        graph = lower_all(env)
        seen: set[str] = set()
        for resource in graph.resources:
            assert set(resource.dependencies()) <= seen, resource.address
            seen.add(resource.address)
    addresses = lower_all("prod").addresses()
    assert addresses.index("kms.key") < addresses.index(MODEL) < addresses.index(ENDPOINT)


def test_lowering_is_deterministic():
    assert lower_all("prod") == lower_all("prod")
    assert lower_all("dev") == lower_all("dev")


def _iam_statements(graph) -> list[dict]:
    found = []
    for resource in graph.resources:
        for value in resource.properties.values():
            if isinstance(value, Json) and "Statement" in value.value:
                found.extend(value.value["Statement"])
    return found


def test_no_iam_statement_anywhere_allows_every_action_on_every_resource():
    for env in ("dev", "prod"):
        statements = _iam_statements(lower_all(env))
        assert statements
        for statement in statements:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"]
            actions = (actions,) if isinstance(actions, str) else actions
            resources = statement.get("Resource", ())
            resources = (resources,) if isinstance(resources, str) else resources
            assert not ("*" in actions and "*" in resources), statement


def _pulumi_class(type_: str):
    module, _, name = type_.removeprefix("aws.").rpartition(".")
    return getattr(importlib.import_module(f"pulumi_aws.{module}"), name)


def test_every_taggable_resource_carries_the_three_mlinfra_tags():
    for env in ("dev", "prod"):
        for resource in lower_all(env).resources:
            accepts = inspect.signature(_pulumi_class(resource.type)._internal_init).parameters
            if "tags" not in accepts:
                continue
            tags = resource.properties.get("tags")
            assert tags is not None, resource.address
            assert tags["mlinfra:environment"] == env
            assert tags["mlinfra:component"] == resource.component
            assert set(MLINFRA_TAGS) <= set(tags)
            assert {"team", "cost-center"} <= set(tags)


def test_principal_resources_have_deterministic_physical_names():
    names = {
        r.address: r.properties["name"]
        for r in lower_all("prod").resources
        if r.address in (MODEL, ENDPOINT)
    }
    assert names[ENDPOINT] == "churn-prod-churn-api"
    assert re.fullmatch(r"churn-prod-churn-model-[0-9a-f]{8}", names[MODEL].parts[0])


# --- the real pulumi_aws classes accept every property ----------------------------------------
#
# The renderer's tests run whole programs; this is the per-resource guard: each resource is
# built with the real pulumi_aws class (and each Args with its real class) under Pulumi's
# mocks, so a wrong keyword or Args field fails here. Markers are converted crudely: the values
# do not matter to the SDK, only the names and the shapes.


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[tuple[str, str]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append((args.typ, args.name))
        return [f"{args.name}_id", args.inputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def _plain(value: Any) -> Any:
    """A marker-free value for JSON documents."""
    if isinstance(value, Ref):
        return f"ref:{value.address}.{value.attribute}"
    if isinstance(value, Concat):
        return "".join(str(_plain(part)) for part in value.parts)
    if isinstance(value, Call):
        return f"call:{value.function}"
    if isinstance(value, MappingProxyType | dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _to_pulumi(value: Any) -> Any:
    if isinstance(value, Args):
        cls = _pulumi_class(value.type)
        return cls(**{k: _to_pulumi(v) for k, v in value.fields.items()})
    if isinstance(value, Json):
        return json.dumps(_plain(value.value))
    if isinstance(value, FileAsset):
        return pulumi.FileAsset(str(CHURN / value.path))
    if isinstance(value, Ref | Concat | Call):
        return _plain(value)
    if isinstance(value, MappingProxyType | dict):
        return {k: _to_pulumi(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_to_pulumi(v) for v in value]
    return value


def _construct_all(graph, mocks: _Mocks) -> None:
    pulumi.runtime.set_mocks(mocks, project="churn", stack=graph.env, preview=False)

    @pulumi.runtime.test
    def program():
        built = [
            _pulumi_class(r.type)(r.address, **{k: _to_pulumi(v) for k, v in r.properties.items()})
            for r in graph.resources
        ]
        return pulumi.Output.all(*[b.urn for b in built])

    program()


def test_no_resource_type_is_deprecated_in_the_installed_pulumi_aws():
    assert pulumi_aws.__name__ == "pulumi_aws"  # classes are found by dotted name
    types = {r.type for env in ("dev", "prod") for r in lower_all(env).resources}
    for type_ in types:
        cls = _pulumi_class(type_)
        # Deprecated classes (BucketV2, BucketVersioningV2...) log "<Class> is deprecated".
        assert f"{cls.__name__} is deprecated" not in inspect.getsource(cls), type_


def test_every_resource_and_args_is_accepted_by_the_real_pulumi_aws_sdk():
    for env in ("dev", "prod"):
        graph = lower_all(env)
        mocks = _Mocks()
        _construct_all(graph, mocks)
        assert sorted(name for _, name in mocks.registered) == sorted(graph.addresses())
        assert (
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            f"{ENDPOINT}/config",
        ) in mocks.registered


def test_slo_alert_targets_get_a_topic_and_every_slo_alarm_notifies_them():
    slo = plain(churn_spec("prod").component(ENDPOINT))["slo"]
    slo["alert"] = ["email:oncall@example.com", "sns:arn:aws:sns:eu-west-1:222222222222:pager"]
    resources = lowered(spec_with("prod", endpoint={"slo": slo}))
    topic = resources[f"{ENDPOINT}/alerts"]
    assert topic.type == "aws.sns.Topic"
    assert topic.properties["name"] == "churn-prod-churn-api-alerts"
    assert topic.properties["kms_master_key_id"] == Ref("kms.key", "arn")  # prod encrypts
    subscription = resources[f"{ENDPOINT}/alert-1"]
    assert dict(subscription.properties) == {
        "topic": Ref(f"{ENDPOINT}/alerts", "arn"),
        "protocol": "email",
        "endpoint": "oncall@example.com",
    }
    assert f"{ENDPOINT}/alert-2" not in resources  # an SNS topic is notified directly
    for alarm in ("alarm-latency", "alarm-errors"):
        assert list(resources[f"{ENDPOINT}/{alarm}"].properties["alarm_actions"]) == [
            Ref(f"{ENDPOINT}/alerts", "arn"),
            "arn:aws:sns:eu-west-1:222222222222:pager",
        ]


def test_without_slo_alert_targets_the_alarms_only_roll_deployments_back():
    resources = lowered(churn_spec("prod"))
    assert f"{ENDPOINT}/alerts" not in resources
    assert "alarm_actions" not in resources[f"{ENDPOINT}/alarm-latency"].properties
