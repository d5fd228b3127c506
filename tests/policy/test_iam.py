"""The IAM statement algebra: documents read as statements, IAM's wildcards, principals, and
what one version of a statement allows that another does not."""

from __future__ import annotations

import json

import pytest

from mlinfra.ir.graph import Json, Ref
from mlinfra.policy.diff.iam import (
    Statement,
    account_wide,
    covers,
    difference,
    matches,
    pair,
    principals,
    statements,
)

BUCKET_ARN = Ref("bucket.data", "arn")


def statement(sid: str | None = None, effect: str = "Allow", **fields) -> Statement:
    """A statement as `statements` reads it from a document."""
    data = {"Effect": effect, **fields}
    if sid:
        data["Sid"] = sid
    (found,) = statements({"Statement": [data]})
    return found


# --- wildcards ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:getobject", "S3:GetObject", True),  # actions ignore case
        ("s3:GetObject", "s3:*", True),
        ("s3:GetObject", "s3:Get*", True),
        ("s3:PutObject", "s3:Get*", False),
        ("s3:GetObject", "s3:GetObjec?", True),
        ("s3:GetObjects", "s3:GetObjec?", False),
        ("s3:GetObject", "*", True),
        ("s3.GetObject", "s3:GetObject", False),  # `.` is no wildcard
    ],
)
def test_iam_wildcards_match_any_run_or_one_character(value, pattern, expected):
    assert matches(value, pattern) is expected


def test_a_resource_is_covered_by_itself_or_a_wildcard_that_matches_it():
    assert covers("arn:aws:s3:::data/*", "arn:aws:s3:::data/a.csv")
    assert covers(BUCKET_ARN, Ref("bucket.data", "arn"))  # the same reference
    assert not covers("arn:aws:s3:::data", "arn:aws:s3:::data/a.csv")  # no wildcard
    # A reference is matched as it is shown: `{bucket.data.arn}`.
    assert covers("{bucket.data.*", BUCKET_ARN)
    assert not covers(BUCKET_ARN, "arn:aws:s3:::data")


def test_actions_aws_grants_only_account_wide():
    assert account_wide("ecr:GetAuthorizationToken")
    assert account_wide("ec2:DescribeSubnets")
    assert account_wide("cloudwatch:putmetricdata")
    assert not account_wide("ec2:CreateNetworkInterface")


# --- reading documents -------------------------------------------------------------------------

DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": ["a", "b"]},
        {"Effect": "Deny", "NotAction": ["iam:*"], "NotResource": "c"},
        "not a statement",
        {"Sid": 3, "Action": ["kms:Decrypt"], "Resource": "*"},
    ],
}


@pytest.mark.parametrize("written", [DOCUMENT, Json(DOCUMENT), json.dumps(DOCUMENT)])
def test_a_document_is_read_as_its_statements_however_it_is_written(written):
    found = statements(written)

    assert [(s.sid, s.effect, s.actions, s.resources) for s in found] == [
        ("Read", "Allow", ("s3:GetObject",), ("a", "b")),
        (None, "Deny", ("iam:*",), ("c",)),  # NotAction and NotResource
        (None, "Allow", ("kms:Decrypt",), ("*",)),  # a Sid that is not text is no Sid
    ]
    assert found[0].data == DOCUMENT["Statement"][0]


@pytest.mark.parametrize("written", [None, "not JSON", Json(["a", "list"]), 42])
def test_what_is_not_a_document_has_no_statements(written):
    assert statements(written) == []


def test_a_broad_statement_allows_a_wildcard_action_or_an_action_on_everything():
    assert statement(Action="s3:*", Resource="arn:aws:s3:::data/*").broad
    assert statement(Action="s3:GetObject", Resource="*").broad
    assert not statement(Action="s3:GetObject", Resource="arn:aws:s3:::data/*").broad
    # What AWS grants only on `*` is not broad there, unless other actions come along.
    account_wide_only = ["ec2:DescribeVpcs", "ecr:GetAuthorizationToken"]
    assert not statement(Action=account_wide_only, Resource="*").broad
    assert statement(Action=["ec2:DescribeVpcs", "s3:GetObject"], Resource="*").broad
    assert not statement(effect="Deny", Action="*", Resource="*").broad


def test_a_statement_describes_its_actions_on_its_resources():
    s = statement(Action=["s3:GetObject", "s3:PutObject"], Resource=[BUCKET_ARN, "x"])

    assert s.describe() == "s3:GetObject, s3:PutObject on {bucket.data.arn}, x"
    assert s.describe(["s3:PutObject"], ["x"]) == "s3:PutObject on x"
    assert statement().describe() == "nothing on nothing"


def test_the_principals_a_trust_policy_lets_in():
    trust = Json(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["sagemaker.amazonaws.com", "events.amazonaws.com"]},
                },
                {"Principal": {"AWS": "arn:aws:iam::111111111111:root"}},  # Allow by default
                {"Effect": "Allow", "Principal": "*"},
                {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}},
            ]
        }
    )

    assert principals(trust) == {
        "Service:sagemaker.amazonaws.com",
        "Service:events.amazonaws.com",
        "AWS:arn:aws:iam::111111111111:root",
        "*",
    }
    assert principals(None) == set()


# --- comparing versions of a policy ------------------------------------------------------------


def test_statements_pair_by_sid_then_by_actions_then_unnamed_in_order():
    old = [
        statement("Logs", Action="logs:PutLogEvents"),
        statement(Action=["s3:PutObject", "s3:GetObject"]),
        statement(Action="kms:Decrypt"),
        statement("Gone", Action="ecr:BatchGetImage"),
    ]
    new = [
        statement(Action="kms:Encrypt"),  # edited in place: the unnamed one
        statement(Action=["s3:GetObject", "s3:PutObject"]),  # the same actions, reordered
        statement("Logs", Action="logs:*"),
        statement("Added", Action="sqs:SendMessage"),
    ]

    pairs, gone, added = pair(old, new)

    assert [(a.actions, b.actions) for a, b in pairs] == [
        (("logs:PutLogEvents",), ("logs:*",)),
        (("s3:PutObject", "s3:GetObject"), ("s3:GetObject", "s3:PutObject")),
        (("kms:Decrypt",), ("kms:Encrypt",)),
    ]
    assert [s.sid for s in gone] == ["Gone"]
    assert [s.sid for s in added] == ["Added"]


def test_an_action_an_old_wildcard_covered_is_not_gained():
    old = statement(Action="s3:Get*", Resource="arn:aws:s3:::data/*")
    new = statement(Action=["s3:GetObject", "s3:PutObject"], Resource="arn:aws:s3:::data/a")

    delta = difference(old, new)

    assert delta.gained_actions == ["s3:PutObject"]
    assert delta.lost_actions == ["s3:Get*"]
    assert delta.gained_resources == []
    assert delta.lost_resources == ["arn:aws:s3:::data/*"]
    assert delta.broadens and delta.narrows


def test_a_condition_dropped_broadens_and_one_added_narrows():
    bounded = statement(Action="s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "true"}})
    open_ = statement(Action="s3:GetObject")

    dropped, added = difference(bounded, open_), difference(open_, bounded)

    assert dropped.condition_dropped and dropped.broadens and not dropped.narrows
    assert added.condition_added and added.narrows and not added.broadens


def test_the_same_statement_differs_in_nothing():
    s = statement("Read", Action="s3:GetObject", Resource=[BUCKET_ARN])

    delta = difference(s, s)

    assert not delta.broadens and not delta.narrows
    assert delta.gained_actions == delta.lost_actions == []
