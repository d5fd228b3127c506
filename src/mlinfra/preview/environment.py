"""The preview of a branch as an `EnvSpec`: its base environment, `previews.overrides`, and the
branch's own environment name, so every physical name is its own.

A preview takes its base's settings (target, region, account, security, tags) but never its
`protect`: a preview is disposable by design, and `preview down` must be able to remove all
of it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from mlinfra.diagnostics import Diagnostic, has_errors
from mlinfra.didyoumean import suggest
from mlinfra.preview.naming import preview_env_name
from mlinfra.spec.model import EnvSpec
from mlinfra.spec.resolve import PREVIEW, Resolved, environment_names, resolve, resolve_preview
from mlinfra.spec.validate import check_environment


class PreviewError(Exception):
    """A preview cannot be made or used; `suggestion` says what to do."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion


@dataclass(frozen=True)
class PreviewSpec:
    """A branch's preview environment, and what checking it found."""

    branch: str
    spec: EnvSpec | None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return self.spec is not None and not has_errors(list(self.diagnostics))


def default_base(result) -> str | None:
    """The spec's `previews.base`, None when it has no `previews:` (every environment's
    typed spec holds the same section)."""
    for spec in result.environments.values():
        return spec.previews.base if spec.previews is not None else None
    return None


def base_of(result, base: str | None, spec_file: str) -> str:
    """`--base`, else the spec's `previews.base`; a `PreviewError` when neither names one of
    the spec's environments."""
    chosen = base or default_base(result)
    known = environment_names(result.document.root)
    if chosen is None:
        raise PreviewError(
            f"{spec_file} sets no `previews.base`, and no --base was given",
            f"pass --base ENV (one of: {', '.join(known)}), or add `previews: {{base: ENV}}`",
        )
    if chosen not in known:
        close = suggest(chosen, known)
        raise PreviewError(
            f"{spec_file} has no environment {chosen!r} to base a preview on "
            f"(it has: {', '.join(known)})",
            f"did you mean {close!r}?" if close else "pass --base with one of them",
        )
    return chosen


def preview_spec(result, branch: str, base: str | None, spec_file: str) -> PreviewSpec:
    """The preview of `branch` on `base` (None: `previews.base`), checked like an environment."""
    if not branch.strip():
        raise PreviewError("the branch name is empty", "pass --branch NAME")
    root = result.document.root
    chosen = base_of(result, base, spec_file)
    name = preview_env_name(branch)
    if name in environment_names(root):
        raise PreviewError(
            f"the preview of branch {branch!r} would be named {name!r}, which is an "
            f"environment of {spec_file}",
            "rename that environment: names starting with `preview-` are for previews",
        )
    if result.preview is not None and result.preview.base == chosen:
        found, diagnostics = result.preview, []  # validation already built this one
    else:
        view = resolve_preview(root, chosen)
        if view is None:  # no `previews:` section: the base as it is
            view = Resolved(PREVIEW, resolve(root, chosen).tree, chosen, is_preview=True)
        found, diagnostics = check_environment(root, view, Path(spec_file).resolve().parent)
        diagnostics = [d.in_environment(name) for d in diagnostics]
    if found is None:
        return PreviewSpec(branch, None, tuple(diagnostics))
    # A preview is never protected: it is made to be destroyed.
    settings = dataclasses.replace(found.environment, protect=False)
    spec = dataclasses.replace(found, env=name, environment=settings, base=chosen)
    return PreviewSpec(branch, spec, tuple(diagnostics))
