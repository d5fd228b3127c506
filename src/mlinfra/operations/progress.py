"""What an operation tells as it goes, and what it asks: plain events for a progress hook, and
a question for a confirm hook.

An operation calls `progress(event)` at each step the user follows (a resource created, a line
of Pulumi's output, what waits and why) and `confirm(question)` before it changes anything;
the CLI renders the events and asks the question in a terminal, a test records them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Question:
    """Go ahead and `verb` `what`? (`apply`, `these changes to dev`)."""

    verb: str
    what: str


Progress = Callable[[object], None]
Confirm = Callable[[Question], bool]


def quiet(event: object) -> None:
    """A progress hook that hears nothing."""


def yes(question: Question) -> bool:
    """A confirm hook that always goes ahead (`--auto-approve`)."""
    return True


# --- applying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockTakenOver:
    """The state's lock was stale (its holder is gone) and was taken over."""

    holder: str


@dataclass(frozen=True)
class LookedUp:
    """What the graph leaves to apply time, as looked up (`plan.values.Lookups`)."""

    lookups: Any
    target: str


@dataclass(frozen=True)
class VersionsServed:
    """The model versions this apply serves, each against the one deployed last
    (`operations.versions.VersionServed`)."""

    served: tuple[Any, ...]


@dataclass(frozen=True)
class Planned:
    """The plan about to be carried out (`plan.model.Plan`)."""

    plan: Any


@dataclass(frozen=True)
class UpToDate:
    """The plan changes nothing."""

    env: str


@dataclass(frozen=True)
class Applying:
    """The embedded engine starts carrying out the plan."""

    env: str


@dataclass(frozen=True)
class ResourceEvent:
    """The embedded engine's word on one resource: `what` is started, done, failed or
    waiting; `action` is create, update, replace, delete or `replace (old)`."""

    address: str
    action: str
    what: str


@dataclass(frozen=True)
class Applied:
    """The embedded engine is done: `outcome` (`engines.embedded.Outcome`) in `seconds`,
    the state as written at `serial`."""

    outcome: Any
    seconds: float
    serial: int


@dataclass(frozen=True)
class Rendered:
    """The Pulumi program was written to `out_dir`; `pulumi <verb>` runs next."""

    out_dir: Path
    verb: str  # "up" | "destroy"
    env: str


@dataclass(frozen=True)
class PulumiOutput:
    """One line of Pulumi's own output."""

    line: str


@dataclass(frozen=True)
class RefreshingStack:
    """Pulumi's state is read back first: these endpoints did not serve the last update."""

    env: str
    endpoints: tuple[str, ...]


@dataclass(frozen=True)
class StackOutputs:
    """The stack's outputs (ARNs, URLs) after `pulumi up`."""

    outputs: Mapping[str, Any]


@dataclass(frozen=True)
class Waiting:
    """What waits for a value that does not exist yet (address -> why), and the versions
    kept serving for want of an approved one (`notes`)."""

    waiting: Mapping[str, str]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recorded:
    """What Pulumi applied was recorded in the state."""

    resources: int
    waiting: int
    serial: int


@dataclass(frozen=True)
class ServingUnchecked:
    """The endpoints' serving was not checked (no AWS credentials), and why."""

    reason: str


@dataclass(frozen=True)
class ServingChecked:
    """What each endpoint serves (`engines.endpoints.Serving`), against what was applied."""

    checks: tuple[Any, ...]


# --- refreshing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """What changed outside mlinfra (`plan.model.ResourceChange`s), what of it was deleted
    and so dropped from the state, of `seen` resources read."""

    env: str
    target: str
    changes: tuple[Any, ...]
    gone: tuple[str, ...]
    seen: int


# --- previews -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selected:
    """A changed-only preview builds only some components (`preview.changed.Selection`)."""

    selection: Any
    base: str


@dataclass(frozen=True)
class PreviewStarted:
    env: str
    branch: str
    base: str


@dataclass(frozen=True)
class NoPreview:
    """The branch has no preview: nothing to destroy."""

    branch: str
    env: str


@dataclass(frozen=True)
class PreviewRemoved:
    env: str
    branch: str


@dataclass(frozen=True)
class StateUnreadable:
    """A state among the previews' could not be read: reported, never a reason to stop."""

    problem: str


@dataclass(frozen=True)
class Collecting:
    """The previews about to be destroyed, each with why (`preview.inventory.Preview`)."""

    previews: tuple[tuple[Any, str], ...]


@dataclass(frozen=True)
class PreviewNotDestroyed:
    """A preview could not be destroyed; the others still are. `error` says why, when it is
    more than what the events before it told."""

    env: str
    error: Exception | None = None


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """An environment's Pulumi project was written into `out_dir`."""

    out_dir: str
    env: str
    resources: int
    seconds: float
    files: tuple[str, ...]
    cached: bool = False  # written from the compile cache: nothing it read had changed


# --- auditing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotAudited:
    """An environment the audit skips (a local one), and why."""

    reason: str


# --- pipelines and monitors in the emulator -------------------------------------------------


@dataclass(frozen=True)
class PipelineDiffers:
    """The pipeline in the emulator is not what the spec says now: it runs as last applied."""

    physical: str
    spec_file: str
    env: str


@dataclass(frozen=True)
class ExecutionStarted:
    name: str
    arn: str


@dataclass(frozen=True)
class StepEnded:
    """A pipeline step ended (ListPipelineExecutionSteps' item); a condition step with what
    it found (`operations.pipelines.Gate`)."""

    step: Mapping[str, Any]
    gate: Any = None


@dataclass(frozen=True)
class RunEnded:
    status: str  # Succeeded, Failed or Stopped


@dataclass(frozen=True)
class MonitorStarted:
    name: str
    job: str
