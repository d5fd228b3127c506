"""Compliance diffs: what a change to the spec, or a step from one environment to another, does
to compliance.

Two audits are compared finding by finding (new, resolved, unchanged), and the two IRs are
compared for security-relevant changes the rules may not fail on: a KMS key dropped, network
isolation turned off, a VPC left, an IAM statement broadened, a public access block removed,
model approval made automatic, data capture turned down. The two sides are read (from git, or
from two environments of the working tree) by `mlinfra.operations.compliance`.

`render_diff` writes a diff as text, JSON (`FORMAT_VERSION`) or Markdown for a pull request.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mlinfra.audit.errors import AuditError
from mlinfra.audit.model import Finding, Rule
from mlinfra.audit.reports import markdown as md
from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import (
    Args,
    Call,
    Concat,
    FileAsset,
    Json,
    Ref,
    Resource,
    ResourceGraph,
    canonical,
)

if TYPE_CHECKING:
    from mlinfra.audit.engine import AuditResult
    from mlinfra.spec.model import EnvSpec

# Bump when the JSON shape changes incompatibly; readers check it.
FORMAT_VERSION = 1
FORMATS = ("text", "json", "markdown")

CATEGORIES = (
    "encryption",
    "network-isolation",
    "vpc",
    "iam",
    "public-access",
    "approval",
    "data-capture",
)
DIRECTIONS = ("weakened", "strengthened", "changed")


@dataclass(frozen=True)
class Change:
    """One security-relevant difference between two IRs, in plain words."""

    address: str  # the resource: "pipeline.train-churn/role-policy"
    component: str  # its spec component: "pipeline.train-churn"
    category: str  # one of CATEGORIES
    direction: str  # "weakened" | "strengthened" | "changed"
    summary: str  # "IAM role policy pipeline.train-churn/role-policy may now s3:* on *"
    # Plain JSON data (markers spelled out as `canonical` does), None where absent; so a
    # Change compares equal by value but, holding dicts, is not hashable.
    before: Any
    after: Any
    source: SourceRange | None  # the head side's resource, None when it is gone
    environment: str = ""

    def to_json(self) -> dict:
        return {
            "environment": self.environment,
            "address": self.address,
            "component": self.component,
            "category": self.category,
            "direction": self.direction,
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
            "source": self.source.to_json() if self.source else None,
        }


@dataclass(frozen=True)
class ComplianceDiff:
    """Base against head: findings new and resolved, and security-relevant changes."""

    base_label: str  # "main (3f2a1b0)", or the base environment for --against-env
    head_label: str  # "working tree", "HEAD (9c1d2e3)", or the other environment
    environments: tuple[str, ...]  # compared: ("dev", "prod"), or (env, other) for two envs
    new: tuple[Finding, ...]  # active in head, not in base
    resolved: tuple[Finding, ...]  # active in base, not in head
    unchanged: int  # active in both
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()  # environments added or removed, warnings from the audits
    spec_file: str = ""

    @property
    def weakened(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.direction == "weakened")

    def summary(self) -> str:
        """`2 new findings (1 high), 1 resolved, 3 security-relevant changes (2 weakened)`."""
        new = md.plural(len(self.new), "new finding")
        if self.new:
            new += f" ({md.by_severity(self.new)})"
        changes = md.plural(len(self.changes), "security-relevant change")
        directions = Counter(c.direction for c in self.changes)
        if self.changes:
            changes += (
                " (" + ", ".join(f"{directions[d]} {d}" for d in DIRECTIONS if directions[d]) + ")"
            )
        return f"{new}, {len(self.resolved)} resolved, {changes}"


# --- comparing audits ---------------------------------------------------------------------------
#
# Reading the two sides (the spec at git revisions, or two environments of the working tree)
# is `mlinfra.operations.compliance`'s; here each environment's pair of graphs is judged.


@dataclass(frozen=True)
class EnvironmentDiff:
    """One environment's (or one pair of environments') findings new and resolved, and the
    security-relevant changes between its two graphs."""

    new: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    unchanged: int
    changes: tuple[Change, ...]
    base_warnings: tuple[str, ...]  # the base audit's warnings, as `env: warning`
    head_warnings: tuple[str, ...]


def judge(
    base: tuple[EnvSpec, ResourceGraph],
    head: tuple[EnvSpec, ResourceGraph],
    spec_file: str,
    *,
    across_environments: bool = False,
    rules: tuple[Rule, ...] | None = None,
    today: date | None = None,
) -> EnvironmentDiff:
    """Audit both sides and compare them. The same environment at two revisions matches
    findings on their key; two environments (`across_environments`) match them on (rule,
    resource), and compare their graphs with account, region and names set aside."""
    (base_spec, base_graph), (head_spec, head_graph) = base, head
    base_result = _audit(base_spec, base_graph, spec_file, rules, today)
    head_result = _audit(head_spec, head_graph, spec_file, rules, today)
    key = (lambda f: (f.rule.id, f.address)) if across_environments else Finding.key
    added, gone, same = _compare_findings(base_result, head_result, key)
    return EnvironmentDiff(
        tuple(added),
        tuple(gone),
        same,
        security_changes(base_graph, head_graph, normalize=across_environments),
        tuple(f"{base_result.environment}: {w}" for w in base_result.warnings),
        tuple(f"{head_result.environment}: {w}" for w in head_result.warnings),
    )


def combine(
    base_label: str,
    head_label: str,
    environments: tuple[str, ...],
    judged: Iterable[EnvironmentDiff],
    notes: Iterable[str],
    spec_file: str,
) -> ComplianceDiff:
    """The compliance diff of the environments `judged`, with `notes` about the comparison."""
    found_new: list[Finding] = []
    found_resolved: list[Finding] = []
    unchanged = 0
    changes: list[Change] = []
    for each in judged:
        found_new += each.new
        found_resolved += each.resolved
        unchanged += each.unchanged
        changes += each.changes
    return ComplianceDiff(
        base_label=base_label,
        head_label=head_label,
        environments=environments,
        new=tuple(md.ordered(found_new)),
        resolved=tuple(md.ordered(found_resolved)),
        unchanged=unchanged,
        # Weakenings first across every environment: what a reviewer must read.
        changes=tuple(sorted(changes, key=lambda c: (_ORDER[c.direction], c.environment))),
        notes=tuple(dict.fromkeys(notes)),
        spec_file=spec_file,
    )


def _compare_findings(
    base: AuditResult, head: AuditResult, key: Callable[[Finding], tuple]
) -> tuple[list[Finding], list[Finding], int]:
    before = {key(f): f for f in base.active()}
    after = {key(f): f for f in head.active()}
    added = [f for k, f in after.items() if k not in before]
    gone = [f for k, f in before.items() if k not in after]
    return added, gone, len(after.keys() & before.keys())


def _audit(spec: EnvSpec, graph: ResourceGraph, spec_file: str, rules, today) -> AuditResult:
    from mlinfra.audit.engine import audit_environment

    return audit_environment(spec, graph, spec_file, today=today, rules=rules)


# --- security-relevant changes ------------------------------------------------------------------

# Keys whose value is the KMS key something is encrypted with, in pulumi_aws properties and
# in the JSON documents (pipeline definitions) inside them.
KMS_KEYS = frozenset(
    {
        "kms_key_arn",
        "kms_key_id",
        "kms_master_key_id",
        "volume_kms_key_id",
        "KmsKeyId",
        "VolumeKmsKeyId",
        "KmsKeyArn",
    }
)
# Switches that are the safe setting when true: (category, what turning it off means).
SAFE_WHEN_ON = {
    "enable_network_isolation": ("network-isolation", "network isolation"),
    "EnableNetworkIsolation": ("network-isolation", "network isolation"),
    "enable_inter_container_traffic_encryption": (
        "encryption",
        "inter-container traffic encryption",
    ),
    "EnableInterContainerTrafficEncryption": ("encryption", "inter-container traffic encryption"),
    "enable_key_rotation": ("encryption", "key rotation"),
    "EnableKeyRotation": ("encryption", "key rotation"),
    "block_public_acls": ("public-access", "blocking public ACLs"),
    "block_public_policy": ("public-access", "blocking public bucket policies"),
    "ignore_public_acls": ("public-access", "ignoring public ACLs"),
    "restrict_public_buckets": ("public-access", "restricting public buckets"),
    "enable_capture": ("data-capture", "data capture"),
    "EnableCapture": ("data-capture", "data capture"),
}
VPC_KEYS = frozenset({"vpc_config", "VpcConfig"})
SAMPLING_KEYS = frozenset({"initial_sampling_percentage", "InitialSamplingPercentage"})
APPROVAL_KEYS = frozenset({"ModelApprovalStatus", "model_approval_status"})
SSE_KEYS = frozenset({"sse_algorithm", "SSEAlgorithm"})
SSE_STRENGTH = {"AES256": 1, "aws:kms": 2, "aws:kms:dsse": 3}
# What names an element of a list, so paths read `Steps[train]` rather than `Steps[1]`.
NAME_KEYS = (
    "Name",
    "name",
    "OutputName",
    "InputName",
    "ChannelName",
    "variant_name",
    "VariantName",
    "capture_mode",
    "CaptureMode",
)
POLICY_TYPES = {
    "aws.iam.RolePolicy": "IAM role policy",
    "aws.iam.Policy": "IAM policy",
    "aws.s3.BucketPolicy": "bucket policy",
}
ROLE_TYPES = frozenset({"aws.iam.Role"})
# Resources that guard another (named by their `bucket` Ref): gone while it stays, a weakening.
GUARDS = {
    "aws.s3.BucketPublicAccessBlock": ("public-access", "its public access block"),
    "aws.s3.BucketServerSideEncryptionConfiguration": ("encryption", "its default encryption"),
}
KEY_TYPES = frozenset({"aws.kms.Key"})
# Actions AWS grants only on `*`; a statement allowing them on `*` is not broad.
ACCOUNT_WIDE_ACTIONS = ("ecr:GetAuthorizationToken", "ec2:Describe*", "cloudwatch:PutMetricData")
_ORDER = {d: i for i, d in enumerate(DIRECTIONS)}


def security_changes(
    base: ResourceGraph, head: ResourceGraph, *, normalize: bool = False
) -> tuple[Change, ...]:
    """Security-relevant differences from `base` to `head`, weakenings first.

    With `normalize`, each graph's account ids, region and `<project>-<env>` names are set
    aside first, so two environments compare on what their spec configures.
    """
    before = _resources(base, normalize)
    after = _resources(head, normalize)
    env = head.env
    found: list[Change] = []
    for address, new in after.items():
        old = before.get(address)
        if old is None or old.type != new.type:
            found += _added(new, before, after)
        else:
            found += _settings(old, new)
            if new.type in POLICY_TYPES:
                found += _policy_changes(old, new)
            if new.type in ROLE_TYPES:
                found += _trust_changes(old, new)
    for address, old in before.items():
        new = after.get(address)
        if new is None or new.type != old.type:
            found += _removed(old, before, after)
    found += _monitor_job_changes(before, after)
    found = [_with_env(c, env) for c in _as_supporting(found)]
    found.sort(key=lambda c: (_ORDER[c.direction], c.category, c.address, c.summary))
    unique = {(c.address, c.category, c.direction, c.summary): c for c in found}
    return tuple(unique.values())


# A monitor's job settings, compared across engines: (Job field, category, what it is).
_JOB_SWITCHES = (
    ("network_isolation", "network-isolation", "network isolation"),
    ("in_vpc", "vpc", "running in the VPC"),
    ("encrypts_inter_container_traffic", "encryption", "inter-container traffic encryption"),
)
_JOB_KEYS = (("volume_key", "its storage volumes"), ("output_key", "its outputs"))


def _monitor_jobs(resources: Mapping[str, Resource]) -> dict[str, tuple[Resource, Any]]:
    """Each monitor's job (as the audit's job rules see it) and the resource that runs it."""
    from mlinfra.audit.rules.jobs import JOB_TYPES, jobs

    found: dict[str, tuple[Resource, Any]] = {}
    for r in resources.values():
        if r.component.startswith("monitor.") and r.type in JOB_TYPES:
            for job in jobs(r):
                found[r.component] = (r, job)
    return found


def _monitor_job_changes(
    before: Mapping[str, Resource], after: Mapping[str, Resource]
) -> list[Change]:
    """A monitor moved to another engine (Model Monitor's job definition to mlinfra's
    pipeline, or back) keeps its job's security settings only if the new resource sets them
    too: compared here job to job, since the two resources share no property paths."""
    old, new = _monitor_jobs(before), _monitor_jobs(after)
    found: list[Change] = []
    for component in sorted(old.keys() & new.keys()):
        (was_in, was), (now_in, now) = old[component], new[component]
        if (was_in.address, was_in.type) != (now_in.address, now_in.type):
            # Else the same resource: its settings are compared path by path.
            found += _job_moved(component, was, now_in, now)
    return found


def _job_moved(component: str, was: Any, now_in: Resource, now: Any) -> list[Change]:
    moved = f"now run by {now_in.type.rsplit('.', 1)[1]} {now_in.address}"

    def change(category: str, direction: str, summary: str, a: Any, b: Any) -> Change:
        summary = f"{component}'s job {summary} ({moved})"
        return Change(now_in.address, component, category, direction, summary, a, b, now_in.source)

    found = []
    for field, category, what in _JOB_SWITCHES:
        a, b = getattr(was, field), getattr(now, field)
        if a != b:
            turned = "on" if b else "off"
            direction = "strengthened" if b else "weakened"
            found.append(change(category, direction, f"turns {what} {turned}", a, b))
    for field, what in _JOB_KEYS:
        a, b = getattr(was, field), getattr(now, field)
        if (a is None) == (b is None):
            continue
        plain = (None if a is None else canonical(a), None if b is None else canonical(b))
        if b is None:
            summary = f"no longer encrypts {what} with a KMS key"
            found.append(change("encryption", "weakened", summary, *plain))
        else:
            summary = f"now encrypts {what} with KMS key {show(b)}"
            found.append(change("encryption", "strengthened", summary, *plain))
    return found


def _as_supporting(changes: list[Change]) -> list[Change]:
    """An IAM statement that a security setting brings with it (KMS use for encryption,
    network interfaces for a VPC), added or removed with that setting, is what the setting
    needs rather than a weakening or strengthening of its own: "changed", saying which.

    The setting's own change is in the same component, or, for the environment's KMS key,
    is the key being created or removed."""
    from mlinfra.ir.sagemaker.context import KMS_KEY
    from mlinfra.ir.sagemaker.iam import SUPPORTING_SIDS

    settings = {(c.component, c.category, c.direction) for c in changes if c.category != "iam"}
    found = []
    for c in changes:
        statement = c.after if c.before is None else c.before if c.after is None else None
        sid = statement.get("Sid") if isinstance(statement, Mapping) else None
        category = SUPPORTING_SIDS.get(sid)
        if category is None or c.category != "iam" or c.direction == "changed":
            found.append(c)
            continue
        # Adding a permission goes with turning the setting on, removing it with turning off.
        setting = "strengthened" if c.direction == "weakened" else "weakened"
        owners = {c.component, KMS_KEY} if category == "encryption" else {c.component}
        if not any((owner, category, setting) in settings for owner in owners):
            found.append(c)
            continue
        turned = "on" if setting == "strengthened" else "off"
        what = {"encryption": "KMS encryption", "vpc": "VPC"}[category]
        found.append(
            replace(
                c,
                direction="changed",
                summary=f"{c.summary}, as the {what} this change turns {turned} needs",
            )
        )
    return found


def _with_env(change: Change, env: str) -> Change:
    return replace(change, environment=env)


def _resources(graph: ResourceGraph, normalize: bool) -> dict[str, Resource]:
    if not normalize:
        return {r.address: r for r in graph.resources}
    norm = _normalizer(graph)
    return {r.address: replace(r, properties=_rewrite(r.properties, norm)) for r in graph.resources}


_ACCOUNT = re.compile(r"(?<!\d)\d{12}(?!\d)")


def _normalizer(graph: ResourceGraph) -> Callable[[str], str]:
    prefix = f"{graph.project}-{graph.env}"

    def norm(text: str) -> str:
        text = _ACCOUNT.sub("<account>", text)
        if graph.region:
            text = text.replace(graph.region, "<region>")
        return text.replace(prefix, "<project>-<env>")

    return norm


def _rewrite(value: Any, norm: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return norm(value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: _rewrite(v, norm) for k, v in value.items()})
    if isinstance(value, tuple | list):
        return tuple(_rewrite(v, norm) for v in value)
    if isinstance(value, Args):
        return Args(value.type, _rewrite(value.fields, norm))
    if isinstance(value, Json):
        return Json(_rewrite(value.value, norm))
    if isinstance(value, Concat):
        return Concat(_rewrite(value.parts, norm))
    if isinstance(value, Call):
        return Call(value.function, _rewrite(value.args, norm))
    return value  # Ref, FileAsset, scalars


# -- showing values ------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A property value as a reader would write it: Refs as `{kms.key.arn}`."""
    if isinstance(value, Ref):
        return f"{{{value.address}.{value.attribute}}}"
    if isinstance(value, Concat):
        return "".join(show(p) for p in value.parts)
    if isinstance(value, Call):
        return f"{{{value.function}({', '.join(show(a) for a in value.args)})}}"
    if isinstance(value, Json):
        return show(value.value)
    if isinstance(value, Args):
        return show(value.fields)
    if isinstance(value, FileAsset):
        return value.path
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple | list):
        return ", ".join(show(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    return _key(a) == _key(b)


def _key(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, default=str)


# -- settings: encryption, isolation, VPC, public access, approval, capture ----------------------


def _fields(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) of the mappings inside a property value, through Args and Json."""
    if isinstance(value, Json):
        yield from _fields(value.value, path)
    elif isinstance(value, Args):
        yield from _fields(value.fields, path)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield (*path, str(k)), v
            yield from _fields(v, (*path, str(k)))
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            label = f"[{_element_name(item, i)}]"
            where = (*path[:-1], path[-1] + label) if path else (label,)
            yield from _fields(item, where)


def _element_name(item: Any, index: int) -> str:
    fields = item.fields if isinstance(item, Args) else item
    if isinstance(fields, Mapping):
        for key in NAME_KEYS:
            if isinstance(fields.get(key), str):
                return fields[key]
    return str(index)


def _settings(old: Resource, new: Resource) -> list[Change]:
    """The security settings of one resource on both sides, compared path by path."""
    before = _setting_values(old)
    after = _setting_values(new)
    found: list[Change] = []
    for path in dict.fromkeys([*before, *after]):
        key = path[-1].split("[", 1)[0]
        a, b = before.get(path), after.get(path)
        if _same(a, b):
            continue
        change = _judge(new, key, ".".join(path), a, b)
        if change is not None:
            found.append(change)
    return found


def _setting_values(resource: Resource) -> dict[tuple[str, ...], Any]:
    interesting = (
        KMS_KEYS | SAFE_WHEN_ON.keys() | VPC_KEYS | SAMPLING_KEYS | APPROVAL_KEYS | SSE_KEYS
    )
    return {
        path: value
        for path, value in _fields(resource.properties)
        if path[-1] in interesting and value is not None
    }


def _judge(resource: Resource, key: str, where: str, before: Any, after: Any) -> Change | None:
    address = resource.address
    plain_before = canonical(before) if before is not None else None
    plain_after = canonical(after) if after is not None else None

    def change(category: str, direction: str, summary: str) -> Change:
        return Change(
            address,
            resource.component,
            category,
            direction,
            summary,
            plain_before,
            plain_after,
            resource.source,
        )

    if key in KMS_KEYS:
        if after is None:
            return change(
                "encryption", "weakened", f"{address} no longer encrypts with a KMS key ({where})"
            )
        if before is None:
            return change(
                "encryption",
                "strengthened",
                f"{address} now encrypts with KMS key {show(after)} ({where})",
            )
        return change(
            "encryption",
            "changed",
            f"{address} encrypts with KMS key {show(after)} instead of {show(before)} ({where})",
        )
    if key in SSE_KEYS:
        old, new = SSE_STRENGTH.get(str(before), 0), SSE_STRENGTH.get(str(after), 0)
        direction = "weakened" if new < old else "strengthened" if new > old else "changed"
        return change(
            "encryption",
            direction,
            f"{address} encrypts at rest with {show(after) if after else 'nothing'} "
            f"instead of {show(before) if before else 'nothing'} ({where})",
        )
    if key in SAFE_WHEN_ON:
        category, what = SAFE_WHEN_ON[key]
        was, now = before is True, after is True
        if was == now:
            return None
        if now:
            return change(category, "strengthened", f"{address} turns {what} on ({where})")
        return change(category, "weakened", f"{address} turns {what} off ({where})")
    if key in VPC_KEYS:
        if after is None:
            return change("vpc", "weakened", f"{address} no longer runs in a VPC ({where})")
        if before is None:
            return change(
                "vpc", "strengthened", f"{address} now runs in a VPC: {show(after)} ({where})"
            )
        return change(
            "vpc",
            "changed",
            f"{address} runs in another VPC configuration: {show(after)}, "
            f"was {show(before)} ({where})",
        )
    if key in SAMPLING_KEYS:
        if before is None or after is None:
            return None  # capture itself turned on or off: reported by its switch
        direction = "weakened" if after < before else "strengthened"
        return change(
            "data-capture",
            direction,
            f"{address} captures {show(after)}% of requests, was {show(before)}% ({where})",
        )
    if key in APPROVAL_KEYS:
        step = _step_of(where)
        if after == "Approved":
            return change(
                "approval",
                "weakened",
                f"{address}: models registered{step} are approved automatically, "
                f"without a manual approval gate ({where})",
            )
        if before == "Approved":
            return change(
                "approval",
                "strengthened",
                f"{address}: models registered{step} now wait for manual approval ({where})",
            )
        return change(
            "approval",
            "changed",
            f"{address}: models registered{step} get status {show(after)}, "
            f"was {show(before)} ({where})",
        )
    return None


def _step_of(where: str) -> str:
    steps = re.findall(r"Steps\[([^\]]+)\]", where)
    return f" by step {steps[-1]}" if steps else ""


# -- resources added and removed -----------------------------------------------------------------


def _added(new: Resource, before: dict[str, Resource], after: dict[str, Resource]) -> list[Change]:
    if new.type in ROLE_TYPES:
        statements = [s for p in _policies_of(new.address, after) for s in _statements(p)]
        broad = [s for s in statements if s.broad]
        what = "; ".join(s.describe() for s in statements) or "no permissions yet"
        return [
            Change(
                new.address,
                new.component,
                "iam",
                "weakened" if broad else "changed",
                f"new IAM role {new.address}{_principals_text(new)} may {what}",
                None,
                canonical(new.properties.get("assume_role_policy")),
                new.source,
            )
        ]
    if new.type in POLICY_TYPES:
        if _role_of(new) is not None and _role_of(new) not in before:
            return []  # a new role: reported with its policies
        return _policy_changes(None, new)
    if new.type in KEY_TYPES:
        return [
            _resource_change(
                new, "encryption", "strengthened", f"KMS key {new.address} is created", after=True
            )
        ]
    if new.type in GUARDS and _guarded(new) in before:
        category, what = GUARDS[new.type]
        return [
            _resource_change(
                new,
                category,
                "strengthened",
                f"{_guarded(new)} gains {what} ({new.address})",
                after=True,
            )
        ]
    return []


def _removed(
    old: Resource, before: dict[str, Resource], after: dict[str, Resource]
) -> list[Change]:
    if old.type in ROLE_TYPES:
        return [
            Change(
                old.address,
                old.component,
                "iam",
                "strengthened",
                f"IAM role {old.address} and its permissions are removed",
                canonical(old.properties.get("assume_role_policy")),
                None,
                None,
            )
        ]
    if old.type in POLICY_TYPES:
        if _role_of(old) is not None and _role_of(old) not in after:
            return []
        return _policy_changes(old, None)
    if old.type in KEY_TYPES:
        return [
            _resource_change(
                old,
                "encryption",
                "weakened",
                f"KMS key {old.address} is no longer created: what it encrypted falls back to "
                "AWS-managed keys",
                after=False,
            )
        ]
    if old.type in GUARDS and _guarded(old) in after:
        category, what = GUARDS[old.type]
        guarded = after[_guarded(old)]
        return [
            Change(
                old.address,
                old.component,
                category,
                "weakened",
                f"{guarded.address} loses {what} ({old.address})",
                canonical(old.properties),
                None,
                guarded.source,
            )
        ]
    return []


def _resource_change(
    r: Resource, category: str, direction: str, summary: str, *, after: bool
) -> Change:
    props = canonical(r.properties)
    return Change(
        r.address,
        r.component,
        category,
        direction,
        summary,
        None if after else props,
        props if after else None,
        r.source if after else None,
    )


def _guarded(resource: Resource) -> str | None:
    target = resource.properties.get("bucket")
    return target.address if isinstance(target, Ref) else None


# -- IAM -----------------------------------------------------------------------------------------


def _role_of(policy: Resource) -> str | None:
    role = policy.properties.get("role")
    return role.address if isinstance(role, Ref) else None


def _policies_of(role: str, resources: dict[str, Resource]) -> list[Resource]:
    return [r for r in resources.values() if r.type in POLICY_TYPES and _role_of(r) == role]


def _principals_text(role: Resource) -> str:
    principals = _principals(role)
    return f" (assumed by {', '.join(sorted(principals))})" if principals else ""


def _principals(role: Resource) -> set[str]:
    trust = role.properties.get("assume_role_policy")
    document = trust.value if isinstance(trust, Json) else trust
    found: set[str] = set()
    for s in _as_list(document.get("Statement") if isinstance(document, Mapping) else None):
        if isinstance(s, Mapping) and s.get("Effect", "Allow") == "Allow":
            principal = s.get("Principal")
            if isinstance(principal, Mapping):
                for kind, values in principal.items():
                    found.update(f"{kind}:{show(v)}" for v in _as_list(values))
            elif principal is not None:
                found.add(show(principal))
    return found


def _trust_changes(old: Resource, new: Resource) -> list[Change]:
    before, after = _principals(old), _principals(new)
    if before == after:
        return []
    gained, lost = sorted(after - before), sorted(before - after)
    if gained:
        direction, summary = (
            "weakened",
            f"IAM role {new.address} may now be assumed by {', '.join(gained)}",
        )
    else:
        direction, summary = (
            "strengthened",
            f"IAM role {new.address} may no longer be assumed by {', '.join(lost)}",
        )
    return [
        Change(
            new.address,
            new.component,
            "iam",
            direction,
            summary,
            sorted(before),
            sorted(after),
            new.source,
        )
    ]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, tuple | list):
        return list(value)
    return [value]


@dataclass(frozen=True)
class _Statement:
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    data: Any  # the whole statement, as written

    @property
    def deny(self) -> bool:
        return self.effect == "Deny"

    @property
    def condition(self) -> Any:
        return self.data.get("Condition") if isinstance(self.data, Mapping) else None

    @property
    def broad(self) -> bool:
        """Allows a wildcard action, or an action on every resource that needs not be."""
        if self.deny:
            return False
        if any("*" in a for a in self.actions if not _account_wide(a)):
            return True
        return any(show(r) == "*" for r in self.resources) and not all(
            _account_wide(a) for a in self.actions
        )

    def describe(
        self, actions: Iterable[str] | None = None, resources: Iterable[Any] | None = None
    ) -> str:
        verbs = ", ".join(actions if actions is not None else self.actions) or "nothing"
        targets = ", ".join(
            show(r) for r in (resources if resources is not None else self.resources)
        )
        return f"{verbs} on {targets or 'nothing'}"


def _account_wide(action: str) -> bool:
    return any(_matches(action, p) for p in ACCOUNT_WIDE_ACTIONS)


def _statements(policy: Resource | None) -> list[_Statement]:
    if policy is None:
        return []
    document = policy.properties.get("policy")
    document = document.value if isinstance(document, Json) else document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, Mapping):
        return []
    found = []
    for s in _as_list(document.get("Statement")):
        if not isinstance(s, Mapping):
            continue
        found.append(
            _Statement(
                sid=s.get("Sid") if isinstance(s.get("Sid"), str) else None,
                effect=str(s.get("Effect", "Allow")),
                actions=tuple(show(a) for a in _as_list(s.get("Action") or s.get("NotAction"))),
                resources=tuple(_as_list(s.get("Resource") or s.get("NotResource"))),
                data=s,
            )
        )
    return found


def _pair(
    old: list[_Statement], new: list[_Statement]
) -> tuple[list[tuple[_Statement, _Statement]], list[_Statement], list[_Statement]]:
    """Statements matched by Sid, then by effect and actions, then unnamed ones in order."""
    pairs: list[tuple[_Statement, _Statement]] = []
    left, right = list(old), list(new)
    for match in (
        lambda s: ("sid", s.sid) if s.sid else None,
        lambda s: ("actions", s.effect, tuple(sorted(s.actions))),
        # Unnamed statements, in order: a policy without Sids edited in place.
        lambda s: None if s.sid else ("unnamed", s.effect),
    ):
        for a in list(left):
            key = match(a)
            if key is None:
                continue
            b = next((b for b in right if match(b) == key), None)
            if b is not None:
                pairs.append((a, b))
                left.remove(a)
                right.remove(b)
    return pairs, left, right


def _policy_changes(old: Resource | None, new: Resource | None) -> list[Change]:
    resource = new or old
    assert resource is not None
    noun = POLICY_TYPES[resource.type]
    address = resource.address
    source = new.source if new is not None else None
    pairs, gone, added = _pair(_statements(old), _statements(new))

    def change(
        direction: str, summary: str, before: _Statement | None, after: _Statement | None
    ) -> Change:
        return Change(
            address,
            resource.component,
            "iam",
            direction,
            summary,
            canonical(before.data) if before else None,
            canonical(after.data) if after else None,
            source,
        )

    found = []
    for s in added:
        label = _label(s, "new statement")
        if s.deny:
            found.append(
                change(
                    "strengthened", f"{noun} {address} now denies {s.describe()} ({label})", None, s
                )
            )
        else:
            found.append(
                change("weakened", f"{noun} {address} may now {s.describe()} ({label})", None, s)
            )
    for s in gone:
        label = _label(s, "statement removed")
        if s.deny:
            found.append(
                change(
                    "weakened",
                    f"{noun} {address} no longer denies {s.describe()} ({label})",
                    s,
                    None,
                )
            )
        else:
            found.append(
                change(
                    "strengthened",
                    f"{noun} {address} may no longer {s.describe()} ({label})",
                    s,
                    None,
                )
            )
    for a, b in pairs:
        if _same(a.data, b.data):
            continue
        found.append(_statement_change(noun, address, a, b, change))
    return found


def _label(s: _Statement, what: str) -> str:
    return f"{what} {s.sid}" if s.sid else what


def _statement_change(noun: str, address: str, a: _Statement, b: _Statement, change) -> Change:
    new_actions = [x for x in b.actions if not any(_matches(x, p) for p in a.actions)]
    lost_actions = [x for x in a.actions if not any(_matches(x, p) for p in b.actions)]
    new_resources = [r for r in b.resources if not any(_covers(p, r) for p in a.resources)]
    lost_resources = [r for r in a.resources if not any(_covers(p, r) for p in b.resources)]
    a_cond, b_cond = a.condition, b.condition
    loosened = a_cond is not None and b_cond is None
    tightened = a_cond is None and b_cond is not None
    broadened = bool(new_actions or new_resources or loosened)
    narrowed = bool(lost_actions or lost_resources or tightened)
    label = _label(b, "statement")
    parts = []
    if new_actions or new_resources:
        parts.append(f"may now {b.describe(new_actions or None, new_resources or None)}")
    if lost_actions or lost_resources:
        parts.append(f"may no longer {a.describe(lost_actions or None, lost_resources or None)}")
    if loosened:
        parts.append(f"drops its condition {show(a_cond)}")
    if tightened:
        parts.append(f"adds the condition {show(b_cond)}")
    if not parts:
        parts.append("changes")
    if b.deny:
        parts = [
            p.replace("may now", "now denies").replace("may no longer", "no longer denies")
            for p in parts
        ]
        broadened, narrowed = narrowed, broadened
    direction = "weakened" if broadened else "strengthened" if narrowed else "changed"
    if a.effect != b.effect:
        direction = "weakened" if b.effect == "Allow" else "strengthened"
        parts = [f"now {b.effect.lower()}s {b.describe()}"]
    return change(direction, f"{noun} {address} {'; '.join(parts)} ({label})", a, b)


def _matches(value: str, pattern: str) -> bool:
    """IAM wildcard matching: `*` any run, `?` one character; actions ignore case."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.IGNORECASE) is not None


def _covers(pattern: Any, resource: Any) -> bool:
    if _same(pattern, resource):
        return True
    return isinstance(pattern, str) and "*" in pattern and _matches(show(resource), pattern)


# --- rendering ----------------------------------------------------------------------------------


def render_diff(diff: ComplianceDiff, fmt: str) -> str:
    """The diff as `text`, `json` or `markdown` (a pull request comment)."""
    if fmt == "text":
        return _text(diff)
    if fmt == "json":
        return json.dumps(to_json(diff), indent=2) + "\n"
    if fmt == "markdown":
        return _markdown(diff)
    raise AuditError(f"the compliance diff has no {fmt!r} format: use one of {', '.join(FORMATS)}")


def _finding_json(f: Finding) -> dict:
    return {
        "rule": f.rule.id,
        "title": f.rule.title,
        "severity": f.severity.label,
        "environment": f.environment,
        "address": f.address,
        "component": f.component,
        "message": f.message,
        "source": f.source.to_json() if f.source else None,
    }


def to_json(diff: ComplianceDiff) -> dict:
    """The diff as plain JSON data; `format_version` changes when the shape does.

    {"format_version": 1, "kind": "compliance-diff", "spec_file", "base", "head",
     "environments": [...],
     "summary": {"new", "new_by_severity": {"high": 1, ...}, "resolved", "unchanged",
                 "changes", "weakened", "strengthened", "changed"},
     "new" / "resolved": [{"rule", "title", "severity", "environment", "address",
                           "component", "message", "source": {"filename", "start": {"line",
                           "column"}, "end": {...}} | null}],
     "changes": [{"environment", "address", "component", "category", "direction",
                  "summary", "before", "after", "source"}],
     "notes": [...]}

    `before`/`after` are the values as plain JSON, references spelled `ref:<address>.<attr>`
    and other markers as `canonical` writes them; null when absent on that side.
    """
    directions = Counter(c.direction for c in diff.changes)
    return {
        "format_version": FORMAT_VERSION,
        "kind": "compliance-diff",
        "spec_file": diff.spec_file,
        "base": diff.base_label,
        "head": diff.head_label,
        "environments": list(diff.environments),
        "summary": {
            "new": len(diff.new),
            "new_by_severity": dict(Counter(f.severity.label for f in diff.new)),
            "resolved": len(diff.resolved),
            "unchanged": diff.unchanged,
            "changes": len(diff.changes),
            **{d: directions[d] for d in DIRECTIONS},
        },
        "new": [_finding_json(f) for f in diff.new],
        "resolved": [_finding_json(f) for f in diff.resolved],
        "changes": [c.to_json() for c in diff.changes],
        "notes": list(diff.notes),
    }


def _where(source: SourceRange | None) -> str:
    return f"{source.filename}:{source.start.line}" if source else "-"


def _title(diff: ComplianceDiff) -> str:
    return f"{diff.base_label} → {diff.head_label}"


def _text(diff: ComplianceDiff) -> str:
    lines = [
        f"Compliance diff {_title(diff)} ({', '.join(diff.environments)})",
        diff.summary() + f"; {diff.unchanged} unchanged",
    ]
    for heading, findings in (("New findings", diff.new), ("Resolved findings", diff.resolved)):
        if findings:
            lines += ["", f"{heading}:"]
            for f in findings:
                lines.append(
                    f"  {f.severity.label.upper():8} {f.rule.id}  {f.environment}  {f.address}  "
                    f"{_where(f.source)}"
                )
                lines.append(f"           {f.message}")
    if diff.changes:
        lines += ["", "Security-relevant changes:"]
        for c in diff.changes:
            lines.append(f"  {c.direction:12} {c.category:17} {c.environment}  {_where(c.source)}")
            lines.append(f"           {c.summary}")
    if diff.notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in diff.notes]
    return "\n".join(lines) + "\n"


def _markdown(diff: ComplianceDiff) -> str:
    many = len(set(diff.environments)) > 1
    parts = [
        f"### mlinfra compliance: {md.code(diff.base_label)} → {md.code(diff.head_label)}",
        f"**{md.cell(diff.summary())}**"
        + f" · {diff.unchanged} unchanged · environments: {md.cell(', '.join(diff.environments))}",
    ]
    if diff.new:
        body = table_of_findings(diff.new, many)
        parts += [
            "#### New findings",
            md.folded(md.plural(len(diff.new), "new finding"), body, len(diff.new)),
        ]
    if diff.resolved:
        body = table_of_findings(diff.resolved, many)
        parts += [
            "#### Resolved findings",
            md.folded(md.plural(len(diff.resolved), "resolved finding"), body, len(diff.resolved)),
        ]
    if diff.changes:
        headers = (
            ["Direction", "Category"]
            + (["Environment"] if many else [])
            + ["Resource", "Spec line", "Change"]
        )
        rows = []
        for c in diff.changes:
            row = [f"**{c.direction}**" if c.direction == "weakened" else c.direction, c.category]
            if many:
                row.append(md.code(c.environment))
            row += [
                md.code(c.address),
                md.code(_where(c.source)) if c.source else "",
                md.cell(c.summary),
            ]
            rows.append(row)
        body = md.table(headers, rows)
        parts += [
            "#### Security-relevant changes",
            md.folded(
                md.plural(len(diff.changes), "security-relevant change"), body, len(diff.changes)
            ),
        ]
    if diff.notes:
        parts.append("**Notes**\n\n" + "\n".join(f"- {md.cell(n)}" for n in diff.notes))
    return "\n\n".join(parts) + "\n"


def table_of_findings(findings: Iterable[Finding], environments: bool) -> str:
    return md.table(md.finding_headers(environments), md.finding_rows(findings, environments))
