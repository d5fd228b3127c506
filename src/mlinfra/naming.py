"""Physical names: `{project}-{env}-{component}`, fitted to SageMaker's limits.

The limits are SageMaker's name rules (`mlinfra.sagemaker.names`). A name too long for its
resource is shortened to a prefix plus a stable hash of the full name: deterministic, and
distinct for distinct components.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mlinfra.sagemaker.names import name_rule

# Endpoint configs get a content-hash suffix (`-1a2b3c4d`) so a change creates a new config
# before the old one is deleted; their base name leaves room for it.
SUFFIX_RESERVE = {"endpoint_config": 9}
HASH_LENGTH = 8


@dataclass(frozen=True)
class PhysicalName:
    kind: str
    wanted: str  # the name the convention gives, before fitting
    name: str  # the name that will be deployed

    @property
    def shortened(self) -> bool:
        return self.name != self.wanted

    def is_valid(self) -> bool:
        return name_rule(self.kind).allows(self.name)


def stable_hash(text: str, length: int = HASH_LENGTH) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def fit(wanted: str, limit: int) -> str:
    """`wanted` if it fits in `limit` characters, else a prefix and a hash of the whole."""
    if len(wanted) <= limit:
        return wanted
    prefix = wanted[: limit - HASH_LENGTH - 1].rstrip("-_")
    return f"{prefix}-{stable_hash(wanted)}"


def physical_name(project: str, env: str, component: str, kind: str) -> PhysicalName:
    wanted = f"{project}-{env}-{component}"
    limit = name_rule(kind).max_length - SUFFIX_RESERVE.get(kind, 0)
    return PhysicalName(kind, wanted, fit(wanted, limit))
