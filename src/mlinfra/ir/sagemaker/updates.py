"""What pulumi_aws changes in place, by resource type and property path: any other change to
a resource of a type listed here replaces it (deletes it and creates it again).

The lists are the catalogue's (`mlinfra.sagemaker.resources`, `provider_in_place`), from the
schema of the Terraform AWS provider that pulumi-aws (7.51.1) bridges: an argument
marked `ForceNew` replaces the resource when it changes. A nested block marked ForceNew
replaces it only when the block itself is added or removed (the SDK diffs its count with the
block's mark); each argument inside replaces or not by its own mark (terraform-plugin-sdk,
`schemaMap.diffList`). Types not listed keep the plan's general rule (a new name, or
`replace_on_change`, replaces; other changes update).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlinfra.sagemaker.resources import PULUMI_PREFIX, of_type


def in_place(type_: str) -> tuple[str, ...] | None:
    """The property paths pulumi_aws changes in place on `type_`; None when not listed."""
    kind = of_type(type_) if type_.startswith(PULUMI_PREFIX) else None
    return kind.provider_in_place if kind is not None else None


def is_known(type_: str) -> bool:
    return in_place(type_) is not None


def fixed_paths(type_: str, paths: Iterable[str]) -> list[str]:
    """Those of the changed property `paths` pulumi_aws cannot change in place on `type_`."""
    allowed = in_place(type_) or ()
    return [p for p in paths if not any(_within(p, a) for a in allowed)]


def _within(path: str, prefix: str) -> bool:
    return path == prefix or re.match(re.escape(prefix) + r"[.\[]", path) is not None
