"""Benchmark-only export of mlinfra's IR (a `ResourceGraph`) as the input of a CDK app
(`benchmarks/peers/cdk_app.js`), so that `cdk synth` builds the same resources that
`mlinfra render` writes (benchmarks/incremental_bench.py). Not part of mlinfra.

Each resource becomes `{"id", "type", "properties", "dependsOn"}`: the id is the IR address
with every character CloudFormation refuses in a logical id dropped, the type
`AWS::<Service>::<Class>` from the pulumi_aws module and class (`aws.sagemaker.Model` ->
`AWS::SageMaker::Model`; CDK's `CfnResource` takes the name as it is and does not look it
up), and the properties the IR's, with its references tagged for the app to turn into CDK
tokens:

- `Ref(address, attribute)` -> `{"__getatt__": [logical id, attribute]}` (`Fn.getAtt`);
- `Concat` -> `{"__join__": [parts]}` (`Fn.join("", parts)`);
- `Json` -> `{"__json__": value}` (`Stack.toJsonString`, which resolves the tokens inside);
- `Call` (a value the program computes when it runs) -> `{"__param__": function}`, one
  CloudFormation parameter per helper (`CfnParameter`, referenced with `valueAsString`);
- `FileAsset` -> its path; `Args` -> an object of its fields.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, ResourceGraph

SERVICES = {
    "sagemaker": "SageMaker",
    "s3": "S3",
    "iam": "IAM",
    "kms": "KMS",
    "cloudwatch": "CloudWatch",
    "sns": "SNS",
    "appautoscaling": "ApplicationAutoScaling",
}
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def logical_id(address: str) -> str:
    return "R" + _NOT_ALPHANUMERIC.sub("", address.title())


def cfn_type(pulumi_type: str) -> str:
    _, module, cls = pulumi_type.split(".")
    return f"AWS::{SERVICES.get(module, module.title())}::{cls}"


def _value(value: Any) -> Any:
    if isinstance(value, Ref):
        return {"__getatt__": [logical_id(value.address), value.attribute]}
    if isinstance(value, Concat):
        return {"__join__": [_value(part) for part in value.parts]}
    if isinstance(value, Json):
        return {"__json__": _value(value.value)}
    if isinstance(value, Call):
        return {"__param__": value.function}
    if isinstance(value, FileAsset):
        return value.path
    if isinstance(value, Args):
        return {str(k): _value(v) for k, v in value.fields.items() if v is not None}
    if isinstance(value, MappingProxyType | dict):
        return {str(k): _value(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_value(v) for v in value]
    return value


def export(graph: ResourceGraph, path: Path) -> int:
    """Write the graph's resources for the CDK app; how many."""
    resources = [
        {
            "id": logical_id(r.address),
            "type": cfn_type(r.type),
            "properties": _value(r.properties),
            "dependsOn": [logical_id(a) for a in r.depends_on],
        }
        for r in graph.resources
    ]
    path.write_text(json.dumps({"stack": f"{graph.project}-{graph.env}", "resources": resources}))
    return len(resources)
