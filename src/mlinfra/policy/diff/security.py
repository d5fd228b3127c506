"""The security judge: which differences between two IRs matter for security, and which
way (weakened, strengthened, changed), in plain words.

Settings are compared path by path inside each resource (KMS keys, network isolation, VPCs,
public access blocks, model approval, data capture), IAM policies statement by statement
(`policy.diff.iam`), roles by who may assume them; resources that encrypt or guard others
count when added or removed; a monitor that moves to another engine is compared job to job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, Json, Ref, Resource, ResourceGraph, canonical
from mlinfra.ir.sagemaker.context import KMS_KEY
from mlinfra.ir.sagemaker.fields import api_name
from mlinfra.ir.sagemaker.iam import SUPPORTING_SIDS
from mlinfra.policy.diff.iam import Statement, difference, pair, principals, statements
from mlinfra.policy.diff.model import DIRECTION_ORDER, Change
from mlinfra.policy.rules.jobs import JOB_TYPES, jobs
from mlinfra.policy.values import same, show

# The settings judged, by their key. SageMaker's are named as its API names them: the local
# target's requests and the pipeline definitions use those names, and the SageMaker target's
# pulumi_aws arguments are read in them through the translator's tables (`api_name`). The
# S3, KMS and SNS resources only the SageMaker target has keep pulumi_aws's names.
# Keys whose value is the KMS key something is encrypted with.
KMS_KEYS = frozenset(
    {
        "KmsKeyId",
        "VolumeKmsKeyId",
        "kms_key_id",  # an S3 object's
        "kms_master_key_id",  # a bucket's default encryption, a topic's
    }
)
# Switches that are the safe setting when true: (category, what turning it off means).
SAFE_WHEN_ON = {
    "EnableNetworkIsolation": ("network-isolation", "network isolation"),
    "EnableInterContainerTrafficEncryption": ("encryption", "inter-container traffic encryption"),
    "EnableCapture": ("data-capture", "data capture"),
    "enable_key_rotation": ("encryption", "key rotation"),
    "block_public_acls": ("public-access", "blocking public ACLs"),
    "block_public_policy": ("public-access", "blocking public bucket policies"),
    "ignore_public_acls": ("public-access", "ignoring public ACLs"),
    "restrict_public_buckets": ("public-access", "restricting public buckets"),
}
VPC_KEYS = frozenset({"VpcConfig"})
SAMPLING_KEYS = frozenset({"InitialSamplingPercentage"})
APPROVAL_KEYS = frozenset({"ModelApprovalStatus"})
SSE_KEYS = frozenset({"sse_algorithm"})
SSE_STRENGTH = {"AES256": 1, "aws:kms": 2, "aws:kms:dsse": 3}
# What names an element of a list, so paths read `Steps[train]` rather than `Steps[1]`.
NAME_KEYS = ("Name", "name", "OutputName", "InputName", "ChannelName", "VariantName", "CaptureMode")
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
    found = [_with_env(c, env) for c in as_supporting(found)]
    found.sort(key=lambda c: (DIRECTION_ORDER[c.direction], c.category, c.address, c.summary))
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


def as_supporting(changes: list[Change]) -> list[Change]:
    """An IAM statement that a security setting brings with it (KMS use for encryption,
    network interfaces for a VPC), added or removed with that setting, is what the setting
    needs rather than a weakening or strengthening of its own: "changed", saying which.

    The setting's own change is in the same component, or, for the environment's KMS key,
    is the key being created or removed."""
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


# -- settings: encryption, isolation, VPC, public access, approval, capture ----------------------


def _fields(
    value: Any, path: tuple[str, ...] = (), owner: str | None = None
) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    """Every (path, key, value) of the mappings inside a property value, through Args and
    Json: the path as the resource spells it, the key in the API's spelling where the
    translator's tables know it (`owner` is the resource type or Args class holding it)."""
    if isinstance(value, Json):
        yield from _fields(value.value, path)
    elif isinstance(value, Args):
        yield from _fields(value.fields, path, value.type)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield (*path, str(k)), _spelling(owner, str(k)), v
            yield from _fields(v, (*path, str(k)))
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            label = f"[{_element_name(item, i)}]"
            where = (*path[:-1], path[-1] + label) if path else (label,)
            yield from _fields(item, where)


def _spelling(owner: str | None, key: str) -> str:
    return api_name(owner, key) or key


def _element_name(item: Any, index: int) -> str:
    owner, fields = (item.type, item.fields) if isinstance(item, Args) else (None, item)
    if isinstance(fields, Mapping):
        named = {_spelling(owner, str(key)): value for key, value in fields.items()}
        for key in NAME_KEYS:
            if isinstance(named.get(key), str):
                return named[key]
    return str(index)


def _settings(old: Resource, new: Resource) -> list[Change]:
    """The security settings of one resource on both sides, compared path by path."""
    before = _setting_values(old)
    after = _setting_values(new)
    found: list[Change] = []
    for path in dict.fromkeys([*before, *after]):
        key, a = before.get(path, (None, None))
        key, b = after.get(path, (key, None))
        if same(a, b):
            continue
        change = _judge(new, key, ".".join(path), a, b)
        if change is not None:
            found.append(change)
    return found


_INTERESTING = KMS_KEYS | SAFE_WHEN_ON.keys() | VPC_KEYS | SAMPLING_KEYS | APPROVAL_KEYS | SSE_KEYS


def _setting_values(resource: Resource) -> dict[tuple[str, ...], tuple[str, Any]]:
    """Each security setting's path -> its key (the API's spelling) and value."""
    return {
        path: (key, value)
        for path, key, value in _fields(resource.properties, (), resource.type)
        if key in _INTERESTING and value is not None
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
    found = _principals(role)
    return f" (assumed by {', '.join(sorted(found))})" if found else ""


def _principals(role: Resource) -> set[str]:
    return principals(role.properties.get("assume_role_policy"))


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


def _statements(policy: Resource | None) -> list[Statement]:
    return statements(policy.properties.get("policy")) if policy is not None else []


def _policy_changes(old: Resource | None, new: Resource | None) -> list[Change]:
    resource = new or old
    assert resource is not None
    noun = POLICY_TYPES[resource.type]
    address = resource.address
    source = new.source if new is not None else None
    pairs, gone, added = pair(_statements(old), _statements(new))

    def change(
        direction: str, summary: str, before: Statement | None, after: Statement | None
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
        if same(a.data, b.data):
            continue
        found.append(_statement_change(noun, address, a, b, change))
    return found


def _label(s: Statement, what: str) -> str:
    return f"{what} {s.sid}" if s.sid else what


def _statement_change(noun: str, address: str, a: Statement, b: Statement, change) -> Change:
    delta = difference(a, b)
    new_actions, lost_actions = delta.gained_actions, delta.lost_actions
    new_resources, lost_resources = delta.gained_resources, delta.lost_resources
    a_cond, b_cond = a.condition, b.condition
    loosened, tightened = delta.condition_dropped, delta.condition_added
    broadened, narrowed = delta.broadens, delta.narrows
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
