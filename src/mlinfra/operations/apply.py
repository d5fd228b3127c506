"""Apply and destroy: carry out a plan with the state locked (`mlinfra apply`, `mlinfra destroy`).

Local environments are applied by the embedded engine through the emulator (started if none
runs), the state written after every resource. Sagemaker environments (and local ones with
`--engine pulumi`) are rendered and applied by `pulumi up`; what Pulumi applied is then
recorded in the state, and each endpoint is checked for what it really serves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlinfra.emulator.process import LOG_FILE, state_dir_of
from mlinfra.engines import endpoints
from mlinfra.engines import pulumi as engine
from mlinfra.engines.embedded import Outcome
from mlinfra.engines.local import apply_plan
from mlinfra.engines.providers.local import LocalProvider, ProviderError
from mlinfra.ir.graph import ResourceGraph
from mlinfra.operations.environment import (
    check_manageable,
    environment,
    lookups,
    lower_environment,
    open_backend,
    posix_relpath,
    require_pulumi,
)
from mlinfra.operations.errors import Declined, OperationError
from mlinfra.operations.progress import (
    Applied,
    Applying,
    Confirm,
    LockTakenOver,
    LookedUp,
    Planned,
    Progress,
    PulumiOutput,
    Question,
    Recorded,
    RefreshingStack,
    Rendered,
    ResourceEvent,
    StackOutputs,
    UpToDate,
    VersionsServed,
    Waiting,
)
from mlinfra.operations.serving import check_serving
from mlinfra.operations.stacks import write_stack
from mlinfra.operations.versions import versions_served
from mlinfra.plan.diff import plan as diff
from mlinfra.plan.file import load_plan
from mlinfra.plan.model import PlanError
from mlinfra.plan.values import from_program
from mlinfra.render.helpers import LOOKUPS_OUTPUT
from mlinfra.render.pulumi import render_project
from mlinfra.state import LockError, StateError
from mlinfra.state.model import State

EMBEDDED, PULUMI = "embedded", "pulumi"


@dataclass(frozen=True)
class ApplyRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    destroy: bool = False  # delete everything the state records, dependents first
    plan_file: str | None = None  # a saved plan to carry out exactly (embedded engine)
    location: str | None = None  # --state
    lock_timeout: float = 0.0
    engine: str | None = None  # EMBEDDED or PULUMI; None: the target's own
    backend_url: str | None = None  # where Pulumi keeps the stack
    allow_removal: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApplyResult:
    state: State  # as finally written
    outcome: Outcome | None = None  # the embedded engine's, when it ran

    @property
    def ok(self) -> bool:
        """Whether every change was made (or waits for a value, with why)."""
        return self.outcome is None or self.outcome.ok


def apply(request: ApplyRequest, progress: Progress, confirm: Confirm) -> ApplyResult:
    """Plan, ask, then change the environment (`request.destroy`: delete all of it)."""
    spec = environment(request.validation, request.env, request.spec_file)
    chosen = request.engine or (EMBEDDED if spec.target == "local" else PULUMI)
    if chosen == PULUMI:
        _refuse_embedded_only_options(request)
        require_pulumi()
    elif spec.target != "local":
        raise OperationError(
            f"the embedded engine applies local environments; {spec.env!r} is a "
            f"{spec.target} environment",
            "leave out --engine (sagemaker environments use --engine pulumi)",
        )
    graph = lower_environment(spec, request.spec_file)
    command = "mlinfra destroy" if request.destroy else "mlinfra apply"
    backend = open_backend(spec, request.spec_file, request.location)
    try:
        with backend.lock(request.env, command, request.lock_timeout) as lock:
            if getattr(lock, "taken_over", None):
                progress(LockTakenOver(lock.taken_over))
            state = backend.read(spec.project, request.env)
            if chosen == PULUMI:
                if state.project != spec.project:
                    raise OperationError(
                        f"the state of {spec.env!r} belongs to project {state.project!r}"
                    )
                out_dir = Path(request.spec_file).parent / "stacks" / spec.env
                run = PulumiRun(spec, request.spec_file, graph, out_dir, request.backend_url)
                return ApplyResult(
                    apply_with_pulumi(run, backend, state, request.destroy, progress, confirm)
                )
            return apply_locally(
                spec, request.spec_file, graph, backend, state, progress, confirm,
                request.allow_removal, request.plan_file, request.destroy,
            )  # fmt: skip
    except (LockError, StateError) as exc:
        raise OperationError(str(exc)) from None


def _refuse_embedded_only_options(request: ApplyRequest) -> None:
    if request.plan_file:
        raise OperationError(
            "a saved plan is carried out by the embedded engine; the pulumi engine shows "
            "Pulumi's own preview and asks before changing anything",
            "leave out PLAN_FILE",
        )
    if request.allow_removal:
        raise OperationError(
            "--allow-removal is for the embedded engine; Pulumi protects data-holding "
            "resources itself (they are rendered with `protect=True`)",
            "unprotect one with `pulumi state unprotect URN` in the rendered project",
        )


def _question(destroy: bool, env: str) -> Question:
    return Question("destroy" if destroy else "apply", f"these changes to {env}")


# --- the embedded engine --------------------------------------------------------------------


def apply_locally(
    spec,
    spec_file: str,
    graph: ResourceGraph,
    backend,
    state: State,
    progress: Progress,
    confirm: Confirm,
    allow_removal: tuple[str, ...] = (),
    plan_file: str | None = None,
    destroy: bool = False,
) -> ApplyResult:
    """Plan `graph` against `state` (or load `plan_file`), ask, and carry the plan out with
    the embedded engine; the state is written after every resource. The caller holds the
    lock. Raises when the plan would lose data or the emulator stopped half-way."""
    if state.project != spec.project:
        raise OperationError(f"the state of {spec.env!r} belongs to project {state.project!r}")
    check_manageable(spec, backend, state)
    try:
        # Applying a local environment starts its emulator when none runs.
        provider = LocalProvider.for_spec(spec_file, spec.region, start=True)
    except ProviderError as exc:
        raise OperationError(str(exc)) from None
    if destroy:
        graph = ResourceGraph(graph.project, graph.env, graph.target, graph.region, ())
    found = lookups(graph, spec_file, state, spec)
    if plan_file:
        planned = _saved_plan(plan_file, spec, state)
    else:
        planned = diff(
            graph,
            state,
            found.known,
            allow_removal=allow_removal,
            protect=spec.protect,
            unavailable=found.unavailable,
        )
    progress(LookedUp(found, spec.target))
    progress(VersionsServed(versions_served(spec, graph, found, state)))
    progress(Planned(planned))
    if not planned.ok:
        raise OperationError(
            "the plan would lose data: " + ", ".join(r.address for r in planned.refused),
            "keep these resources in the spec, or name each with --allow-removal ADDRESS",
        )
    if not planned.has_changes:
        progress(UpToDate(spec.env))
        return ApplyResult(state)
    if not confirm(_question(destroy, spec.env)):
        raise Declined()

    started = time.perf_counter()
    progress(Applying(spec.env))

    def on_event(address: str, action: str, what: str) -> None:
        progress(ResourceEvent(address, action, what))

    applied = apply_plan(planned, graph, state, backend, provider, found.known, on_event)
    outcome = applied.outcome
    if outcome.waiting and not outcome.stopped:
        # Said as things stand now: this apply may have created what the plan found missing.
        now = lookups(graph, spec_file, applied.state, spec).waiting(graph)
        outcome.waiting.update({a: now[a] for a in outcome.waiting if a in now})
    progress(Applied(outcome, time.perf_counter() - started, applied.state.serial))
    if outcome.stopped:
        raise OperationError(
            f"the {'destroy' if destroy else 'apply'} stopped: {outcome.stopped}",
            f"see why in {state_dir_of(spec_file) / LOG_FILE}; start it again with `mlinfra "
            f"emulator start -f {spec_file}` (or just rerun this command, which starts one) "
            "and rerun this command: the state records what was done, and it carries on "
            "from there",
        )
    return ApplyResult(applied.state, outcome)


def _saved_plan(plan_file: str, spec, state: State):
    """The plan saved in `plan_file`, if it is this environment's and its state is current."""
    try:
        found = load_plan(plan_file)
    except PlanError as exc:
        raise OperationError(str(exc)) from None
    if (found.project, found.environment) != (spec.project, spec.env):
        raise OperationError(
            f"{plan_file} is a plan of {found.project} ({found.environment}), not {spec.env}"
        )
    if (found.state_serial, found.state_lineage) != (state.serial, state.lineage):
        raise OperationError(
            f"{plan_file} is stale: the state of {spec.env!r} has changed since it was made",
            f"plan again: mlinfra plan --env {spec.env} --out {plan_file}",
        )
    return found


# --- the Pulumi engine ----------------------------------------------------------------------


@dataclass(frozen=True)
class PulumiRun:
    """What `pulumi up` or `destroy` runs: `graph`, rendered into `out_dir`, on the stack
    named after the environment, kept in `backend_url` (None: Pulumi's default)."""

    spec: object  # the `EnvSpec`
    spec_file: str
    graph: ResourceGraph
    out_dir: Path
    backend_url: str | None


def apply_with_pulumi(
    run: PulumiRun,
    backend,
    state: State,
    destroy: bool,
    progress: Progress,
    confirm: Confirm,
    on_confirmed=None,
) -> State:
    """Render the graph and `pulumi up` (or destroy) it, then record what Pulumi applied in
    the state, with the outputs its stack holds (ARNs...), so that `plan` and `output` know
    it; the state as written.

    Pulumi shows its own preview and keeps its own state. When it fails, the state is left
    as it was: the next plan still shows the changes, and Pulumi knows what it got done.
    `on_confirmed(state)`, called once the user said yes and before Pulumi starts, may write
    the state and return it (a preview records itself there).
    """
    spec, graph, out_dir, backend_url = run.spec, run.graph, run.out_dir, run.backend_url
    write_stack(
        render_project(graph, spec, posix_relpath(run.spec_file, str(out_dir))),
        out_dir,
        "Pulumi runs the project from there: make it a folder mlinfra can write",
    )
    progress(Rendered(out_dir, "destroy" if destroy else "up", spec.env))
    if not confirm(_question(destroy, spec.env)):
        raise Declined()
    if on_confirmed is not None:
        state = on_confirmed(state)
    spec_dir = Path(run.spec_file).resolve().parent
    # A local environment's state is the embedded engine's, which records each request it
    # sent; running its program with Pulumi (--engine pulumi) leaves that state alone.
    records = spec.target != "local"
    started = datetime.now(UTC)

    def on_output(line: str) -> None:
        progress(PulumiOutput(line))

    try:
        if destroy:
            engine.destroy(out_dir, spec.env, spec_dir, backend_url, on_output=on_output)
            if not records:
                return state
            return backend.write(engine.recorded(state, graph, {}, destroyed=True))
        stale = endpoints.not_serving(state) if records else {}
        if stale:
            # Pulumi's state says these endpoints serve what was applied; it must read them
            # back, or it sees nothing to update.
            progress(RefreshingStack(spec.env, tuple(stale)))
            engine.refreshed(spec.project, spec.env, spec_dir, backend_url)
        outputs = engine.up(out_dir, spec.env, spec_dir, backend_url, on_output=on_output)
        if records:
            stack = engine.stack_resources(spec.project, spec.env, spec_dir, backend_url)
    except engine.PulumiFailed as exc:
        raise OperationError(
            str(exc), f"fix it and run it again; the state of {spec.env!r} is unchanged"
        ) from None
    progress(StackOutputs({k: v for k, v in outputs.items() if k != LOOKUPS_OUTPUT}))
    found = from_program(graph, outputs)
    progress(Waiting(found.waiting(graph), tuple(found.notes)))
    if not records:
        return state
    written = backend.write(engine.recorded(state, graph, stack, values=found))
    progress(Recorded(len(written.resources), len(found.waiting(graph)), written.serial))
    applied = endpoints.applied_endpoints(graph, stack)
    return check_serving(spec, written, backend, applied, progress, started)
