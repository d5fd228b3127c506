"""The environment-wide resources of a SageMaker environment: the KMS key and the buckets."""

from __future__ import annotations

import functools
from pathlib import Path

from mlinfra.ir.graph import Args, Call, Concat, Json, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.environment import lower_environment
from mlinfra.spec.validate import validate_file
from typed_specs import with_settings

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
PURPOSES = ("artifacts", "capture", "monitoring")
BUCKET_PARTS = {
    "": "aws.s3.Bucket",
    "/public-access-block": "aws.s3.BucketPublicAccessBlock",
    "/versioning": "aws.s3.BucketVersioning",
    "/encryption": "aws.s3.BucketServerSideEncryptionConfiguration",
    "/policy": "aws.s3.BucketPolicy",
}
KEY_ARN = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@functools.cache
def churn_spec(env: str):
    return validate_file(str(CHURN / "mlinfra.yaml")).environments[env]


def lowered(env: str, **security) -> dict:
    spec = churn_spec(env)
    if security:
        spec = with_settings(spec, security=security)
    return {r.address: r for r in lower_environment(LoweringContext(spec, CHURN))}


def rule(resources: dict, purpose: str) -> Args:
    (found,) = resources[f"bucket.{purpose}/encryption"].properties["rules"]
    return found


def test_prod_creates_a_rotating_kms_key_and_its_alias():
    resources = lowered("prod")
    key, alias = resources["kms.key"], resources["kms.key/alias"]
    assert key.type == "aws.kms.Key"
    assert key.properties["enable_key_rotation"] is True
    # prod is protected: the longest grace period before a deleted key is gone.
    assert key.properties["deletion_window_in_days"] == 30
    assert alias.type == "aws.kms.Alias"
    assert alias.properties["name"] == "alias/mlinfra/churn-prod"
    assert alias.properties["target_key_id"] == Ref("kms.key", "key_id")


def test_prod_key_policy_keeps_kms_default_and_lets_cloudwatch_publish_encrypted_alerts():
    statements = lowered("prod")["kms.key"].properties["policy"].value["Statement"]
    root, cloudwatch = statements
    # KMS's default statement: the account administers the key, IAM policies grant the rest.
    assert root["Principal"]["AWS"].parts == ("arn:aws:iam::", "222222222222", ":root")
    assert root["Action"] == "kms:*"
    # Without this, alarms cannot publish to the KMS-encrypted alert topics.
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_kms_key_policy_looks_up_the_account_when_the_spec_names_none():
    spec = validate_file(CHURN / "mlinfra.yaml").environments["prod"]
    spec = with_settings(spec, account=None)
    key = {r.address: r for r in lower_environment(LoweringContext(spec, CHURN))}["kms.key"]
    root = key.properties["policy"].value["Statement"][0]
    assert root["Principal"]["AWS"].parts[1] == Call("account_id", ())


def test_dev_creates_no_key_and_encrypts_buckets_with_aes256():
    resources = lowered("dev")
    assert not any(address.startswith("kms.") for address in resources)
    for purpose in PURPOSES:
        by_default = rule(resources, purpose).fields["apply_server_side_encryption_by_default"]
        assert dict(by_default.fields) == {"sse_algorithm": "AES256"}
        assert "bucket_key_enabled" not in rule(resources, purpose).fields


def test_prod_buckets_encrypt_with_the_created_key_and_a_bucket_key():
    resources = lowered("prod")
    for purpose in PURPOSES:
        found = rule(resources, purpose)
        assert found.fields["bucket_key_enabled"] is True
        assert dict(found.fields["apply_server_side_encryption_by_default"].fields) == {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": Ref("kms.key", "arn"),
        }


def test_an_existing_key_arn_is_used_without_creating_a_key():
    resources = lowered("prod", kms_key=KEY_ARN)
    assert "kms.key" not in resources
    by_default = rule(resources, "capture").fields["apply_server_side_encryption_by_default"]
    assert by_default.fields["kms_master_key_id"] == KEY_ARN


def test_every_environment_has_three_private_versioned_buckets():
    for env in ("dev", "prod"):
        resources = lowered(env)
        buckets = {a: r.type for a, r in resources.items() if a.startswith("bucket.")}
        assert buckets == {
            f"bucket.{purpose}{part}": type_
            for purpose in PURPOSES
            for part, type_ in BUCKET_PARTS.items()
        }
        for purpose in PURPOSES:
            address = f"bucket.{purpose}"
            assert resources[address].properties["force_destroy"] is False
            block = resources[f"{address}/public-access-block"].properties
            assert block["bucket"] == Ref(address, "bucket")
            assert all(
                block[flag] is True
                for flag in (
                    "block_public_acls",
                    "block_public_policy",
                    "ignore_public_acls",
                    "restrict_public_buckets",
                )
            )
            versioning = resources[f"{address}/versioning"].properties
            assert versioning["versioning_configuration"].fields["status"] == "Enabled"


def test_bucket_policies_deny_every_request_not_made_over_tls():
    resources = lowered("prod")
    for purpose in PURPOSES:
        address = f"bucket.{purpose}"
        policy = resources[f"{address}/policy"]
        assert isinstance(policy.properties["policy"], Json)
        (statement,) = policy.properties["policy"].value["Statement"]
        arn = Ref(address, "arn")
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        assert tuple(statement["Resource"]) == (arn, Concat((arn, "/*")))
        # Written after the public access block, which S3 cannot change concurrently.
        assert policy.depends_on == (f"{address}/public-access-block",)
        assert policy.dependencies() == (address, f"{address}/public-access-block")


def test_bucket_names_are_deterministic_and_include_the_account():
    assert [lowered("dev")[f"bucket.{p}"].properties["bucket"] for p in PURPOSES] == [
        "churn-dev-artifacts-111111111111",
        "churn-dev-capture-111111111111",
        "churn-dev-monitoring-111111111111",
    ]
    assert lowered("prod") == lowered("prod")


def test_taggable_resources_carry_the_spec_tags_and_the_three_mlinfra_tags():
    for env in ("dev", "prod"):
        for resource in lowered(env).values():
            if resource.type in ("aws.s3.Bucket", "aws.kms.Key"):
                assert dict(resource.properties["tags"]) == {
                    "team": "growth",
                    "cost-center": "ml-1234",
                    "mlinfra:project": "churn",
                    "mlinfra:environment": env,
                    "mlinfra:component": resource.address,
                }


def test_sources_point_at_the_environment_and_its_key_setting():
    dev, prod = lowered("dev"), lowered("prod")
    assert dev["bucket.artifacts"].source.start.line == 23  # environments.dev's key
    assert prod["bucket.artifacts"].source.start.line == 31  # environments.prod's key
    # The key and what it encrypts point at `kms_key: create`.
    assert prod["kms.key"].source.start.line == 37
    assert prod["bucket.capture/encryption"].source.start.line == 37
