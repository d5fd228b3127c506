"""The policy packs: named sets of rules an environment applies (`policies.packs`)."""

from __future__ import annotations

PACKS = ("baseline", "sagemaker-security", "prod-readiness")

# What an environment applies when its spec names no packs.
DEFAULT_PACKS = ("baseline",)
