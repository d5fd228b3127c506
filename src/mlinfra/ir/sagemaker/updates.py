"""What pulumi_aws changes in place, by resource type and property path: any other change to
a resource of a type listed here replaces it (deletes it and creates it again).

From the schema of the Terraform AWS provider that pulumi-aws (7.51.1) bridges: an argument
marked `ForceNew` replaces the resource when it changes. A nested block marked ForceNew
replaces it only when the block itself is added or removed (the SDK diffs its count with the
block's mark); each argument inside replaces or not by its own mark (terraform-plugin-sdk,
`schemaMap.diffList`). Types not listed keep the plan's general rule (a new name, or
`replace_on_change`, replaces; other changes update).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

IN_PLACE: dict[str, tuple[str, ...]] = {
    # internal/service/sagemaker/feature_group.go: everything is ForceNew except tags,
    # online_store_config.ttl_duration and throughput_config, which its update sends as
    # UpdateFeatureGroup's OnlineStoreConfig and ThroughputConfig. feature_definition is
    # ForceNew: the provider never sends FeatureAdditions, so an added feature replaces.
    "aws.sagemaker.FeatureGroup": (
        "tags",
        "online_store_config.ttl_duration",
        "throughput_config",
    ),
}


def is_known(type_: str) -> bool:
    return type_ in IN_PLACE


def fixed_paths(type_: str, paths: Iterable[str]) -> list[str]:
    """Those of the changed property `paths` pulumi_aws cannot change in place on `type_`."""
    allowed = IN_PLACE[type_]
    return [p for p in paths if not any(_within(p, a) for a in allowed)]


def _within(path: str, prefix: str) -> bool:
    return path == prefix or re.match(re.escape(prefix) + r"[.\[]", path) is not None
