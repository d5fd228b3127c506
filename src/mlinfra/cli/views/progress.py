"""An operation's progress in the terminal: each event (`mlinfra.operations.progress`) as the
lines it prints, and the spinner while the embedded engine works.

Use it as a context manager, so the spinner stops however the operation ends.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click

from mlinfra.cli.common import make_console, say, show_operation_error
from mlinfra.cli.views.pipelines import STYLES, step_line
from mlinfra.ir.waiting import grouped
from mlinfra.operations import progress as events
from mlinfra.plan.model import DELETE
from mlinfra.plan.views import to_text

# "kept": not deleted, since a change that failed still uses it (the next apply deletes it).
EVENT_STYLES = {"done": "green", "failed": "bold red", "waiting": "yellow", "kept": "yellow"}
VERBS = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "replace (old)": "deleted the replaced",
}


class ProgressView:
    """The progress hook the commands give their operation."""

    def __init__(self) -> None:
        self.out = make_console()
        self.err = make_console(stderr=True)
        self._status = None

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(self, *exc) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    @functools.singledispatchmethod
    def __call__(self, event: object) -> None:
        """An event this view does not show."""

    # --- applying ---------------------------------------------------------------------------

    @__call__.register
    def _lock_taken_over(self, event: events.LockTakenOver) -> None:
        say(self.err, f"took over a stale lock: {event.holder}", "dim")

    @__call__.register
    def _looked_up(self, event: events.LookedUp) -> None:
        show_lookups(self.err, event.lookups, event.target)

    @__call__.register
    def _versions_served(self, event: events.VersionsServed) -> None:
        for served in event.served:
            say(self.out, served.describe(), "bold" if served.moves else None)

    @__call__.register
    def _planned(self, event: events.Planned) -> None:
        self.out.print(to_text(event.plan), end="")

    @__call__.register
    def _up_to_date(self, event: events.UpToDate) -> None:
        say(self.out, f"{event.env} is up to date: nothing to do.", "bold green")

    @__call__.register
    def _applying(self, event: events.Applying) -> None:
        self._status = self.out.status(f"applying to {event.env}…")
        self._status.start()

    @__call__.register
    def _resource_event(self, event: events.ResourceEvent) -> None:
        if event.what == "started":
            if self._status is not None:
                self._status.update(f"{event.action} {event.address}…")
        elif event.what in EVENT_STYLES:
            verb = VERBS.get(event.action, event.action) if event.what == "done" else event.what
            say(self.out, f"  {verb}: {event.address}", EVENT_STYLES[event.what])

    @__call__.register
    def _applied(self, event: events.Applied) -> None:
        self._stop()
        outcome = event.outcome
        show_waiting(self.out, outcome.waiting)
        for address, why in outcome.failed.items():
            say(self.out, f"  failed: {address}: {why}", "bold red")
        summary = (
            f"{len(outcome.done)} changed, {len(outcome.waiting)} waiting, "
            f"{len(outcome.failed)} failed in {event.seconds:.1f} s; "
            f"state serial {event.serial}"
        )
        say(self.out, summary, "bold green" if outcome.ok else "bold red")

    @__call__.register
    def _rendered(self, event: events.Rendered) -> None:
        say(
            self.out, f"rendered {event.out_dir}/; running pulumi {event.verb} on stack {event.env}"
        )

    @__call__.register
    def _pulumi_output(self, event: events.PulumiOutput) -> None:
        click.echo(event.line)

    @__call__.register
    def _refreshing_stack(self, event: events.RefreshingStack) -> None:
        what = ", ".join(event.endpoints)
        say(self.out, f"refreshing stack {event.env} first: {what} did not serve the update")

    @__call__.register
    def _stack_outputs(self, event: events.StackOutputs) -> None:
        for name, value in event.outputs.items():
            say(self.out, f"  {name} = {value}")

    @__call__.register
    def _waiting(self, event: events.Waiting) -> None:
        show_waiting(self.out, event.waiting, event.notes)

    @__call__.register
    def _recorded(self, event: events.Recorded) -> None:
        say(
            self.out,
            f"{event.resources} resource(s) recorded, {event.waiting} waiting; "
            f"state serial {event.serial}",
            "bold green",
        )

    @__call__.register
    def _serving_unchecked(self, event: events.ServingUnchecked) -> None:
        say(self.out, f"did not check what the endpoints serve: {event.reason}", "yellow")

    @__call__.register
    def _serving_checked(self, event: events.ServingChecked) -> None:
        for found in event.checks:
            if found.ok:
                say(
                    self.out,
                    f"  serving: {found.address} serves {found.serving} ({found.status})",
                )
        for found in event.checks:
            if not found.ok and found.serving is not None:
                say(
                    self.out,
                    f"  not serving what was applied: {found.address} ({found.endpoint}) "
                    f"serves {found.serving}, not {found.applied}: {found.reason}",
                    "bold red",
                )

    # --- refreshing -------------------------------------------------------------------------

    @__call__.register
    def _drift(self, event: events.Drift) -> None:
        if not event.changes:
            say(
                self.out,
                f"No drift: {event.env} is as the state records ({event.seen} resource(s)).",
            )
            # Why `plan` may still show changes: it compares with the spec, not the state.
            say(
                self.out,
                "  Refresh compares what exists with what the last apply made; what the spec "
                "or the model registry asks for since (a new approved version, an edit) is "
                f"what `mlinfra plan --env {event.env}` shows.",
                "dim",
            )
            return
        for change in event.changes:
            if change.action == DELETE:
                say(self.out, f"  - {change.address}: deleted outside mlinfra", "red")
            else:
                paths = ", ".join(c.path for c in change.changed)
                say(self.out, f"  ~ {change.address}: changed outside mlinfra: {paths}", "yellow")
        changed = len(event.changes) - len(event.gone)
        undone = (
            "; the next apply sets the changed ones back"
            if changed and event.target != "local"
            else ""
        )
        say(
            self.out,
            f"Drift: {len(event.changes)} resource(s); {len(event.gone)} dropped from the state "
            f"(the next apply creates them again){undone}",
            "bold",
        )

    # --- previews ---------------------------------------------------------------------------

    @__call__.register
    def _selected(self, event: events.Selected) -> None:
        say(self.out, describe_selection(event.selection, event.base), "dim")

    @__call__.register
    def _preview_started(self, event: events.PreviewStarted) -> None:
        say(
            self.out, f"preview {event.env} of branch {event.branch}, based on {event.base}", "bold"
        )

    @__call__.register
    def _no_preview(self, event: events.NoPreview) -> None:
        say(self.out, f"branch {event.branch} has no preview ({event.env}): nothing to destroy")

    @__call__.register
    def _preview_removed(self, event: events.PreviewRemoved) -> None:
        say(self.out, f"removed the preview {event.env} of branch {event.branch}", "bold green")

    @__call__.register
    def _state_unreadable(self, event: events.StateUnreadable) -> None:
        say(self.err, f"warning: {event.problem}", "yellow")

    @__call__.register
    def _collecting(self, event: events.Collecting) -> None:
        for preview, why in event.previews:
            say(self.out, f"  {preview.env} (branch {preview.info.branch}): {why}")

    @__call__.register
    def _preview_not_destroyed(self, event: events.PreviewNotDestroyed) -> None:
        if event.error is not None:
            show_operation_error(event.error)

    # --- auditing ---------------------------------------------------------------------------

    @__call__.register
    def _not_audited(self, event: events.NotAudited) -> None:
        say(self.err, f"info: {event.reason}", "dim")

    # --- pipelines and monitors in the emulator --------------------------------------------

    @__call__.register
    def _pipeline_differs(self, event: events.PipelineDiffers) -> None:
        say(
            self.err,
            f"warning: pipeline {event.physical} in the emulator differs from {event.spec_file}: "
            f"it runs as last applied; `mlinfra apply --env {event.env}` updates it",
            "yellow",
        )

    @__call__.register
    def _execution_started(self, event: events.ExecutionStarted) -> None:
        say(self.out, f"started {event.name}: execution {event.arn.rsplit('/', 1)[-1]}", "bold")
        say(self.out, f"  {event.arn}")

    @__call__.register
    def _step_ended(self, event: events.StepEnded) -> None:
        say(self.out, step_line(event.step, event.gate), STYLES.get(event.step["StepStatus"]))

    @__call__.register
    def _run_ended(self, event: events.RunEnded) -> None:
        say(self.out, f"execution {event.status.lower()}", STYLES.get(event.status))

    @__call__.register
    def _monitor_started(self, event: events.MonitorStarted) -> None:
        say(self.out, f"started monitor {event.name}: job {event.job}", "bold")

    # --- rendering --------------------------------------------------------------------------

    @__call__.register
    def _written(self, event: events.Written) -> None:
        shown = Path(event.out_dir).as_posix().rstrip("/") + "/"
        cached = ", unchanged: from the compile cache" if event.cached else ""
        say(
            self.out,
            f"wrote {shown} ({event.env}: {event.resources} resources, "
            f"{event.seconds * 1000:.0f} ms{cached}): {', '.join(event.files)}",
            "bold green",
        )


def show_lookups(console, found, target: str) -> None:
    """Say which versions are kept for want of an approved one, and what was not looked up."""
    for note in found.notes:
        say(console, f"keeps serving: {note}", "yellow")
    if found.unread and target != "local":
        say(
            console,
            f"the model registry was not read ({found.unread}): what waits for a model "
            "version is known when apply runs",
            "dim",
        )


def show_waiting(console, waiting, notes=()) -> None:
    """The versions kept for want of an approved one, and what waits, with why. What waits
    only because another resource does is named in one line after it:
    `waiting: a, b, c: waits for model.churn-model`."""
    for note in notes:
        say(console, f"  keeps serving: {note}", "yellow")
    for addresses, why in grouped(waiting):
        say(console, f"  waiting: {', '.join(addresses)}: {why}", "yellow")


def describe_selection(selection, base: str) -> str:
    built = ", ".join(selection.changed) or "nothing"
    used = ", ".join(selection.deferred) or "nothing"
    text = f"changed-only, against {selection.against}: builds {built}; uses {base}'s {used}"
    if selection.own:
        text += f"; has its own {', '.join(selection.own)}, which what it builds writes into"
    return text
