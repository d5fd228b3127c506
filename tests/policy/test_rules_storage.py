"""The storage rules judge each environment bucket by the resources attached to it (public
access block, policy, versioning, encryption), and the environment's KMS key.

The lowering makes every bucket private, TLS-only and versioned, and the key it creates
always rotates: those rules cannot fail for any spec, so their failing cases are graphs
changed by hand, as a broken lowering would make them.
"""

from __future__ import annotations

import pytest
from rule_specs import audited, changed, churn, document, judge, line_of, without

from mlinfra.ir.graph import Args, Json, Ref
from mlinfra.policy.rule_ids import RULE_IDS
from mlinfra.policy.rules.storage import (
    kms_key_rotation,
    s3_kms_encryption,
    s3_public_access_block,
    s3_tls_only,
    s3_versioning,
)

KEY = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SPEC = f"""\
version: 1
project: shop
environments:
  secure:
    target: sagemaker
    account: "111111111111"
    security:
      kms_key: create
  byok:
    target: sagemaker
    account: "111111111111"
    security:
      kms_key: {KEY}
  open:
    target: sagemaker
    account: "222222222222"
    security:
      kms_key: none
feature_stores:
  scores:
    record_identifier: id
    event_time: at
    features: {{id: string, at: string, score: fractional}}
"""
ARTIFACTS, CAPTURE, MONITORING = "bucket.artifacts", "bucket.capture", "bucket.monitoring"
EVERY_BUCKET = {ARTIFACTS, CAPTURE, MONITORING}
# Buckets belong to no component: findings point at the environment they are created for.
OPEN_ENVIRONMENT = line_of(SPEC, "  open:")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("storage")
    contexts = {name: audited(folder, SPEC, name) for name in ("secure", "byok", "open")}
    return contexts.__getitem__


# --- s3-public-access-block -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["secure", "open"])
def test_every_bucket_lowered_blocks_public_access(env, name):
    judged = judge(s3_public_access_block, env(name))
    assert judged.failing == {}
    assert judged.passing == EVERY_BUCKET


def test_a_bucket_with_a_setting_off_or_no_block_fails(env):
    ctx = changed(env("open"), f"{CAPTURE}/public-access-block", restrict_public_buckets=False)
    ctx = without(ctx, f"{MONITORING}/public-access-block")
    judged = judge(s3_public_access_block, ctx)
    assert judged.messages == {
        CAPTURE: ["the public access block of bucket.capture leaves restrict_public_buckets off"],
        MONITORING: ["bucket.monitoring has no public access block"],
    }
    assert judged.passing == {ARTIFACTS}
    assert judged.lines(CAPTURE) == judged.lines(MONITORING) == {OPEN_ENVIRONMENT}


# --- s3-tls-only ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["secure", "open"])
def test_every_bucket_lowered_refuses_plain_http(env, name):
    judged = judge(s3_tls_only, env(name))
    assert judged.failing == {}
    assert judged.passing == EVERY_BUCKET


def test_a_policy_leaving_objects_open_or_no_policy_fails(env):
    ctx = env("open")
    # The bucket and its objects written out as ARNs deny as well as Refs do.
    name = ctx.resource(ARTIFACTS).properties["bucket"]
    literal = document(ctx, f"{ARTIFACTS}/policy")
    literal["Statement"][0]["Resource"] = [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
    ctx = changed(ctx, f"{ARTIFACTS}/policy", policy=Json(literal))
    bucket_only = document(ctx, f"{CAPTURE}/policy")
    bucket_only["Statement"][0]["Resource"] = [Ref(CAPTURE, "arn")]
    ctx = changed(ctx, f"{CAPTURE}/policy", policy=Json(bucket_only))
    ctx = without(ctx, f"{MONITORING}/policy")
    judged = judge(s3_tls_only, ctx)
    assert judged.messages == {
        CAPTURE: [
            "bucket.capture accepts requests without TLS: its bucket policy does not deny "
            "s3:* on the bucket and its objects when aws:SecureTransport is false"
        ],
        MONITORING: [
            "bucket.monitoring accepts requests without TLS: it has no bucket policy to deny "
            "s3:* on the bucket and its objects when aws:SecureTransport is false"
        ],
    }
    assert judged.passing == {ARTIFACTS}
    assert judged.lines(CAPTURE) == {OPEN_ENVIRONMENT}


@pytest.mark.parametrize(
    "change",
    [
        {"Effect": "Allow"},
        {"Principal": {"Service": "sagemaker.amazonaws.com"}},
        {"Action": "s3:GetObject"},
        {"Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ],
    ids=["allows", "one-principal", "one-action", "secure-transport"],
)
def test_a_statement_that_does_not_deny_every_plain_http_request_fails(env, change):
    ctx = env("secure")
    policy = document(ctx, f"{CAPTURE}/policy")
    policy["Statement"][0].update(change)
    judged = judge(s3_tls_only, changed(ctx, f"{CAPTURE}/policy", policy=Json(policy)))
    assert set(judged.failing) == {CAPTURE}
    assert judged.passing == {ARTIFACTS, MONITORING}


# --- s3-versioning --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["secure", "open"])
def test_every_bucket_lowered_is_versioned(env, name):
    judged = judge(s3_versioning, env(name))
    assert judged.failing == {}
    assert judged.passing == EVERY_BUCKET


def test_a_suspended_or_unconfigured_versioning_fails(env):
    ctx = env("open")
    config = ctx.resource(f"{CAPTURE}/versioning").properties["versioning_configuration"]
    suspended = Args(config.type, {"status": "Suspended"})
    ctx = changed(ctx, f"{CAPTURE}/versioning", versioning_configuration=suspended)
    ctx = without(ctx, f"{MONITORING}/versioning")
    judged = judge(s3_versioning, ctx)
    assert judged.messages == {
        CAPTURE: ["versioning of bucket.capture is Suspended"],
        MONITORING: ["versioning of bucket.monitoring is not configured"],
    }
    assert judged.passing == {ARTIFACTS}
    assert judged.lines(MONITORING) == {OPEN_ENVIRONMENT}


# --- s3-kms-encryption ----------------------------------------------------------------------


def test_buckets_with_s3_managed_keys_fail_at_the_key_setting(env):
    judged = judge(s3_kms_encryption, env("open"))
    assert set(judged.failing) == EVERY_BUCKET
    assert judged.passing == set()
    assert judged.messages[CAPTURE] == [
        "bucket.capture encrypts objects with AES256, not a KMS key"
    ]
    assert judged.lines(CAPTURE) == {line_of(SPEC, "kms_key: none")}


@pytest.mark.parametrize("name", ["secure", "byok"])
def test_buckets_with_the_created_or_a_given_key_pass(env, name):
    judged = judge(s3_kms_encryption, env(name))
    assert judged.failing == {}
    assert judged.passing == EVERY_BUCKET


def test_a_bucket_without_default_encryption_fails(env):
    judged = judge(s3_kms_encryption, without(env("secure"), f"{ARTIFACTS}/encryption"))
    assert judged.messages == {
        ARTIFACTS: ["bucket.artifacts has no default encryption with a KMS key"]
    }
    assert judged.passing == {CAPTURE, MONITORING}
    assert judged.lines(ARTIFACTS) == {line_of(SPEC, "kms_key: create")}


# --- kms-key-rotation -----------------------------------------------------------------------


def test_the_key_lowered_rotates(env):
    judged = judge(kms_key_rotation, env("secure"))
    assert (judged.failing, judged.passing) == ({}, {"kms.key"})


@pytest.mark.parametrize("name", ["byok", "open"])
def test_an_environment_that_creates_no_key_has_none_to_judge(env, name):
    judged = judge(kms_key_rotation, env(name))
    assert (judged.failing, judged.passing) == ({}, set())


def test_a_key_that_does_not_rotate_fails_at_the_key_setting(env):
    judged = judge(kms_key_rotation, changed(env("secure"), "kms.key", enable_key_rotation=False))
    assert judged.messages == {"kms.key": ["kms.key does not rotate its key material"]}
    assert judged.passing == set()
    assert judged.lines("kms.key") == {line_of(SPEC, "kms_key: create")}


def test_an_asymmetric_key_cannot_rotate_and_passes(env):
    ctx = changed(
        env("secure"),
        "kms.key",
        enable_key_rotation=False,
        customer_master_key_spec="RSA_2048",
    )
    judged = judge(kms_key_rotation, ctx)
    assert (judged.failing, judged.passing) == ({}, {"kms.key"})


def test_the_rules_keep_their_catalog_ids():
    rules = (
        s3_public_access_block,
        s3_tls_only,
        s3_versioning,
        s3_kms_encryption,
        kms_key_rotation,
    )
    assert {rule.id for rule in rules} <= RULE_IDS


# --- the churn example ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "dev_failing"),
    [
        (s3_public_access_block, set()),
        (s3_tls_only, set()),
        (s3_versioning, set()),
        # dev sets no key, so its buckets use S3-managed keys; prod's use the created key.
        (s3_kms_encryption, EVERY_BUCKET),
    ],
    ids=["s3-public-access-block", "s3-tls-only", "s3-versioning", "s3-kms-encryption"],
)
def test_the_churn_buckets(rule, dev_failing):
    dev, prod = judge(rule, churn("dev")), judge(rule, churn("prod"))
    assert (set(dev.failing), dev.passing) == (dev_failing, EVERY_BUCKET - dev_failing)
    assert (set(prod.failing), prod.passing) == (set(), EVERY_BUCKET)


def test_the_churn_key():
    # Only prod creates a key (`kms_key: create`), and it rotates.
    dev, prod = judge(kms_key_rotation, churn("dev")), judge(kms_key_rotation, churn("prod"))
    assert (dev.failing, dev.passing) == ({}, set())
    assert (prod.failing, prod.passing) == ({}, {"kms.key"})
