"""The feature store rules judge each enabled store of every feature group: encrypted with the
environment's KMS key, or not. A disabled store passes."""

from __future__ import annotations

import pytest
from rule_specs import CHURN, audited, changed, churn, judge, line_of

from mlinfra.ir.graph import Args
from mlinfra.policy.rule_ids import RULE_IDS
from mlinfra.policy.rules.feature_stores import feature_store_offline_kms, feature_store_online_kms

KEY = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SPEC = f"""\
version: 1
project: shop
environments:
  secure:
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
  both:
    record_identifier: id
    event_time: at
    features: {{id: string, at: string, score: fractional}}
  online-only:
    record_identifier: id
    event_time: at
    features: {{id: string, at: string, score: fractional}}
    offline:
      enabled: false
  offline-only:
    record_identifier: id
    event_time: at
    features: {{id: string, at: string, score: fractional}}
    online:
      enabled: false
"""
BOTH, ONLINE_ONLY, OFFLINE_ONLY = (
    "feature_store.both",
    "feature_store.online-only",
    "feature_store.offline-only",
)
EVERY_STORE = {BOTH, ONLINE_ONLY, OFFLINE_ONLY}
KMS_KEY_LINE = line_of(SPEC, "kms_key: none")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feature-stores")
    contexts = {name: audited(folder, SPEC, name) for name in ("secure", "open")}
    return contexts.__getitem__


def test_online_stores_without_a_key_fail_and_groups_without_one_pass(env):
    judged = judge(feature_store_online_kms, env("open"))
    assert set(judged.failing) == {BOTH, ONLINE_ONLY}
    assert judged.passing == {OFFLINE_ONLY}
    assert judged.messages[BOTH] == [
        "the online store of feature_store.both is not encrypted with a KMS key"
    ]
    assert judged.lines(BOTH) == judged.lines(ONLINE_ONLY) == {KMS_KEY_LINE}


def test_online_stores_with_the_environment_key_pass(env):
    judged = judge(feature_store_online_kms, env("secure"))
    assert judged.failing == {}
    assert judged.passing == EVERY_STORE


def test_an_in_memory_online_store_takes_no_key_and_passes(env):
    ctx = env("open")
    online = ctx.resource(BOTH).properties["online_store_config"]
    in_memory = Args(online.type, {**online.fields, "storage_type": "InMemory"})
    judged = judge(feature_store_online_kms, changed(ctx, BOTH, online_store_config=in_memory))
    assert set(judged.failing) == {ONLINE_ONLY}
    assert judged.passing == {BOTH, OFFLINE_ONLY}


def test_offline_stores_without_a_key_fail_and_groups_without_one_pass(env):
    judged = judge(feature_store_offline_kms, env("open"))
    assert set(judged.failing) == {BOTH, OFFLINE_ONLY}
    assert judged.passing == {ONLINE_ONLY}
    assert judged.messages[OFFLINE_ONLY] == [
        "the offline store of feature_store.offline-only is not encrypted with a KMS key"
    ]
    assert judged.lines(BOTH) == judged.lines(OFFLINE_ONLY) == {KMS_KEY_LINE}


def test_offline_stores_with_the_environment_key_pass(env):
    judged = judge(feature_store_offline_kms, env("secure"))
    assert judged.failing == {}
    assert judged.passing == EVERY_STORE


def test_the_rules_keep_their_catalog_ids():
    assert {feature_store_online_kms.id, feature_store_offline_kms.id} <= RULE_IDS


@pytest.mark.parametrize(
    "rule", [feature_store_online_kms, feature_store_offline_kms], ids=lambda rule: rule.id
)
def test_the_churn_example(rule):
    # dev sets no key (kms_key defaults to none); prod creates one.
    dev, prod = judge(rule, churn("dev")), judge(rule, churn("prod"))
    assert (set(dev.failing), dev.passing) == ({"feature_store.customers"}, set())
    assert (set(prod.failing), prod.passing) == (set(), {"feature_store.customers"})
    # Nothing is written for dev's key: the finding points at the environment.
    dev_key = line_of((CHURN / "mlinfra.yaml").read_text(), "  dev:")
    assert dev.lines("feature_store.customers") == {dev_key}
