"""The identity rules read each role policy statement by statement: `Allow` statements must
name their actions, and their resources wherever IAM can take a resource.

The lowering writes no wildcard action and uses `"*"` only for actions IAM grants on nothing
else, so no spec fails these rules: failing cases are statements added to a lowered policy.
"""

from __future__ import annotations

import json

import pytest
from rule_specs import audited, changed, churn, document, judge, line_of

from mlinfra.ir.graph import Json, Ref
from mlinfra.policy.rule_ids import RULE_IDS
from mlinfra.policy.rules.identity import (
    RESOURCE_WILDCARD_ONLY,
    iam_metrics_namespace,
    iam_no_wildcard_actions,
    iam_no_wildcard_resources,
)

SPEC = """\
version: 1
project: shop
environments:
  prod:
    target: sagemaker
    account: "111111111111"
    security:
      kms_key: create
      vpc:
        subnets: [subnet-0a1b2c3d4e5f60718]
        security_groups: [sg-0123456789abcdef0]
feature_stores:
  scores:
    record_identifier: id
    event_time: at
    features: {id: string, at: string, score: fractional}
pipelines:
  train:
    schedule: "cron(0 3 * * ? *)"
    steps:
      prepare:
        type: processing
        script: pipelines/prepare.py
        inputs: [feature_store.scores]
"""
PIPELINE_POLICY = "pipeline.train/role-policy"
EVERY_POLICY = {
    "feature_store.scores/role-policy",
    PIPELINE_POLICY,
    "pipeline.train/schedule-role-policy",
}
PIPELINE_KEY = line_of(SPEC, "  train:")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return audited(tmp_path_factory.mktemp("identity"), SPEC, "prod")


def with_statements(ctx, *statements):
    """The environment with `statements` appended to the pipeline role's policy."""
    policy = document(ctx, PIPELINE_POLICY)
    policy["Statement"] += statements
    return changed(ctx, PIPELINE_POLICY, policy=Json(policy))


def positions(ctx) -> int:
    return len(document(ctx, PIPELINE_POLICY)["Statement"])


# --- iam-no-wildcard-actions ----------------------------------------------------------------


def test_every_lowered_statement_names_its_actions(ctx):
    judged = judge(iam_no_wildcard_actions, ctx)
    assert judged.failing == {}
    assert judged.passing == EVERY_POLICY


def test_each_allow_statement_with_a_wildcard_action_is_a_finding(ctx):
    first_added = positions(ctx) + 1
    changed_ctx = with_statements(
        ctx,
        {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "sagemaker:*"], "Resource": ["x"]},
        {"Sid": "AllBut", "Effect": "Allow", "NotAction": "iam:*", "Resource": ["x"]},
        {"Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"},
    )
    judged = judge(iam_no_wildcard_actions, changed_ctx)
    assert judged.messages == {
        PIPELINE_POLICY: [
            "statement 'Everything' of pipeline.train/role-policy allows every action of '*'",
            f"statement {first_added + 1} of pipeline.train/role-policy allows every action "
            "of 'sagemaker:*'",
            "statement 'AllBut' of pipeline.train/role-policy allows every action but iam:*",
        ]
    }
    assert judged.passing == EVERY_POLICY - {PIPELINE_POLICY}
    assert judged.lines(PIPELINE_POLICY) == {PIPELINE_KEY}


# --- iam-no-wildcard-resources --------------------------------------------------------------


def test_lowered_statements_use_star_only_for_actions_that_take_no_resource(ctx):
    starred = {
        action.lower()
        for statement in document(ctx, PIPELINE_POLICY)["Statement"]
        if "*" in statement["Resource"]
        for action in statement["Action"]
    }
    # The exemptions are what this policy needs (and a model-quality monitor's job role, for
    # ListModelPackages: tests/ir/test_lower_monitor_quality.py): without them it would fail.
    assert starred | {"sagemaker:listmodelpackages"} == set(RESOURCE_WILDCARD_ONLY)
    judged = judge(iam_no_wildcard_resources, ctx)
    assert judged.failing == {}
    assert judged.passing == EVERY_POLICY


def test_a_statement_allowing_an_action_that_takes_resources_on_star_is_a_finding(ctx):
    changed_ctx = with_statements(
        ctx,
        {
            "Sid": "Mixed",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken", "s3:GetObject"],
            "Resource": "*",
        },
        {"Sid": "Token", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "AllBut",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "NotResource": [Ref("bucket.capture", "arn")],
        },
        {"Sid": "DenyAll", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    )
    judged = judge(iam_no_wildcard_resources, changed_ctx)
    assert judged.messages == {
        PIPELINE_POLICY: [
            "statement 'Mixed' of pipeline.train/role-policy allows s3:GetObject on \"*\"",
            "statement 'AllBut' of pipeline.train/role-policy allows s3:GetObject on every "
            "resource but those it names (NotResource)",
        ]
    }
    assert judged.passing == EVERY_POLICY - {PIPELINE_POLICY}
    assert judged.lines(PIPELINE_POLICY) == {PIPELINE_KEY}


def test_a_statement_allowing_every_action_on_star_is_a_finding_of_both_rules(ctx):
    changed_ctx = with_statements(
        ctx, {"Sid": "Admin", "Effect": "Allow", "Action": ["*"], "Resource": ["*"]}
    )
    for rule in (iam_no_wildcard_actions, iam_no_wildcard_resources):
        judged = judge(rule, changed_ctx)
        assert set(judged.failing) == {PIPELINE_POLICY}, rule.id
        assert judged.passing == EVERY_POLICY - {PIPELINE_POLICY}, rule.id


def test_a_policy_written_as_json_text_is_read_too(ctx):
    policy = document(ctx, PIPELINE_POLICY)
    policy["Statement"] = [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}]
    as_text = changed(ctx, PIPELINE_POLICY, policy=json.dumps(policy))
    judged = judge(iam_no_wildcard_actions, as_text)
    assert judged.messages == {
        PIPELINE_POLICY: [
            "statement 'Admin' of pipeline.train/role-policy allows every action of '*'"
        ]
    }


# --- iam-metrics-namespace ------------------------------------------------------------------


def test_every_lowered_role_that_puts_metrics_names_its_namespace(ctx):
    judged = judge(iam_metrics_namespace, ctx)
    assert judged.failing == {}
    assert judged.passing == EVERY_POLICY


def test_putting_metrics_without_a_namespace_condition_is_a_finding(ctx):
    first_added = positions(ctx) + 1
    changed_ctx = with_statements(
        ctx,
        {"Sid": "Anywhere", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
         "Resource": "*"},
        {"Effect": "Allow", "Action": ["cloudwatch:*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
        {"Sid": "Scoped", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
         "Resource": "*", "Condition": {"StringEquals": {"CloudWatch:Namespace": "team"}}},
        {"Sid": "DenyAll", "Effect": "Deny", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
    )  # fmt: skip
    judged = judge(iam_metrics_namespace, changed_ctx)
    assert judged.messages == {
        PIPELINE_POLICY: [
            "statement 'Anywhere' of pipeline.train/role-policy may put CloudWatch metrics in "
            "any namespace (no cloudwatch:namespace condition)",
            f"statement {first_added + 1} of pipeline.train/role-policy may put CloudWatch "
            "metrics in any namespace (no cloudwatch:namespace condition)",
        ]
    }
    assert judged.lines(PIPELINE_POLICY) == {PIPELINE_KEY}


def test_the_rules_keep_their_catalog_ids():
    rules = (iam_no_wildcard_actions, iam_no_wildcard_resources, iam_metrics_namespace)
    assert {rule.id for rule in rules} <= RULE_IDS


# --- the churn example ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [iam_no_wildcard_actions, iam_no_wildcard_resources, iam_metrics_namespace],
    ids=lambda rule: rule.id,
)
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_churn_example_roles_pass(rule, env):
    judged = judge(rule, churn(env))
    assert judged.failing == {}
    assert judged.passing == {
        "feature_store.customers/role-policy",
        "model.churn-model/role-policy",
        "pipeline.train-churn/role-policy",
        "pipeline.train-churn/schedule-role-policy",
        "monitor.churn-drift/role-policy",
        "monitor.churn-drift/job-role-policy",
        "monitor.churn-drift/schedule-role-policy",
        "monitor.churn-drift/retrain-role-policy",
        "monitor.churn-quality/role-policy",
        "monitor.churn-quality/job-role-policy",
        "monitor.churn-quality/schedule-role-policy",
        "batch_job.churn-scores/role-policy",
        "batch_job.churn-scores/schedule-role-policy",
    }
