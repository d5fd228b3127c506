"""Preview names: `preview-<branch slug>`, valid everywhere, distinct per branch, stable."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mlinfra.naming import physical_name
from mlinfra.preview.naming import (
    MAX_ENV_LENGTH,
    branch_slug,
    is_preview_env,
    preview_env_name,
)
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.checks.names import PHYSICAL_KINDS

branches = st.text(min_size=1, max_size=120).filter(lambda b: b.strip())
# Names the spec accepts for projects and components (the schema's `name`).
spec_names = st.from_regex(re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*"), fullmatch=True).filter(
    lambda n: len(n) <= 40
)
KINDS = sorted({kind for kinds in PHYSICAL_KINDS.values() for kind in kinds})


def test_a_plain_branch_keeps_its_name() -> None:
    assert preview_env_name("add-drift-monitor") == "preview-add-drift-monitor"


def test_a_branch_with_other_characters_is_slugged_and_hashed() -> None:
    name = preview_env_name("Feature/Add_Drift")
    assert re.fullmatch(r"preview-feature-add-drift-[0-9a-f]{6}", name)
    assert branch_slug("Feature/Add_Drift") == "feature-add-drift"


def test_branches_that_slug_alike_get_different_names() -> None:
    names = {preview_env_name(b) for b in ("feat/x", "feat-x", "Feat/X", "feat_x", "feat--x")}
    assert len(names) == 5


def test_a_long_branch_is_shortened_with_a_stable_hash() -> None:
    branch = "feature/" + "very-long-branch-name-" * 5
    assert preview_env_name(branch) == preview_env_name(branch)
    assert len(preview_env_name(branch)) <= MAX_ENV_LENGTH


@given(branches)
def test_every_branch_gets_a_valid_bounded_preview_name(branch: str) -> None:
    name = preview_env_name(branch)
    assert is_preview_env(name), name
    assert len(name) <= MAX_ENV_LENGTH
    assert preview_env_name(branch) == name


@given(branches, branches)
def test_distinct_branches_get_distinct_names(a: str, b: str) -> None:
    if a != b:
        assert preview_env_name(a) != preview_env_name(b)


@settings(max_examples=200)
@given(spec_names, branches, spec_names, st.sampled_from(KINDS))
def test_every_physical_name_of_a_preview_fits_sagemaker(
    project: str, branch: str, component: str, kind: str
) -> None:
    name = physical_name(project, preview_env_name(branch), component, kind)
    assert name.is_valid(), name
    assert len(name.name) <= name_rule(kind).max_length


@settings(max_examples=200)
@given(
    spec_names,
    branches,
    spec_names,
    st.sampled_from(KINDS),
    st.sampled_from(["local", "dev", "prod"]),
)
def test_a_preview_never_takes_its_base_environments_names(
    project: str, branch: str, component: str, kind: str, base: str
) -> None:
    preview = physical_name(project, preview_env_name(branch), component, kind).name
    assert preview != physical_name(project, base, component, kind).name


@settings(max_examples=200)
@given(spec_names, branches, branches, spec_names, st.sampled_from(KINDS))
def test_two_previews_never_share_a_component_name(
    project: str, a: str, b: str, component: str, kind: str
) -> None:
    if a != b:
        first = physical_name(project, preview_env_name(a), component, kind).name
        second = physical_name(project, preview_env_name(b), component, kind).name
        assert first != second
