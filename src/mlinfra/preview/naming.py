"""A preview's environment name, from its git branch: `preview-<slug>`.

The slug is the branch lowercased with every run of characters outside `[a-z0-9]` made one
hyphen. When that loses anything (`Feat/X` and `feat-x` would meet) or the slug is long, a
stable hash of the branch as written is appended, so distinct branches get distinct names
and every name is short enough to leave room for components in SageMaker's name limits.
"""

from __future__ import annotations

import re

from mlinfra.naming import stable_hash

PREFIX = "preview-"
# `preview-` + slug: at most 32 characters, so `<project>-<env>-<component>` keeps most of
# the component within the tightest SageMaker limit (54 for an endpoint config's base name).
MAX_ENV_LENGTH = 32
BRANCH_HASH_LENGTH = 6
_OUTSIDE = re.compile(r"[^a-z0-9]+")
ENV_PATTERN = re.compile(r"preview-[a-z0-9]+(?:-[a-z0-9]+)*")


def branch_slug(branch: str) -> str:
    """`Feature/Add_Drift` -> `feature-add-drift`; "" when nothing of it is left."""
    return _OUTSIDE.sub("-", branch.lower()).strip("-")


def preview_env_name(branch: str) -> str:
    """The environment name of the preview of `branch`, unique to the branch as written."""
    slug = branch_slug(branch)
    if slug == branch and len(PREFIX) + len(slug) <= MAX_ENV_LENGTH:
        return PREFIX + slug
    room = MAX_ENV_LENGTH - len(PREFIX) - BRANCH_HASH_LENGTH - 1
    kept = slug[:room].rstrip("-")
    suffix = stable_hash(branch, BRANCH_HASH_LENGTH)
    return f"{PREFIX}{kept}-{suffix}" if kept else f"{PREFIX}{suffix}"


def is_preview_env(env: str) -> bool:
    return ENV_PATTERN.fullmatch(env) is not None and len(env) <= MAX_ENV_LENGTH
