"""Benchmark-only export of mlinfra's IR (a `ResourceGraph`) to Terraform JSON (`.tf.json`).

It exists so that Checkov, which reads Terraform, can scan the same resources as
`mlinfra audit` (benchmarks/audit_bench.py). It is **not** a Terraform renderer: nothing here
is meant to be applied, and it is not part of mlinfra. The pulumi_aws types are bridged from
the Terraform AWS provider, so the export is mostly mechanical:

- type: `aws.sagemaker.EndpointConfiguration` -> `aws_sagemaker_endpoint_configuration`
  (`aws.<module>.<Class>` -> `aws_<module>_<class in snake case>`, with the few renames in
  `TYPE_OVERRIDES`, e.g. `aws.s3.BucketObjectv2` -> `aws_s3_object`);
- name: the address, every character Terraform does not allow in a name turned into `_`
  (`endpoint.ep-0/config` -> `endpoint_ep-0_config`);
- `Args` -> a nested block: one object, or a list of objects where the IR has a list. The
  bridge pluralises the names of repeatable blocks (`production_variants`, `rules`,
  `capture_options`): the Terraform name is the singular (`BLOCK_NAMES`);
- `Json` -> a JSON-encoded string (policies, pipeline definitions), with Refs inside it as
  interpolations;
- `Ref(address, attribute)` -> `"${aws_x.name.attribute}"`; `Concat` -> one string of its
  parts; `Call` (a value the Pulumi program computes when it runs, e.g. the latest approved
  model package) -> `"${var.mlinfra_call_<function>}"`, an input Terraform would need; a
  `FileAsset` -> its path (the object's `source`);
- `depends_on` -> `depends_on`, `protect` -> `lifecycle { prevent_destroy = true }`.

Literal `${` and `%{` in strings are escaped (`$${`, `%%{`), as Terraform templates require.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, ResourceGraph

# pulumi_aws types whose Terraform name is not the mechanical one.
TYPE_OVERRIDES = {
    "aws.s3.BucketObjectv2": "aws_s3_object",
    "aws.s3.BucketObject": "aws_s3_object",
    "aws.s3.BucketV2": "aws_s3_bucket",
    "aws.s3.BucketVersioningV2": "aws_s3_bucket_versioning",
    "aws.s3.BucketServerSideEncryptionConfigurationV2": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
}

# Repeatable nested blocks: the bridge's (plural) property name -> Terraform's block name.
# A list of Args under another name ending in "s" loses the "s".
BLOCK_NAMES = {
    "rules": "rule",
    "production_variants": "production_variant",
    "shadow_production_variants": "shadow_production_variant",
    "capture_options": "capture_option",
    "feature_definitions": "feature_definition",
    "alarms": "alarm",
    "containers": "container",
}

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def tf_type(pulumi_type: str) -> str:
    """`aws.sagemaker.EndpointConfiguration` -> `aws_sagemaker_endpoint_configuration`."""
    if pulumi_type in TYPE_OVERRIDES:
        return TYPE_OVERRIDES[pulumi_type]
    provider, module, cls = pulumi_type.split(".")
    return f"{provider}_{module}_{_CAMEL.sub('_', cls).lower()}"


def tf_name(address: str) -> str:
    """A Terraform resource name for an IR address (letters, digits, `_`, `-`)."""
    name = _NAME_CHARS.sub("_", address)
    return name if name[0].isalpha() or name[0] == "_" else f"_{name}"


def _escape(text: str) -> str:
    return text.replace("${", "$${").replace("%{", "%%{")


class Exporter:
    """Converts one graph; `refs` maps an IR address to `aws_type.name`."""

    def __init__(self, graph: ResourceGraph) -> None:
        self.refs = {r.address: f"{tf_type(r.type)}.{tf_name(r.address)}" for r in graph.resources}
        self.calls: set[str] = set()

    def ref(self, value: Ref) -> str:
        return f"${{{self.refs[value.address]}.{value.attribute}}}"

    def text(self, value: Any) -> str:
        """A value inside a string (a Concat part): Refs and Calls as interpolations."""
        if isinstance(value, Ref):
            return self.ref(value)
        if isinstance(value, Call):
            self.calls.add(value.function)
            return f"${{var.mlinfra_call_{value.function}}}"
        if isinstance(value, Concat):
            return "".join(self.text(part) for part in value.parts)
        if isinstance(value, str):
            return _escape(value)
        return str(value)

    def value(self, value: Any) -> Any:
        """A property value as Terraform JSON (blocks are handled by `attributes`)."""
        if isinstance(value, Ref | Call | Concat):
            return self.text(value)
        if isinstance(value, Json):
            return json.dumps(self.json_value(value.value), separators=(",", ":"))
        if isinstance(value, FileAsset):
            return _escape(value.path)
        if isinstance(value, Args):
            return self.attributes(value.fields)
        if isinstance(value, MappingProxyType | dict):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return _escape(value)
        return value

    def json_value(self, value: Any) -> Any:
        """Inside a Json document: plain data, Refs and Concats as interpolated strings."""
        if isinstance(value, Ref | Call | Concat):
            return self.text(value)
        if isinstance(value, MappingProxyType | dict):
            return {str(k): self.json_value(v) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return [self.json_value(v) for v in value]
        if isinstance(value, str):
            return _escape(value)
        return value

    def attributes(self, fields: Any) -> dict[str, Any]:
        """A resource's (or a block's) arguments; lists of Args become repeated blocks."""
        out: dict[str, Any] = {}
        for key, item in fields.items():
            if item is None:
                continue
            if isinstance(item, tuple | list) and item and all(isinstance(i, Args) for i in item):
                name = BLOCK_NAMES.get(key, key[:-1] if key.endswith("s") else key)
                out[name] = [self.attributes(i.fields) for i in item]
            elif isinstance(item, Args):
                out[key] = [self.attributes(item.fields)]
            else:
                out[key] = self.value(item)
        return out


def export(graph: ResourceGraph) -> dict[str, Any]:
    """The graph as one Terraform JSON document (`provider`, `variable`, `resource`)."""
    exporter = Exporter(graph)
    resources: dict[str, dict[str, Any]] = {}
    for resource in graph.resources:
        body = exporter.attributes(resource.properties)
        if resource.depends_on:
            body["depends_on"] = [exporter.refs[a] for a in resource.depends_on]
        if resource.protect:
            body["lifecycle"] = [{"prevent_destroy": True}]
        kind, name = exporter.refs[resource.address].split(".", 1)
        block = resources.setdefault(kind, {})
        if name in block:
            raise ValueError(f"two resources named {kind}.{name}")
        block[name] = body
    document: dict[str, Any] = {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}},
        "provider": {"aws": {"region": graph.region}},
    }
    if exporter.calls:
        document["variable"] = {
            f"mlinfra_call_{name}": {"type": "string"} for name in sorted(exporter.calls)
        }
    document["resource"] = resources
    return document


def write(graph: ResourceGraph, path: Path) -> int:
    """Write the export to `path` (a `.tf.json` file); returns its size in bytes."""
    text = json.dumps(export(graph), indent=1)
    path.write_text(text, encoding="utf-8")
    return len(text.encode())
