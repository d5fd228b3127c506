"""Compliance diffs: findings new and resolved between git revisions or two environments, and
the security-relevant changes between two IRs."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from mlinfra.diagnostics import Position, SourceRange
from mlinfra.ir.graph import Args, Concat, Json, Ref, Resource, ResourceGraph, build_graph
from mlinfra.operations.compliance import compare_environments, compare_revisions
from mlinfra.operations.errors import OperationError
from mlinfra.policy.diff.model import Change, ComplianceDiff
from mlinfra.policy.diff.security import as_supporting, security_changes
from mlinfra.policy.diff.views import render_diff
from mlinfra.policy.errors import AuditError
from mlinfra.policy.model import AuditContext, Finding, Rule
from mlinfra.policy.severity import Severity

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"


def _endpoint_kms(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not resource.properties.get("kms_key_arn"):
        yield ctx.finding(
            ENDPOINT_KMS, resource, "the endpoint's storage is not encrypted with KMS"
        )


# A rule of the test's own, passed to the diffs in place of `RULES`.
ENDPOINT_KMS = Rule(
    id="test-endpoint-kms",
    title="Endpoints encrypt their storage with KMS",
    severity=Severity.HIGH,
    packs=("baseline", "sagemaker-security", "prod-readiness"),
    resource_types=("aws.sagemaker.EndpointConfiguration",),
    rationale="test",
    remediation="set security.kms_key",
    check=_endpoint_kms,
)
RULES = (ENDPOINT_KMS,)


# --- a git repository holding the churn example ----------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the churn example under `specs/churn`, committed once."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    shutil.copytree(CHURN, root / "specs" / "churn", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "README.md").write_text("outside the spec folder\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    return root


def spec_of(repo: Path) -> Path:
    return repo / "specs" / "churn" / "mlinfra.yaml"


def edit(repo: Path, old: str, new: str, commit: str | None = None) -> None:
    path = spec_of(repo)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    if commit:
        git(repo, "commit", "-q", "-a", "-m", commit)


def keys(findings) -> set[tuple[str, str, str]]:
    """(rule, environment, address): these tests' rule reports nothing inside a resource."""
    assert all(f.subject == "" for f in findings)
    return {f.key()[:3] for f in findings}


def shapes(changes) -> set[tuple[str, str, str, str]]:
    return {(c.environment, c.category, c.direction, c.address) for c in changes}


DROP_KMS = ("      kms_key: create\n", "")
S3_INPUT = (
    "inputs: [feature_store.customers]",
    'inputs: [feature_store.customers, "s3://raw-data/churn/"]',
)


# --- between revisions -----------------------------------------------------------------------


def test_dropping_the_kms_key_is_a_new_finding_and_weakens_encryption(repo):
    edit(repo, *DROP_KMS, commit="v2: no key")

    diff = compare_revisions(spec_of(repo), "HEAD~1", "HEAD", "prod", rules=RULES)

    assert keys(diff.new) == {("test-endpoint-kms", "prod", "endpoint.churn-api/config")}
    assert diff.resolved == ()
    assert diff.environments == ("prod",)
    found = shapes(diff.changes)
    assert ("prod", "encryption", "weakened", "endpoint.churn-api/config") in found
    assert ("prod", "encryption", "weakened", "kms.key") in found
    assert ("prod", "encryption", "weakened", "feature_store.customers") in found
    # The roles no longer need the key: their UseKmsKey statements go, with the encryption,
    # which is no strengthening of its own.
    assert ("prod", "iam", "changed", "pipeline.train-churn/role-policy") in found
    assert {c.direction for c in diff.changes if c.category == "iam"} == {"changed"}
    assert all(
        c.summary.endswith("as the KMS encryption this change turns off needs")
        for c in diff.changes
        if c.category == "iam"
    )
    assert {c.direction for c in diff.changes if c.category == "encryption"} == {"weakened"}
    endpoint = next(
        c
        for c in diff.changes
        if c.address == "endpoint.churn-api/config" and c.summary.endswith("(kms_key_arn)")
    )
    assert endpoint.before == "ref:kms.key.arn" and endpoint.after is None


def test_findings_point_at_the_spec_file_as_named_not_the_extracted_copy(repo):
    edit(repo, *DROP_KMS, commit="v2: no key")

    diff = compare_revisions(spec_of(repo), "HEAD~1", "HEAD", "prod", rules=RULES)

    (finding,) = diff.new
    assert finding.source.filename == str(spec_of(repo))
    # The head revision's line: the key was dropped above it, so it moved up by one.
    lines = spec_of(repo).read_text().splitlines()
    assert lines[finding.source.start.line - 1].strip() == "instance_type: ml.m5.large"
    assert finding.source.start.line > lines.index("endpoints:")


def test_restoring_the_kms_key_resolves_the_finding_and_strengthens_encryption(repo):
    edit(repo, *DROP_KMS, commit="v2: no key")
    git(repo, "revert", "--no-edit", "HEAD")

    diff = compare_revisions(spec_of(repo), "HEAD~1", "HEAD", "prod", rules=RULES)

    assert diff.new == ()
    assert keys(diff.resolved) == {("test-endpoint-kms", "prod", "endpoint.churn-api/config")}
    assert ("prod", "encryption", "strengthened", "kms.key") in shapes(diff.changes)


def test_an_s3_input_broadens_the_pipeline_role_statement_by_statement(repo):
    edit(repo, *S3_INPUT, commit="v2: raw data input")

    diff = compare_revisions(spec_of(repo), "HEAD~1", "HEAD", "dev", rules=RULES)

    assert diff.new == () and diff.resolved == ()
    assert diff.unchanged == 1  # dev's endpoint has no key, at both revisions
    assert [(c.category, c.direction, c.address, c.summary) for c in diff.changes] == [
        (
            "iam",
            "weakened",
            "pipeline.train-churn/role-policy",
            "IAM role policy pipeline.train-churn/role-policy may now s3:GetObject on "
            "arn:aws:s3:::raw-data/churn* (new statement ReadInputs)",
        ),
        (
            "iam",
            "weakened",
            "pipeline.train-churn/role-policy",
            "IAM role policy pipeline.train-churn/role-policy may now s3:ListBucket on "
            "arn:aws:s3:::raw-data (new statement ListInputs)",
        ),
    ]
    assert all(c.source.start.line == 92 for c in diff.changes)  # pipelines: train-churn


def test_moving_a_monitor_to_mlinfras_engine_is_compared_job_to_job(repo):
    model_monitor = (
        "    type: data_quality\n",
        "    type: data_quality\n    engine: model-monitor\n",
    )
    edit(repo, *model_monitor, commit="v2: on Model Monitor")

    # Back to mlinfra's engine (the default): the job moves from Model Monitor's job definition
    # to the monitor's pipeline, and loses the network isolation prod asks for (it reads S3
    # and puts metrics itself), keeping its VPC and its keys.
    diff = compare_revisions(spec_of(repo), "HEAD", "HEAD~1", "prod", rules=RULES)

    moved = [
        c for c in diff.changes if c.component == "monitor.churn-drift" and c.category != "iam"
    ]
    assert [(c.category, c.direction, c.address) for c in moved] == [
        ("network-isolation", "weakened", "monitor.churn-drift")
    ]
    assert moved[0].summary == (
        "monitor.churn-drift's job turns network isolation off "
        "(now run by Pipeline monitor.churn-drift)"
    )
    # And the other way, isolation comes back.
    back = compare_revisions(spec_of(repo), "HEAD~1", "HEAD", "prod", rules=RULES)
    judged = ("prod", "network-isolation", "strengthened", "monitor.churn-drift/job-definition")
    assert judged in shapes(back.changes)


def test_the_working_tree_is_the_head_when_none_is_given(repo):
    edit(repo, "    approval: manual\n", "    approval: auto\n")  # not committed

    diff = compare_revisions(spec_of(repo), "HEAD", None, "prod", rules=RULES)

    assert diff.head_label == "working tree"
    assert diff.base_label.startswith("HEAD (")
    assert [(c.category, c.direction, c.address) for c in diff.changes] == [
        ("approval", "weakened", "pipeline.train-churn")
    ]
    assert "approved automatically" in diff.changes[0].summary
    assert diff.changes[0].before == "PendingManualApproval"
    assert diff.changes[0].after == "Approved"


def test_every_audited_environment_in_both_revisions_is_compared(repo):
    edit(
        repo,
        "  prod:\n",
        '  staging:\n    target: sagemaker\n    account: "333333333333"\n  prod:\n',
    )
    git(repo, "commit", "-q", "-a", "-m", "v2: staging")

    diff = compare_revisions(spec_of(repo), "HEAD~1", "HEAD", None, rules=RULES)

    assert diff.environments == ("dev", "prod")
    assert any("'staging' added" in n for n in diff.notes)
    assert any("local" in n and "nothing to audit" in n for n in diff.notes)
    assert diff.new == () and diff.changes == ()


def test_an_unknown_revision_is_an_error_naming_it(repo):
    with pytest.raises(OperationError, match="unknown git revision 'no-such-branch'"):
        compare_revisions(spec_of(repo), "no-such-branch", None, "prod", rules=RULES)


def test_a_revision_that_looks_like_an_option_is_refused(repo):
    with pytest.raises(OperationError, match="not a git revision"):
        compare_revisions(spec_of(repo), "--output=/tmp/x", None, "prod", rules=RULES)


def test_a_folder_outside_git_is_an_error(tmp_path):
    shutil.copytree(CHURN, tmp_path / "churn")
    with pytest.raises(OperationError, match="not in a git repository"):
        compare_revisions(tmp_path / "churn" / "mlinfra.yaml", "HEAD", None, None, rules=RULES)


def test_a_spec_missing_at_the_base_revision_is_an_error(repo):
    (repo / "other").mkdir()
    shutil.copy(spec_of(repo), repo / "other" / "mlinfra.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v2: another spec")

    with pytest.raises(
        OperationError, match="other/mlinfra.yaml does not exist at revision HEAD~1"
    ):
        compare_revisions(repo / "other" / "mlinfra.yaml", "HEAD~1", "HEAD", None, rules=RULES)


def test_a_spec_invalid_at_a_revision_names_the_revision_and_the_first_error(repo):
    edit(repo, "project: churn\n", "project: churn\nunknown_section: 1\n", commit="v2: broken")

    with pytest.raises(
        OperationError, match=r"is invalid at revision HEAD \(line 7\): .*unknown_section"
    ):
        compare_revisions(spec_of(repo), "HEAD", "HEAD~1", None, rules=RULES)


def test_an_environment_missing_at_a_revision_is_an_error(repo):
    with pytest.raises(OperationError, match="no environment 'qa' at HEAD"):
        compare_revisions(spec_of(repo), "HEAD", None, "qa", rules=RULES)


# --- between environments --------------------------------------------------------------------


def test_dev_against_prod_matches_findings_by_rule_and_resource():
    diff = compare_environments(CHURN / "mlinfra.yaml", "dev", "prod", rules=RULES)

    assert (diff.base_label, diff.head_label) == ("dev", "prod")
    assert diff.new == ()
    assert [(f.rule.id, f.environment, f.address) for f in diff.resolved] == [
        ("test-endpoint-kms", "dev", "endpoint.churn-api/config")
    ]
    found = shapes(diff.changes)
    assert ("prod", "encryption", "strengthened", "endpoint.churn-api/config") in found
    assert ("prod", "network-isolation", "strengthened", "model.churn-model") in found
    assert ("prod", "vpc", "strengthened", "model.churn-model") in found
    assert ("prod", "approval", "strengthened", "pipeline.train-churn") in found


def test_dev_against_prod_sets_accounts_regions_and_names_aside():
    diff = compare_environments(CHURN / "mlinfra.yaml", "dev", "prod", rules=RULES)

    text = json.dumps([c.to_json() for c in diff.changes])
    assert "111111111111" not in text and "222222222222" not in text
    assert "us-east-1" not in text and "eu-west-1" not in text
    # What differs is what prod's `security:` turns on, not its names: nothing weakens, and
    # what changes besides is the permissions that KMS encryption and the VPC need.
    assert {c.direction for c in diff.changes} == {"strengthened", "changed"}
    changed = [c for c in diff.changes if c.direction == "changed"]
    assert {c.category for c in changed} == {"iam"}
    assert all(
        ("kms:" in c.summary and "the KMS encryption this change turns on" in c.summary)
        or ("ec2:" in c.summary and "the VPC this change turns on" in c.summary)
        for c in changed
    )


def test_a_permission_added_without_its_setting_is_still_a_weakening():
    statement = {"Sid": "UseKmsKey", "Effect": "Allow", "Action": ["kms:Decrypt"]}
    grant = Change(
        "model.m/role-policy", "model.m", "iam", "weakened", "may now", None, statement, None
    )
    # Encryption turned on elsewhere, in another component, is not what this role needs.
    elsewhere = Change("bucket.b", "bucket.b", "encryption", "strengthened", "kms", 1, 2, None)
    assert as_supporting([grant, elsewhere]) == [grant, elsewhere]
    # The key itself created by the change: the role's use of it goes with it.
    key = Change("kms.key", "kms.key", "encryption", "strengthened", "created", None, 1, None)
    (judged, _) = as_supporting([grant, key])
    assert judged.direction == "changed"


def test_comparing_with_a_missing_environment_suggests_one():
    with pytest.raises(OperationError, match="did you mean 'prod'"):
        compare_environments(CHURN / "mlinfra.yaml", "dev", "prd", rules=RULES)


def test_a_local_environment_is_not_compared():
    with pytest.raises(OperationError, match="nothing to audit"):
        compare_environments(CHURN / "mlinfra.yaml", "local", "dev", rules=RULES)


# --- security-relevant changes between two graphs --------------------------------------------


def source(line: int) -> SourceRange:
    return SourceRange("mlinfra.yaml", Position(line, 3), Position(line, 10))


def resource(address: str, type_: str, line: int = 1, **properties) -> Resource:
    return Resource(address, type_, MappingProxyType(properties), source(line))


def graph(*resources: Resource) -> ResourceGraph:
    return build_graph("churn", "dev", "sagemaker", "us-east-1", list(resources))


def role(address: str, service: str = "sagemaker.amazonaws.com") -> Resource:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": service}}]}
    return resource(address, "aws.iam.Role", 7, assume_role_policy=Json(trust))


def policy(address: str, role_address: str, *statements: dict) -> Resource:
    return resource(
        address,
        "aws.iam.RolePolicy",
        9,
        role=Ref(role_address, "id"),
        policy=Json({"Version": "2012-10-17", "Statement": list(statements)}),
    )


def allow(sid: str, actions, resources, **more) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **more}


BUCKET = resource("bucket.artifacts", "aws.s3.Bucket", bucket="b")
ARTIFACTS = Concat((Ref("bucket.artifacts", "arn"), "/pipelines/*"))
ROLE = role("pipeline.p/role")


def iam_changes(before: list[dict], after: list[dict]) -> list[tuple[str, str]]:
    old = graph(BUCKET, ROLE, policy("pipeline.p/role-policy", "pipeline.p/role", *before))
    new = graph(BUCKET, ROLE, policy("pipeline.p/role-policy", "pipeline.p/role", *after))
    return [(c.direction, c.summary) for c in security_changes(old, new)]


def test_a_statement_broadened_to_wildcards_is_a_weakening():
    before = [
        allow("Jobs", ["sagemaker:CreateTrainingJob"], ["arn:aws:sagemaker:::training-job/*"])
    ]
    after = [allow("Jobs", ["sagemaker:*"], ["*"])]

    assert iam_changes(before, after) == [
        (
            "weakened",
            # What `sagemaker:*` on `*` covers is not "no longer" allowed.
            "IAM role policy pipeline.p/role-policy may now sagemaker:* on * (statement Jobs)",
        )
    ]


def test_a_statement_narrowed_is_a_strengthening():
    before = [allow("Data", ["s3:GetObject", "s3:PutObject"], [ARTIFACTS])]
    after = [allow("Data", ["s3:GetObject"], [ARTIFACTS])]

    assert iam_changes(before, after) == [
        (
            "strengthened",
            "IAM role policy pipeline.p/role-policy may no longer s3:PutObject on "
            "{bucket.artifacts.arn}/pipelines/* (statement Data)",
        )
    ]


def test_an_action_a_wildcard_already_covered_broadens_nothing():
    before = [allow("Read", ["s3:Get*"], ["arn:aws:s3:::raw/*"])]
    after = [
        allow("Read", ["s3:Get*", "s3:GetObject"], ["arn:aws:s3:::raw/*", "arn:aws:s3:::raw/a/*"])
    ]

    assert iam_changes(before, after) == [
        ("changed", "IAM role policy pipeline.p/role-policy changes (statement Read)")
    ]


def test_a_dropped_condition_is_a_weakening():
    condition = {"StringLike": {"s3:prefix": ["pipelines/*"]}}
    before = [allow("List", ["s3:ListBucket"], ["arn:aws:s3:::b"], Condition=condition)]
    after = [allow("List", ["s3:ListBucket"], ["arn:aws:s3:::b"])]

    ((direction, summary),) = iam_changes(before, after)
    assert direction == "weakened"
    assert "drops its condition" in summary


def test_new_and_removed_statements_weaken_and_strengthen():
    kept = allow("Data", ["s3:GetObject"], [ARTIFACTS])
    gone = allow("Logs", ["logs:PutLogEvents"], ["arn:aws:logs:::log-group:/aws/sagemaker/*"])
    added = allow(
        "Models", ["sagemaker:CreateModelPackage"], ["arn:aws:sagemaker:::model-package/*"]
    )

    assert sorted(iam_changes([kept, gone], [kept, added])) == [
        (
            "strengthened",
            "IAM role policy pipeline.p/role-policy may no longer logs:PutLogEvents on "
            "arn:aws:logs:::log-group:/aws/sagemaker/* (statement removed Logs)",
        ),
        (
            "weakened",
            "IAM role policy pipeline.p/role-policy may now sagemaker:CreateModelPackage on "
            "arn:aws:sagemaker:::model-package/* (new statement Models)",
        ),
    ]


def test_a_deny_statement_added_is_a_strengthening():
    deny = {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}

    assert iam_changes([], [deny]) == [
        (
            "strengthened",
            "IAM role policy pipeline.p/role-policy now denies s3:DeleteObject on * "
            "(new statement NoDelete)",
        )
    ]


def test_a_new_role_with_broad_permissions_is_a_weakening_and_a_narrow_one_a_change():
    broad = graph(
        BUCKET,
        role("pipeline.q/role"),
        policy("pipeline.q/role-policy", "pipeline.q/role", allow("All", ["s3:*"], ["*"])),
    )
    narrow = graph(
        BUCKET,
        role("pipeline.q/role"),
        policy(
            "pipeline.q/role-policy",
            "pipeline.q/role",
            allow("Read", ["s3:GetObject"], [ARTIFACTS]),
        ),
    )

    (change,) = security_changes(graph(BUCKET), broad)
    assert (change.category, change.direction, change.address) == (
        "iam",
        "weakened",
        "pipeline.q/role",
    )
    assert change.summary == (
        "new IAM role pipeline.q/role (assumed by Service:sagemaker.amazonaws.com) may s3:* on *"
    )
    (change,) = security_changes(graph(BUCKET), narrow)
    assert change.direction == "changed"
    (change,) = security_changes(narrow, graph(BUCKET))
    assert (change.direction, change.address, change.source) == (
        "strengthened",
        "pipeline.q/role",
        None,
    )


def test_a_role_assumable_by_a_new_principal_is_a_weakening():
    old = graph(role("pipeline.p/role"))
    new = graph(role("pipeline.p/role", service="lambda.amazonaws.com"))

    ((category, direction, summary),) = [
        (c.category, c.direction, c.summary) for c in security_changes(old, new)
    ]
    assert (category, direction) == ("iam", "weakened")
    assert "may now be assumed by Service:lambda.amazonaws.com" in summary


def public_access_block(**flags) -> Resource:
    settings = {
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
        **flags,
    }
    return resource(
        "bucket.artifacts/public-access-block",
        "aws.s3.BucketPublicAccessBlock",
        4,
        bucket=Ref("bucket.artifacts", "bucket"),
        **settings,
    )


def test_a_public_access_block_removed_or_loosened_weakens_public_access():
    guarded = graph(BUCKET, public_access_block())

    (removed,) = security_changes(guarded, graph(BUCKET))
    assert (removed.category, removed.direction, removed.address) == (
        "public-access",
        "weakened",
        "bucket.artifacts/public-access-block",
    )
    assert removed.summary.startswith("bucket.artifacts loses its public access block")
    (loosened,) = security_changes(
        guarded, graph(BUCKET, public_access_block(block_public_policy=False))
    )
    assert (loosened.category, loosened.direction) == ("public-access", "weakened")
    assert "blocking public bucket policies off" in loosened.summary
    (added,) = security_changes(graph(BUCKET), guarded)
    assert (added.category, added.direction) == ("public-access", "strengthened")


def endpoint_config(**capture) -> Resource:
    return resource(
        "endpoint.api/config",
        "aws.sagemaker.EndpointConfiguration",
        20,
        data_capture_config=Args(
            "aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs", capture
        ),
    )


def test_data_capture_turned_down_or_off_is_a_weakening():
    on = graph(endpoint_config(enable_capture=True, initial_sampling_percentage=20))
    less = graph(endpoint_config(enable_capture=True, initial_sampling_percentage=5))
    off = graph(endpoint_config(enable_capture=False, initial_sampling_percentage=20))

    assert [(c.category, c.direction, c.summary) for c in security_changes(on, less)] == [
        (
            "data-capture",
            "weakened",
            "endpoint.api/config captures 5% of requests, was 20% "
            "(data_capture_config.initial_sampling_percentage)",
        )
    ]
    assert [(c.category, c.direction) for c in security_changes(on, off)] == [
        ("data-capture", "weakened")
    ]
    assert [(c.category, c.direction) for c in security_changes(less, on)] == [
        ("data-capture", "strengthened")
    ]


def test_a_setting_is_judged_alike_in_pulumi_arguments_and_in_json_documents():
    # One meaning, one key: `enable_network_isolation` of a model is SageMaker's
    # EnableNetworkIsolation, as a step's in a pipeline definition is; the path stays the
    # resource's own spelling.
    def model(isolated: bool) -> Resource:
        return resource("model.m", "aws.sagemaker.Model", 10, enable_network_isolation=isolated)

    def pipeline(isolated: bool) -> Resource:
        step = {"Name": "train", "Type": "Training", "Arguments": {}}
        step["Arguments"]["EnableNetworkIsolation"] = isolated
        definition = Json({"Steps": [step]})
        return resource("pipeline.p", "aws.sagemaker.Pipeline", 30, pipeline_definition=definition)

    changes = security_changes(
        graph(model(True), pipeline(True)), graph(model(False), pipeline(False))
    )
    assert [(c.address, c.category, c.direction, c.summary) for c in changes] == [
        (
            "model.m",
            "network-isolation",
            "weakened",
            "model.m turns network isolation off (enable_network_isolation)",
        ),
        (
            "pipeline.p",
            "network-isolation",
            "weakened",
            "pipeline.p turns network isolation off "
            "(pipeline_definition.Steps[train].Arguments.EnableNetworkIsolation)",
        ),
    ]


def test_kms_keys_inside_json_documents_are_compared():
    def pipeline(step: dict) -> Resource:
        definition = Json({"Steps": [{"Name": "train", "Type": "Training", "Arguments": step}]})
        return resource("pipeline.p", "aws.sagemaker.Pipeline", 30, pipeline_definition=definition)

    keyed = {"ResourceConfig": {"VolumeKmsKeyId": Ref("kms.key", "arn")}}
    key = resource("kms.key", "aws.kms.Key", 2)

    (change,) = security_changes(
        graph(key, pipeline(keyed)), graph(key, pipeline({"ResourceConfig": {}}))
    )
    assert (change.category, change.direction, change.address) == (
        "encryption",
        "weakened",
        "pipeline.p",
    )
    assert change.summary == (
        "pipeline.p no longer encrypts with a KMS key "
        "(pipeline_definition.Steps[train].Arguments.ResourceConfig.VolumeKmsKeyId)"
    )
    assert change.source == source(30)


def test_equal_graphs_have_no_changes():
    same = graph(
        BUCKET,
        public_access_block(),
        ROLE,
        policy(
            "pipeline.p/role-policy", "pipeline.p/role", allow("A", ["s3:GetObject"], [ARTIFACTS])
        ),
    )
    assert security_changes(same, same) == ()


# --- rendering -------------------------------------------------------------------------------


def finding(address: str, severity: Severity = Severity.HIGH, message: str = "no key") -> Finding:
    rule = Rule(
        id=f"test-{severity.label}",
        title="t",
        severity=severity,
        packs=("baseline",),
        resource_types=(),
        rationale="r",
        remediation="m",
        check=_endpoint_kms,
    )
    return Finding(rule, "prod", address, address.split("/")[0], message, source(12))


def change(direction: str, summary: str = "IAM role policy x may now s3:* on *") -> Change:
    return Change(
        "pipeline.p/role-policy",
        "pipeline.p",
        "iam",
        direction,
        summary,
        None,
        {"Effect": "Allow"},
        source(9),
        "prod",
    )


def a_diff(**more) -> ComplianceDiff:
    values = {
        "base_label": "main (3f2a1b0)",
        "head_label": "working tree",
        "environments": ("prod",),
        "new": (finding("endpoint.a/config"), finding("endpoint.b/config", Severity.LOW)),
        "resolved": (finding("endpoint.c/config", Severity.MEDIUM),),
        "unchanged": 4,
        "changes": (change("weakened"), change("weakened"), change("strengthened")),
        "spec_file": "mlinfra.yaml",
        **more,
    }
    return ComplianceDiff(**values)


def test_the_summary_counts_findings_by_severity_and_changes_by_direction():
    assert a_diff().summary() == (
        "2 new findings (1 high, 1 low), 1 resolved, 3 security-relevant changes "
        "(2 weakened, 1 strengthened)"
    )


def test_json_has_a_format_version_a_summary_and_every_item():
    data = json.loads(render_diff(a_diff(), "json"))

    assert data["format_version"] == 1
    assert data["kind"] == "compliance-diff"
    assert (data["base"], data["head"]) == ("main (3f2a1b0)", "working tree")
    assert data["summary"] == {
        "new": 2,
        "new_by_severity": {"high": 1, "low": 1},
        "resolved": 1,
        "unchanged": 4,
        "changes": 3,
        "weakened": 2,
        "strengthened": 1,
        "changed": 0,
    }
    assert data["new"][0]["rule"] == "test-high"
    assert data["new"][0]["source"]["start"] == {"line": 12, "column": 3}
    assert data["changes"][0]["after"] == {"Effect": "Allow"}


def test_markdown_opens_with_the_summary_then_tables():
    text = render_diff(a_diff(), "markdown")

    lines = text.splitlines()
    assert lines[0] == "### mlinfra compliance: `main (3f2a1b0)` → `working tree`"
    assert lines[2].startswith(
        "**2 new findings (1 high, 1 low), 1 resolved, "
        "3 security-relevant changes (2 weakened, 1 strengthened)**"
    )
    assert text.index("#### New findings") < text.index("#### Resolved findings")
    assert text.index("#### Resolved findings") < text.index("#### Security-relevant changes")
    assert "| **high** | `test-high` | `endpoint.a/config` | `mlinfra.yaml:12` | no key |" in text
    assert "<details>" not in text


def test_markdown_escapes_user_text_in_tables():
    nasty = "a | b\nline `two` <script>alert(1)</script> [x](http://e)"
    text = render_diff(a_diff(new=(finding("endpoint.a/config", message=nasty),)), "markdown")

    row = next(line for line in text.splitlines() if "endpoint.a/config" in line)
    assert r"a \| b<br>line \`two\` &lt;script&gt;alert(1)&lt;/script&gt; \[x\](http://e)" in row
    assert "<script>" not in text
    assert row.count(" | ") == 4  # five cells, none split by the message


def test_markdown_folds_long_lists():
    many = tuple(finding(f"endpoint.e{i}/config") for i in range(12))
    text = render_diff(a_diff(new=many), "markdown")

    assert "<details>\n<summary>12 new findings</summary>" in text


def test_text_lists_new_findings_and_changes():
    text = render_diff(a_diff(), "text")

    assert text.splitlines()[0] == "Compliance diff main (3f2a1b0) → working tree (prod)"
    assert "HIGH     test-high  prod  endpoint.a/config  mlinfra.yaml:12" in text
    assert "weakened     iam" in text


def test_an_unsupported_format_is_an_error():
    with pytest.raises(AuditError, match="no 'sarif' format"):
        render_diff(a_diff(), "sarif")
