"""Feature stores lower to a SageMaker Feature Group and the role its offline store writes with."""

from __future__ import annotations

import functools
from pathlib import Path
from types import MappingProxyType

import pytest

from mlinfra.ir.graph import Args, Concat, Ref
from mlinfra.ir.requests.feature_stores import ttl_unit_value
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.feature_stores import lower_feature_store
from mlinfra.spec.validate import validate_file
from typed_specs import rebuilt

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"


@functools.cache
def spec(env: str):
    return validate_file(str(EXAMPLE / "mlinfra.yaml")).environments[env]


def lowered(env: str, **changes):
    component = spec(env).component("feature_store.customers")
    if changes:
        component = rebuilt(component, **changes)
    ctx = LoweringContext(spec(env), EXAMPLE)
    return {r.address: r for r in lower_feature_store(ctx, component)}


def group(env: str, **changes):
    return lowered(env, **changes)["feature_store.customers"]


def statements(resources) -> list[dict]:
    policy = resources["feature_store.customers/role-policy"].properties["policy"]
    return list(policy.value["Statement"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_store_is_its_feature_group_and_the_offline_store_role(env):
    found = {address: r.type for address, r in lowered(env).items()}
    assert found == {
        "feature_store.customers/role": "aws.iam.Role",
        "feature_store.customers/role-policy": "aws.iam.RolePolicy",
        "feature_store.customers": "aws.sagemaker.FeatureGroup",
    }


def test_the_group_carries_its_physical_name_keys_role_and_tags():
    properties = group("prod").properties
    assert properties["feature_group_name"] == "churn-prod-customers"
    assert properties["record_identifier_feature_name"] == "customer_id"
    assert properties["event_time_feature_name"] == "event_time"
    assert properties["role_arn"] == Ref("feature_store.customers/role", "arn")
    assert properties["description"] == "Customer profile features, one record per customer"
    assert properties["tags"]["mlinfra:component"] == "feature_store.customers"
    assert properties["tags"]["team"] == "growth"


def test_features_keep_their_order_and_map_to_sagemaker_types():
    definitions = group("dev").properties["feature_definitions"]
    assert [(d.fields["feature_name"], d.fields["feature_type"]) for d in definitions] == [
        ("customer_id", "String"),
        ("event_time", "String"),
        ("tenure_months", "Integral"),
        ("monthly_charges", "Fractional"),
        ("total_charges", "Fractional"),
        ("contract", "String"),
        ("support_calls", "Integral"),
        ("churned", "Integral"),
    ]


def test_prod_online_store_keeps_records_30_days_encrypted_with_the_environment_key():
    online = group("prod").properties["online_store_config"]
    assert online.type == "aws.sagemaker.FeatureGroupOnlineStoreConfigArgs"
    assert online.fields["enable_online_store"] is True
    assert online.fields["ttl_duration"].fields == {"unit": "Days", "value": 30}
    assert online.fields["security_config"].fields == {"kms_key_id": Ref("kms.key", "arn")}


def test_dev_has_no_key_anywhere():
    properties = group("dev").properties
    assert "security_config" not in properties["online_store_config"].fields
    assert "kms_key_id" not in properties["offline_store_config"].fields["s3_storage_config"].fields


def test_the_offline_store_is_a_glue_table_under_the_artifacts_bucket():
    offline = group("prod").properties["offline_store_config"].fields
    storage = offline["s3_storage_config"].fields
    assert storage["s3_uri"] == Concat(
        ("s3://", Ref("bucket.artifacts", "bucket"), "/feature-store/customers")
    )
    assert storage["kms_key_id"] == Ref("kms.key", "arn")
    assert offline["table_format"] == "Glue"
    assert offline["disable_glue_table_creation"] is False


def test_an_iceberg_store_gets_an_iceberg_table():
    offline = group("dev", offline={"enabled": True, "format": "iceberg"}).properties
    assert offline["offline_store_config"].fields["table_format"] == "Iceberg"


def test_an_online_only_store_has_no_role_and_no_offline_store():
    resources = lowered("dev", offline={"enabled": False})
    assert list(resources) == ["feature_store.customers"]
    properties = resources["feature_store.customers"].properties
    assert "offline_store_config" not in properties and "role_arn" not in properties


def test_an_offline_only_store_has_no_online_store():
    properties = group("dev", online={"enabled": False}).properties
    assert "online_store_config" not in properties


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [
        ("2w", "Weeks", 2),
        ("14d", "Weeks", 2),
        ("30d", "Days", 30),
        ("36h", "Hours", 36),
        ("1d12h", "Hours", 36),
        ("90m", "Minutes", 90),
        ("45s", "Seconds", 45),
        ("1m30s", "Seconds", 90),
    ],
)
def test_ttl_is_written_in_the_largest_whole_unit(text, unit, value):
    assert ttl_unit_value(text) == (unit, value)


def test_the_role_writes_only_the_stores_prefix_and_uses_the_key():
    found = {s["Sid"]: s for s in statements(lowered("prod"))}
    artifacts = Ref("bucket.artifacts", "arn")
    assert found["OfflineStore"]["Resource"] == (Concat((artifacts, "/feature-store/customers/*")),)
    assert found["OfflineBucket"]["Resource"] == (artifacts,)
    assert found["UseKmsKey"]["Resource"] == (Ref("kms.key", "arn"),)
    tables = found["OfflineTable"]["Resource"]
    assert all(r.startswith("arn:aws:glue:eu-west-1:222222222222:") for r in tables)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_statement_allows_every_action_or_every_resource_for_data(env):
    for statement in statements(lowered(env)):
        assert "*" not in statement["Action"]
        assert "*" not in statement["Resource"]
        assert all(not a.endswith(":*") for a in statement["Action"])


def test_the_group_waits_for_its_role_policy():
    assert group("prod").depends_on == ("feature_store.customers/role-policy",)


def test_lowering_is_deterministic():
    assert lowered("prod") == lowered("prod")
    assert isinstance(group("prod").properties, MappingProxyType)


PROVISIONED = {"mode": "provisioned", "read_units": 40, "write_units": 10}


def test_a_provisioned_throughput_is_the_groups_throughput_config_on_both_targets():
    import pulumi_aws

    from mlinfra.ir.local.feature_stores import lower_feature_store as lower_local

    online = {"enabled": True, "ttl": "30d", "throughput": PROVISIONED}
    found = group("dev", online=online).properties["throughput_config"]
    assert found == Args(
        "aws.sagemaker.FeatureGroupThroughputConfigArgs",
        {
            "throughput_mode": "Provisioned",
            "provisioned_read_capacity_units": 40,
            "provisioned_write_capacity_units": 10,
        },
    )
    # pulumi_aws's own class takes exactly these arguments.
    pulumi_aws.sagemaker.FeatureGroupThroughputConfigArgs(**found.fields)
    component = spec("dev").component("feature_store.customers")
    component = rebuilt(component, online=online)
    (local,) = lower_local(LoweringContext(spec("dev"), EXAMPLE), component)
    assert local.properties["ThroughputConfig"] == {
        "ThroughputMode": "Provisioned",
        "ProvisionedReadCapacityUnits": 40,
        "ProvisionedWriteCapacityUnits": 10,
    }


def test_without_a_throughput_the_group_has_none_and_sagemaker_bills_on_demand():
    assert "throughput_config" not in group("dev").properties
