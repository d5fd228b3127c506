"""Previews: a running copy of the ML system per git branch, planned, brought up and down,
listed, and collected when it expires or its branch is gone (`mlinfra preview ...`).

A preview is its base environment with `previews.overrides` applied and names of its own
(`preview.environment`); its state records the branch, the base and when it expires. Local
previews are applied by the embedded engine beside their base. Previews of sagemaker
environments are rendered into `.mlinfra/previews/<preview>/` beside the spec (generated per
branch, not checked in) and applied by Pulumi on a stack named after the preview; their
state is written before Pulumi starts, so that `list` and `gc` know a preview whose `up` was
interrupted.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from mlinfra.diagnostics import has_errors
from mlinfra.emulator import process
from mlinfra.engines import pulumi as engine
from mlinfra.git import GitError, current_branch, existing_branches, merge_base
from mlinfra.ir.graph import ResourceGraph
from mlinfra.operations.apply import ApplyResult, PulumiRun, apply_locally, apply_with_pulumi
from mlinfra.operations.compliance import compare_revisions
from mlinfra.operations.environment import (
    check_manageable,
    lookups,
    lower_environment,
    open_backend,
    read_state,
    require_pulumi,
)
from mlinfra.operations.errors import Declined, OperationError
from mlinfra.operations.progress import (
    Collecting,
    Confirm,
    NoPreview,
    PreviewNotDestroyed,
    PreviewRemoved,
    PreviewStarted,
    Progress,
    Question,
    Selected,
    StateUnreadable,
    yes,
)
from mlinfra.plan.diff import plan as diff
from mlinfra.plan.model import Plan
from mlinfra.preview.changed import (
    Selection,
    StackResources,
    defer,
    is_changed_only,
    own_copies,
    select,
)
from mlinfra.preview.comment import AuditComparison
from mlinfra.preview.environment import PreviewError, default_base, preview_spec
from mlinfra.preview.inventory import (
    Preview,
    StampingBackend,
    environments_in,
    graph_names,
    list_previews,
    remove_state,
    stamped,
    state_names,
    utc_now,
)
from mlinfra.render.outputs import outputs_document
from mlinfra.spec.values import parse_duration
from mlinfra.state import LockError, StateError
from mlinfra.state.model import PreviewInfo, State

PROGRAMS_DIR = Path(".mlinfra") / "previews"


@dataclass(frozen=True)
class PreviewRequest:
    """The preview of `branch` (None: the branch checked out where the spec is) on `base`
    (None: the spec's `previews.base`), its state in `location` (--state)."""

    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    branch: str | None = None
    base: str | None = None
    location: str | None = None
    compare_to: str | None = None  # the revision a changed-only preview compares with
    lock_timeout: float = 0.0
    backend_url: str | None = None  # where Pulumi keeps a sagemaker preview's stack
    with_audit: bool = False  # plan: also compare the base's audit with `compare_to`


@dataclass(frozen=True)
class PreviewPlan:
    plan: Plan
    spec: object  # the preview's `EnvSpec`
    branch: str
    state: State
    where: str  # where the preview's state is, in words
    selection: Selection | None  # a changed-only preview's
    audit: AuditComparison | None  # with `with_audit`


@dataclass(frozen=True)
class PreviewUp:
    env: str
    info: PreviewInfo | None  # what the state records of the preview (its expiry)
    applied: ApplyResult | None  # the embedded engine's apply, for a local preview
    urls: dict[str, str]  # a local preview's endpoints: address -> where to call them

    @property
    def ok(self) -> bool:
        return self.applied is None or self.applied.ok


@dataclass(frozen=True)
class PreviewDown:
    applied: ApplyResult | None = None  # the embedded engine's destroy, when it ran

    @property
    def ok(self) -> bool:
        return self.applied is None or self.applied.ok


@dataclass(frozen=True)
class PreviewList:
    project: str
    previews: tuple[Preview, ...]
    problems: tuple[str, ...]  # states that could not be read


@dataclass(frozen=True)
class GcRequest:
    validation: object
    spec_file: str
    location: str | None = None
    prune_merged: bool = False  # also previews whose branch no longer exists in git
    dry_run: bool = False
    lock_timeout: float = 0.0


@dataclass(frozen=True)
class Collected:
    previews: int  # how many there are
    doomed: tuple[tuple[Preview, str], ...]  # those to destroy, each with why
    dry_run: bool = False


# --- the preview of a branch ----------------------------------------------------------------


def branch_of(branch: str | None, spec_file: str) -> str:
    """`branch`, else the branch checked out where the spec is."""
    if branch is not None:
        if not branch.strip():
            raise OperationError("--branch is empty", "pass --branch NAME")
        return branch
    try:
        return current_branch(Path(spec_file).resolve().parent)
    except GitError as exc:
        raise OperationError(
            f"cannot tell which branch to preview: {exc}", "pass --branch NAME"
        ) from None


def preview_of(validation, branch: str, base: str | None, spec_file: str):
    """The preview's `EnvSpec`; an error carrying the diagnostics when it is invalid."""
    try:
        found = preview_spec(validation, branch, base, spec_file)
    except PreviewError as exc:
        raise OperationError(str(exc), exc.suggestion) from None
    problems = tuple(found.diagnostics)
    if has_errors(list(problems)) or found.spec is None:
        raise OperationError(
            f"the preview of branch {branch!r} is invalid",
            "fix the errors above",
            diagnostics=problems,
            source=validation.document.text,
        )
    return found.spec


def ttl_of(spec):
    return parse_duration(spec.previews.ttl) if spec.previews is not None else None


def _require_owner(state, spec, branch: str) -> None:
    if state.preview is not None and state.preview.branch != branch:
        raise OperationError(
            f"{spec.env!r} is the preview of branch {state.preview.branch!r}, not {branch!r}",
            "two branches were given the same preview name (a hash collision); "
            f"`mlinfra preview down --branch {state.preview.branch}` frees it",
        )


def check_isolation(validation, spec, spec_file: str, graph, backend) -> None:
    """An error when one of the preview's physical names is the base environment's or is
    recorded by another state: a preview must never touch what it does not own."""
    mine = graph_names(graph)
    taken: dict[str, str] = {}
    base = validation.environments.get(spec.base)
    if base is not None and base.target == spec.target:
        for name in graph_names(lower_environment(base, spec_file)):
            taken[name] = f"environment {spec.base!r}"
    try:
        for env in environments_in(backend):
            if env == spec.env:
                continue
            for name in state_names(backend.read(spec.project, env)):
                taken.setdefault(name, f"the state of {env!r}")
    except StateError as exc:
        raise OperationError(str(exc)) from None
    clashes = sorted(name for name in mine if name in taken)
    if clashes:
        raise OperationError(
            f"the preview {spec.env!r} would reuse names it does not own: "
            + ", ".join(f"{n} ({taken[n]})" for n in clashes),
            "preview another branch name, or rename the component",
        )


def changed_only(validation, spec, branch: str, spec_file: str, graph, backend, request):
    """For `previews.mode: changed-only`, the graph of the changed components only, with
    references to the others pointing at the base environment, and the selection; else the
    graph as it is and None. A local base's resources are read from its state, a sagemaker
    base's from its Pulumi stack (in `request.backend_url`, else the default backend)."""
    if not is_changed_only(spec):
        return graph, None
    try:
        chosen = select(validation, spec, branch, spec_file, request.compare_to)
        selection = own_copies(graph, chosen)
        base_graph = lower_environment(validation.environments[spec.base], spec_file)
        if spec.target == "local":
            base_state = backend.read(spec.project, spec.base)
        else:
            base_state = _base_resources(spec, spec_file, request.backend_url)
        return defer(graph, base_graph, base_state, selection, spec.base), selection
    except PreviewError as exc:
        raise OperationError(str(exc), exc.suggestion) from None
    except StateError as exc:
        raise OperationError(str(exc)) from None
    except engine.PulumiMissing as exc:
        raise OperationError(f"reading {spec.base!r}'s resources: {exc}", exc.suggestion) from None
    except engine.PulumiFailed as exc:
        raise OperationError(
            f"reading {spec.base!r}'s resources from its Pulumi stack: {exc}"
        ) from None


def _base_resources(spec, spec_file: str, backend_url: str | None) -> StackResources:
    """The base environment's resources, read from its Pulumi stack when first needed."""
    spec_dir = Path(spec_file).resolve().parent
    return StackResources(
        lambda: engine.stack_resources(spec.project, spec.base, spec_dir, backend_url)
    )


def audit_comparison(spec_file: str, spec, compare_to: str | None) -> AuditComparison:
    """Audit the preview's base environment at `compare_to` (None: the merge base of HEAD and
    the default branch) and in the working tree; a note instead when that cannot be done."""
    folder = Path(spec_file).resolve().parent
    if compare_to is not None:
        revision, label = compare_to, compare_to
    else:
        try:
            upstream, revision = merge_base(folder)
        except GitError as exc:
            return AuditComparison(
                note=f"no revision to compare with: {exc}; pass --compare-to REV"
            )
        label = f"the fork point from {upstream} ({revision[:7]})"
    try:
        found = compare_revisions(Path(spec_file), revision, None, spec.base)
    except OperationError as exc:
        return AuditComparison(note=str(exc))
    return AuditComparison(label, tuple(found.new), tuple(found.resolved))


# --- plan -----------------------------------------------------------------------------------


def plan(request: PreviewRequest) -> PreviewPlan:
    """What `up` would change in the branch's preview."""
    validation, spec_file = request.validation, request.spec_file
    branch = branch_of(request.branch, spec_file)
    spec = preview_of(validation, branch, request.base, spec_file)
    graph = lower_environment(spec, spec_file)
    backend, state = read_state(spec, spec_file, request.location)
    _require_owner(state, spec, branch)
    check_manageable(spec, backend, state)
    graph, selection = changed_only(validation, spec, branch, spec_file, graph, backend, request)
    check_isolation(validation, spec, spec_file, graph, backend)
    found = lookups(graph, spec_file, state, spec)
    planned = diff(graph, state, found.known, unavailable=found.unavailable)
    audit = audit_comparison(spec_file, spec, request.compare_to) if request.with_audit else None
    where = backend.describe(spec.env)
    return PreviewPlan(planned, spec, branch, state, where, selection, audit)


# --- up and down ----------------------------------------------------------------------------


def program_dir(spec_file: str, env: str) -> Path:
    return Path(spec_file).resolve().parent / PROGRAMS_DIR / env


def up(request: PreviewRequest, progress: Progress, confirm: Confirm) -> PreviewUp:
    """Create or update the branch's preview, and push its expiry back by `previews.ttl`."""
    validation, spec_file = request.validation, request.spec_file
    branch = branch_of(request.branch, spec_file)
    spec = preview_of(validation, branch, request.base, spec_file)
    with_pulumi = spec.target != "local"
    if with_pulumi:
        require_pulumi()
    graph = lower_environment(spec, spec_file)
    backend = open_backend(spec, spec_file, request.location)
    graph, selection = changed_only(validation, spec, branch, spec_file, graph, backend, request)
    check_isolation(validation, spec, spec_file, graph, backend)
    if selection is not None:
        progress(Selected(selection, spec.base))
    applied = None
    try:
        with backend.lock(spec.env, "mlinfra preview up", request.lock_timeout):
            state = backend.read(spec.project, spec.env)
            _require_owner(state, spec, branch)
            info = stamped(state.preview, branch, spec.base, ttl_of(spec), utc_now())
            progress(PreviewStarted(spec.env, branch, spec.base))
            if with_pulumi:
                _up_with_pulumi(spec, spec_file, graph, backend, state, info, request, progress,
                                confirm)  # fmt: skip
                info = backend.read(spec.project, spec.env).preview
            else:
                applied = apply_locally(
                    spec, spec_file, graph, StampingBackend(backend, info), state, progress,
                    confirm,
                )  # fmt: skip
                if not applied.ok:
                    return PreviewUp(spec.env, info, applied, {})
                # Nothing may have changed: the expiry still moves, since the branch is alive.
                state = backend.read(spec.project, spec.env)
                if not state.is_empty and state.preview != info:
                    backend.write(dataclasses.replace(state, preview=info))
    except (LockError, StateError) as exc:
        raise OperationError(str(exc)) from None
    urls = {} if with_pulumi else _urls(graph, backend, spec, spec_file)
    return PreviewUp(spec.env, info, applied, urls)


def _up_with_pulumi(spec, spec_file, graph, backend, state, info, request, progress, confirm):
    """Record the preview, `pulumi up` its program, then record what Pulumi applied. When
    Pulumi fails the record stays, so `list` shows the preview and `gc` collects it."""
    previous = state.preview
    # The stack stays where it was first made, unless --backend says otherwise.
    backend_url = (
        request.backend_url
        or (previous.backend if previous is not None else None)
        or os.environ.get("PULUMI_BACKEND_URL")
    )
    info = dataclasses.replace(info, engine="pulumi", backend=backend_url)
    run = PulumiRun(spec, spec_file, graph, program_dir(spec_file, spec.env), backend_url)
    apply_with_pulumi(
        run, backend, state, False, progress, confirm,
        on_confirmed=lambda found: backend.write(dataclasses.replace(found, preview=info)),
    )  # fmt: skip


def _urls(graph, backend, spec, spec_file: str) -> dict[str, str]:
    """Where to call the preview's endpoints: what a reviewer wants from a running copy."""
    running = process.status(spec_file)
    if running is None:
        return {}
    try:
        state = backend.read(spec.project, spec.env)
    except StateError:
        return {}
    document = outputs_document(graph, state, running.url)
    return {
        address: component["url"]
        for address, component in document["components"].items()
        if component.get("url")
    }


def down(request: PreviewRequest, progress: Progress, confirm: Confirm) -> PreviewDown:
    """Destroy the branch's preview and remove its state; nothing to do when it has none."""
    branch = branch_of(request.branch, request.spec_file)
    spec = _spec_for_down(request.validation, branch, request.base, request.spec_file,
                          request.location)  # fmt: skip
    return _destroy(request, spec, branch, progress, confirm)


def _destroy(request: PreviewRequest, spec, branch: str, progress, confirm) -> PreviewDown:
    spec_file, env = request.spec_file, spec.env
    backend = open_backend(spec, spec_file, request.location)
    try:
        with backend.lock(env, "mlinfra preview down", request.lock_timeout):
            state = backend.read(spec.project, env)
            if state.preview is None and state.is_empty:
                progress(NoPreview(branch, env))
                return PreviewDown()
            _require_owner(state, spec, branch)
            if state.preview is not None and state.preview.engine == "pulumi":
                graph = lower_environment(spec, spec_file)
                _down_with_pulumi(spec, spec_file, graph, backend, state, request, progress,
                                  confirm)  # fmt: skip
                state = backend.read(spec.project, env)
            elif not state.is_empty:
                if spec.target != "local":
                    raise OperationError(
                        f"the state of {env!r} holds local resources, but its base "
                        f"{spec.base!r} is a {spec.target} environment: pass --base with "
                        "the local environment it was brought up from"
                    )
                empty = ResourceGraph(spec.project, env, spec.target, spec.region, ())
                applied = apply_locally(
                    spec, spec_file, empty, backend, state, progress, confirm, destroy=True
                )
                if not applied.ok:
                    return PreviewDown(applied)
                state = backend.read(spec.project, env)
            if state.is_empty:
                remove_state(backend, env)
                progress(PreviewRemoved(env, branch))
    except (LockError, StateError) as exc:
        raise OperationError(str(exc)) from None
    return PreviewDown()


def _down_with_pulumi(spec, spec_file, graph, backend, state, request, progress, confirm):
    """`pulumi destroy` the preview's stack and remove the stack. When Pulumi fails the
    record stays, so the preview is still listed and can be collected again."""
    require_pulumi()
    backend_url = request.backend_url or state.preview.backend
    out_dir = program_dir(spec_file, spec.env)
    run = PulumiRun(spec, spec_file, graph, out_dir, backend_url)
    apply_with_pulumi(run, backend, state, True, progress, confirm)
    try:
        engine.remove_stack(out_dir, spec.env, Path(spec_file).resolve().parent, backend_url)
    except engine.PulumiFailed as exc:
        raise OperationError(str(exc)) from None


def _spec_for_down(validation, branch: str, base: str | None, spec_file: str, location):
    """The preview's spec: on `base` when given, else on the base its state records (when the
    spec still has it), else on `previews.base` (else the first environment)."""
    if base is not None:
        return preview_of(validation, branch, base, spec_file)
    fallback = default_base(validation)
    if fallback not in validation.environments:
        fallback = next(iter(validation.environments), None)
    if fallback is None:
        raise OperationError(f"{spec_file} has no environments")
    spec = preview_of(validation, branch, fallback, spec_file)
    try:
        state = open_backend(spec, spec_file, location).read(spec.project, spec.env)
    except StateError as exc:
        raise OperationError(str(exc)) from None
    recorded = state.preview.base if state.preview else None
    if recorded and recorded != fallback and recorded in validation.environments:
        return preview_of(validation, branch, recorded, spec_file)
    return spec


# --- list and gc ----------------------------------------------------------------------------


def _project_backend(validation, spec_file: str, location: str | None):
    """The state backend previews of this spec live in (the default base's region for S3)."""
    specs = list(validation.environments.values())
    if not specs:
        raise OperationError(f"{spec_file} has no environments")
    base = validation.environments.get(default_base(validation) or "", specs[0])
    return base.project, open_backend(base, spec_file, location)


def _listed(backend, project: str) -> tuple[list[Preview], list[str]]:
    try:
        return list_previews(backend, project)
    except StateError as exc:
        raise OperationError(str(exc)) from None


def listed(request: PreviewRequest) -> PreviewList:
    """The project's previews: branch, base, age, expiry and resource count of each."""
    project, backend = _project_backend(request.validation, request.spec_file, request.location)
    previews, problems = _listed(backend, project)
    return PreviewList(project, tuple(previews), tuple(problems))


def collect(request: GcRequest, progress: Progress, confirm: Confirm) -> Collected:
    """Destroy expired previews (and, with `prune_merged`, those of deleted branches). One
    that cannot be destroyed does not keep the others: all are tried, then it is an error."""
    validation, spec_file = request.validation, request.spec_file
    project, backend = _project_backend(validation, spec_file, request.location)
    previews, problems = _listed(backend, project)
    for problem in problems:
        progress(StateUnreadable(problem))
    branches = None
    if request.prune_merged:
        try:
            branches = existing_branches(Path(spec_file).resolve().parent)
        except GitError as exc:
            raise OperationError(
                f"--prune-merged asks git which branches exist: {exc}", "leave out --prune-merged"
            ) from None
    now = utc_now()
    doomed: list[tuple[Preview, str]] = []
    for p in previews:
        if p.expired(now):
            doomed.append((p, f"expired at {p.info.expires_at}"))
        elif branches is not None and p.info.branch not in branches:
            doomed.append((p, f"branch {p.info.branch} no longer exists"))
    if not doomed:
        return Collected(len(previews), ())
    progress(Collecting(tuple(doomed)))
    if request.dry_run:
        return Collected(len(previews), tuple(doomed), dry_run=True)
    if not confirm(Question("destroy", f"these {len(doomed)} preview(s)")):
        raise Declined()
    failed = []
    for p, _ in doomed:
        base = p.info.base if p.info.base in validation.environments else None
        one = PreviewRequest(validation, spec_file, p.info.branch, base, request.location,
                             lock_timeout=request.lock_timeout)  # fmt: skip
        spec = _spec_for_down(validation, p.info.branch, base, spec_file, request.location)
        try:
            done = _destroy(one, spec, p.info.branch, progress, yes)
        except OperationError as exc:
            progress(PreviewNotDestroyed(p.env, exc))
            failed.append(p.env)
            continue
        if not done.ok:
            progress(PreviewNotDestroyed(p.env))
            failed.append(p.env)
    if failed:
        raise OperationError(f"could not destroy {len(failed)} preview(s): {', '.join(failed)}")
    return Collected(len(previews), tuple(doomed))
