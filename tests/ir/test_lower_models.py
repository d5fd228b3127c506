"""Models: registry groups, artifacts, the SageMaker Model and its least-privilege role."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from types import MappingProxyType

import pytest

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import lower_model, model_name
from mlinfra.sagemaker import images
from mlinfra.spec.validate import validate_file
from typed_specs import changed, with_settings

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
MODEL = "model.churn-model"

# The registry lookup of prod's model: its group, and the endpoint that keeps what it
# serves while the group has no approved version.
LOOKUP = ("churn-prod-churn", "churn-prod-churn-api")


@functools.cache
def churn_spec(env: str):
    return validate_file(str(CHURN / "mlinfra.yaml")).environments[env]


def spec_with(env: str, changes: dict | None = None, **settings):
    """The churn spec of `env`, with the model's fields and the environment's settings changed."""
    spec = changed(churn_spec(env), MODEL, **(changes or {}))
    return with_settings(spec, **settings) if settings else spec


def lowered(spec, spec_dir: Path = CHURN) -> dict:
    ctx = LoweringContext(spec, spec_dir)
    return {r.address: r for r in lower_model(ctx, spec.component(MODEL))}


def container(resources: dict) -> dict:
    found = resources[MODEL].properties["primary_container"]
    assert found.type == "aws.sagemaker.ModelPrimaryContainerArgs"
    return dict(found.fields)


def statements(resources: dict) -> list:
    policy = resources[f"{MODEL}/role-policy"].properties["policy"]
    assert isinstance(policy, Json)
    return list(policy.value["Statement"])


def by_sid(resources: dict) -> dict:
    return {s["Sid"]: s for s in statements(resources)}


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"not really a tarball, but bytes to hash")
    return path


# --- what is created --------------------------------------------------------------------------


def test_registry_model_lowers_to_group_role_policy_and_model():
    resources = lowered(churn_spec("prod"))
    assert {a: r.type for a, r in resources.items()} == {
        f"{MODEL}/registry": "aws.sagemaker.ModelPackageGroup",
        f"{MODEL}/role": "aws.iam.Role",
        f"{MODEL}/role-policy": "aws.iam.RolePolicy",
        MODEL: "aws.sagemaker.Model",
    }


def test_registry_group_is_named_for_the_environment():
    for env in ("dev", "prod"):
        group = lowered(churn_spec(env))[f"{MODEL}/registry"]
        assert group.properties["model_package_group_name"] == f"churn-{env}-churn"
        assert group.source.start.line == 85  # registry_group: churn


def test_latest_approved_is_resolved_when_the_program_runs():
    fields = container(lowered(churn_spec("prod")))
    assert fields == {"model_package_name": Call("latest_approved_model_package", LOOKUP)}
    # The model waits for its group (read by name, not by Ref) and for its role's policy.
    assert set(lowered(churn_spec("prod"))[MODEL].depends_on) == {
        f"{MODEL}/registry",
        f"{MODEL}/role-policy",
    }


def test_a_pinned_version_is_its_model_package_arn():
    fields = container(lowered(spec_with("prod", {"version": 3})))
    assert fields["model_package_name"] == (
        "arn:aws:sagemaker:eu-west-1:222222222222:model-package/churn-prod-churn/3"
    )


def test_a_pinned_version_without_an_account_is_looked_up_when_the_program_runs():
    fields = container(lowered(spec_with("prod", {"version": 3}, account=None)))
    assert fields["model_package_name"] == Call("model_package_arn", ("churn-prod-churn", 3))


def test_a_local_artifact_is_uploaded_under_its_content_hash(artifact: Path):
    spec = spec_with("prod", {"artifact": artifact.name})
    resources = lowered(spec, artifact.parent)
    sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
    upload = resources[f"{MODEL}/artifact"]
    assert upload.type == "aws.s3.BucketObjectv2"
    assert upload.properties["bucket"] == Ref("bucket.artifacts", "bucket")
    assert upload.properties["key"] == f"models/churn-model/{sha256[:12]}/model.tar.gz"
    assert upload.properties["source"] == FileAsset("model.tar.gz", sha256)
    assert upload.depends_on == ("bucket.artifacts/encryption",)
    fields = container(resources)
    assert fields["model_data_url"] == Concat(
        ("s3://", Ref(upload.address, "bucket"), "/", Ref(upload.address, "key"))
    )
    # The serving image for the instance type of the endpoint that serves the model.
    assert fields["image"] == images.image_uri(
        "sklearn", "1.2-1", "eu-west-1", "inference", "ml.m5.large"
    )
    assert fields["image"].startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/")
    assert "model_package_name" not in fields


def test_an_s3_artifact_is_served_directly_and_only_it_is_readable():
    uri = "s3://models-bucket/churn/model.tar.gz"
    resources = lowered(spec_with("dev", {"artifact": uri}))
    assert f"{MODEL}/artifact" not in resources
    assert container(resources)["model_data_url"] == uri
    read = by_sid(resources)["ReadModelData"]
    assert read["Action"] == ("s3:GetObject",)
    assert read["Resource"] == ("arn:aws:s3:::models-bucket/churn/model.tar.gz",)


def test_a_missing_artifact_says_which_file(tmp_path: Path):
    spec = spec_with("dev", {"artifact": "models/missing.tar.gz"})
    with pytest.raises(FileNotFoundError, match="models/missing.tar.gz"):
        lowered(spec, tmp_path)


def test_container_environment_is_set_only_when_the_spec_gives_one():
    assert "environment" not in container(lowered(churn_spec("dev")))
    spec = spec_with("dev", {"environment": {"SAGEMAKER_PROGRAM": "serve.py"}})
    assert container(lowered(spec))["environment"] == {"SAGEMAKER_PROGRAM": "serve.py"}


def test_prod_model_runs_network_isolated_in_its_vpc():
    prod = lowered(churn_spec("prod"))[MODEL].properties
    assert prod["enable_network_isolation"] is True
    assert prod["vpc_config"] == Args(
        "aws.sagemaker.ModelVpcConfigArgs",
        MappingProxyType(
            {
                "subnets": ("subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e5f6071829"),
                "security_group_ids": ("sg-0123456789abcdef0",),
            }
        ),
    )
    dev = lowered(churn_spec("dev"))[MODEL].properties
    assert dev["enable_network_isolation"] is False
    assert "vpc_config" not in dev


def test_model_uses_its_own_role():
    resources = lowered(churn_spec("prod"))
    assert resources[MODEL].properties["execution_role_arn"] == Ref(f"{MODEL}/role", "arn")
    assert resources[f"{MODEL}/role"].properties["name"] == "churn-prod-model-churn-model"


# --- names ------------------------------------------------------------------------------------


def test_model_name_is_deterministic_and_carries_a_content_hash():
    name = lowered(churn_spec("prod"))[MODEL].properties["name"]
    # A latest-approved model's name ends in the version it serves, known when it runs.
    static, separator, version = name.parts
    assert re.fullmatch(r"churn-prod-churn-model-[0-9a-f]{8}", static)
    assert (separator, version) == ("-v", Call("latest_approved_version", LOOKUP))
    assert lowered(churn_spec("prod"))[MODEL].properties["name"] == name
    assert (
        model_name(LoweringContext(churn_spec("prod"), CHURN), churn_spec("prod").component(MODEL))
        == name
    )


def test_model_name_changes_with_the_container_but_not_with_tags():
    name = lowered(churn_spec("prod"))[MODEL].properties["name"]
    assert lowered(spec_with("prod", {"version": 3}))[MODEL].properties["name"] != name
    retagged = spec_with("prod", tags=MappingProxyType({"team": "other"}))
    assert lowered(retagged)[MODEL].properties["name"] == name


# --- the role ---------------------------------------------------------------------------------


def test_no_statement_allows_every_action_or_a_wildcard_action_on_everything():
    for env in ("dev", "prod"):
        for statement in statements(lowered(churn_spec(env))):
            assert statement["Effect"] == "Allow"
            assert not any("*" in action for action in statement["Action"])
            if "*" in statement["Resource"]:
                # Only actions IAM cannot scope to a resource get "*".
                assert set(statement["Action"]) <= {
                    "ecr:GetAuthorizationToken",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                }


def test_registry_models_read_the_artifacts_bucket_and_pull_from_the_region():
    sids = by_sid(lowered(churn_spec("dev")))
    assert sids["ReadModelData"]["Resource"] == (Concat((Ref("bucket.artifacts", "arn"), "/*")),)
    assert sids["EcrPull"]["Resource"] == ("arn:aws:ecr:us-east-1:*:repository/*",)
    assert sids["Logs"]["Resource"] == (
        "arn:aws:logs:us-east-1:111111111111:log-group:/aws/sagemaker/*",
    )


def test_artifact_models_pull_only_their_image_repository(artifact: Path):
    resources = lowered(spec_with("prod", {"artifact": artifact.name}), artifact.parent)
    assert by_sid(resources)["EcrPull"]["Resource"] == (
        "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn",
    )


def test_data_capture_is_written_with_the_model_role_under_the_endpoint_prefix():
    write = by_sid(lowered(churn_spec("prod")))["WriteCapturedData"]
    assert write["Action"] == ("s3:PutObject",)
    assert write["Resource"] == (Concat((Ref("bucket.capture", "arn"), "/churn-prod-churn-api/*")),)


def test_kms_and_vpc_permissions_only_where_the_environment_uses_them():
    dev, prod = by_sid(lowered(churn_spec("dev"))), by_sid(lowered(churn_spec("prod")))
    assert not {"UseKmsKey", "VpcDescribe", "VpcNetworkInterfaces"} & set(dev)
    assert prod["UseKmsKey"]["Action"] == ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
    assert prod["UseKmsKey"]["Resource"] == (Ref("kms.key", "arn"),)
    assert prod["VpcNetworkInterfaces"]["Resource"] == (
        "arn:aws:ec2:eu-west-1:222222222222:network-interface/*",
        "arn:aws:ec2:eu-west-1:222222222222:subnet/subnet-0a1b2c3d4e5f60718",
        "arn:aws:ec2:eu-west-1:222222222222:subnet/subnet-1b2c3d4e5f6071829",
        "arn:aws:ec2:eu-west-1:222222222222:security-group/sg-0123456789abcdef0",
    )


def test_taggable_model_resources_carry_the_three_mlinfra_tags(artifact: Path):
    resources = lowered(spec_with("prod", {"artifact": artifact.name}), artifact.parent)
    for resource in resources.values():
        if resource.type == "aws.iam.RolePolicy":
            continue  # inline policies take no tags
        assert {
            "mlinfra:project": "churn",
            "mlinfra:environment": "prod",
            "mlinfra:component": MODEL,
        }.items() <= dict(resource.properties["tags"]).items()


def test_one_more_endpoint_serving_the_model_keeps_its_names(tmp_path: Path):
    """The lookup's endpoints say where a version is kept from, not what is served: the
    model, and the configurations of the endpoints already serving it, keep their names."""
    from mlinfra.ir.lower import lower

    spec_file = tmp_path / "mlinfra.yaml"
    text = (CHURN / "mlinfra.yaml").read_text()
    extra = "\nendpoints:\n  churn-batch:\n    model: churn-model\n    instance_type: ml.m5.large\n"
    spec_file.write_text(text.replace("\nendpoints:\n", extra, 1))
    for folder in ("data", "pipelines"):
        (tmp_path / folder).symlink_to(CHURN / folder)
    before = lower(churn_spec("prod"), CHURN)
    after = lower(validate_file(str(spec_file)).environments["prod"], tmp_path)
    assert after.get(MODEL).properties["primary_container"].fields["model_package_name"] == Call(
        "latest_approved_model_package",
        ("churn-prod-churn", "churn-prod-churn-batch", "churn-prod-churn-api"),
    )
    for address in (MODEL, "endpoint.churn-api/config"):
        assert (
            after.get(address).properties["name"].parts[0]
            == (before.get(address).properties["name"].parts[0])
        )
