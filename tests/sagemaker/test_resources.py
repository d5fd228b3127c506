"""The resource-type catalogue and SageMaker's ARNs, and that each reader agrees with them."""

from __future__ import annotations

import pytest

from mlinfra.emulator.kit import arns as emulator_arns
from mlinfra.emulator.kit.records import Kind
from mlinfra.ir.local import api
from mlinfra.ir.local.monitors import ROLE_ARN as MONITOR_ROLE
from mlinfra.ir.local.pipelines import ROLE_ARN as PIPELINE_ROLE
from mlinfra.ir.lower import STATEFUL_TYPES
from mlinfra.ir.sagemaker import updates
from mlinfra.sagemaker import arns, resources
from mlinfra.sagemaker.api import service_model


@pytest.mark.parametrize("kind", resources.RESOURCE_TYPES.values(), ids=lambda k: k.noun)
def test_each_type_names_fields_the_sagemaker_api_has(kind):
    model = service_model("sagemaker")
    create = model.operation_model(f"Create{kind.noun}").input_shape.members
    describe = model.operation_model(f"Describe{kind.noun}").output_shape.members
    if kind is not resources.MODEL_PACKAGE:  # a version is named by its group and number
        assert kind.name_field in create
    assert kind.arn_field in describe
    assert f"delete_{kind.method_noun}" in {
        op_name for op_name in _method_names(model) if op_name.startswith("delete_")
    }


@pytest.mark.parametrize("kind", resources.RESOURCE_TYPES.values(), ids=lambda k: k.noun)
def test_what_updates_in_place_is_what_update_takes(kind):
    if not kind.updatable:
        return
    update = service_model("sagemaker").operation_model(f"Update{kind.noun}").input_shape
    assert kind.updatable <= set(update.members)


def _method_names(model):
    from botocore import xform_name

    return [xform_name(name) for name in model.operation_names]


def test_a_type_is_the_same_noun_on_both_targets():
    assert resources.of_type("local.Model") is resources.MODEL
    assert resources.of_type("aws.sagemaker.Model") is resources.MODEL
    assert resources.of_type("aws.s3.Bucket") is None
    assert resources.of_type("local.Nothing") is None
    with pytest.raises(KeyError, match="local.Nothing"):
        resources.kind_of("local.Nothing")


def test_the_local_target_has_a_type_per_noun_it_creates():
    assert api.TYPES == tuple(
        f"local.{k.noun}"
        for k in (*resources.RESOURCE_TYPES.values(), *resources.OTHER_API_TYPES.values())
        if k is not resources.MODEL_PACKAGE
    )


def test_what_a_deletion_loses_is_said_for_both_targets():
    for target in ("local", "aws.sagemaker"):
        assert STATEFUL_TYPES[f"{target}.FeatureGroup"].startswith("every record of the online")
        assert "{" not in STATEFUL_TYPES[f"{target}.FeatureGroup"]
        assert STATEFUL_TYPES[f"{target}.ModelPackageGroup"] == (
            "every registered model version, with its approval"
        )
    assert "local.Endpoint" not in STATEFUL_TYPES


def test_an_added_feature_updates_a_feature_group_in_place_but_a_changed_one_does_not():
    old = {"FeatureDefinitions": [{"FeatureName": "a"}]}
    added = {"FeatureDefinitions": [{"FeatureName": "a"}, {"FeatureName": "b"}]}
    changed = {"FeatureDefinitions": [{"FeatureName": "c"}]}
    kind = resources.FEATURE_GROUP
    assert kind.fixed_fields(["FeatureDefinitions"], old, added) == []
    assert kind.fixed_fields(["FeatureDefinitions"], old, changed) == ["FeatureDefinitions"]
    assert kind.update_requests("g", old, added, ["FeatureDefinitions"]) == [
        {"FeatureGroupName": "g", "FeatureAdditions": [{"FeatureName": "b"}]}
    ]


def test_pulumi_aws_updates_in_place_only_what_the_catalogue_lists():
    assert updates.in_place("aws.sagemaker.FeatureGroup") == (
        resources.FEATURE_GROUP.provider_in_place
    )
    assert updates.in_place("local.FeatureGroup") is None
    assert not updates.is_known("aws.sagemaker.Endpoint")
    assert updates.fixed_paths(
        "aws.sagemaker.FeatureGroup", ["tags.team", "feature_definition[0].feature_name"]
    ) == ["feature_definition[0].feature_name"]


def test_the_emulator_stores_each_type_under_its_arn_kind():
    kind = Kind.of(resources.ENDPOINT_CONFIG)
    assert (kind.name, kind.arn_field) == ("endpoint-config", "EndpointConfigArn")
    assert kind.key({"EndpointConfigName": "c"}) == "c"


# --- ARNs and the emulator's account ----------------------------------------------------------


def test_aws_lower_cases_some_names_in_arns():
    assert arns.resource_part("endpoint", "Churn-API") == "endpoint/churn-api"
    assert arns.resource_part("feature-group", "Churn") == "feature-group/Churn"


def test_the_emulator_and_local_requests_name_one_account():
    assert emulator_arns.arn("eu-west-1", "model", "M") == (
        f"arn:aws:sagemaker:eu-west-1:{arns.EXAMPLE_ACCOUNT}:model/m"
    )
    for role in (PIPELINE_ROLE, MONITOR_ROLE):
        assert role.startswith(f"arn:aws:iam::{emulator_arns.ACCOUNT}:role/mlinfra-local-")


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"),
     ("us-iso-east-1", "aws-iso"), ("us-isob-east-1", "aws-iso-b")],
)  # fmt: skip
def test_regions_belong_to_their_partitions(region, partition):
    assert arns.partition(region) == partition
