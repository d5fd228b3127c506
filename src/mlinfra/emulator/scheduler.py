"""The emulator's scheduler: starts monitors and pipelines on their schedules while it runs.

What it starts:
- an execution of every monitoring schedule whose status is Scheduled, at each time its
  ScheduleExpression names;
- its periodic tasks, at every wake-up and at least every `every` seconds: CloudWatch's alarm
  evaluation and Application Auto Scaling's target tracking (given by the control plane);
- an execution of every pipeline tagged `mlinfra:schedule` (the spec's schedule: `daily`,
  `cron(0 3 * * ? *)`, `rate(6 hours)`...), described as "Started by schedule <expression>".

Times count from when the emulator started or the schedule was created, updated or restarted
(whichever is later), never from before: runs missed while the emulator was stopped are NOT
replayed, and a scheduler that wakes late (a suspended laptop) fires a missed time once, not
once per missed time (for the latest of them, so its analysis covers everything captured
until then). Each due time fires exactly once.

One daemon thread sleeps until the next due time, at most `MAX_SLEEP` seconds so a change it
was not told about is still noticed; the control plane calls `notify()` when schedules change
so a new one is seen at once. `tick(now)` fires whatever is due and is what tests drive, with
an injected clock. A schedule that does not parse is logged once and skipped, never a crash.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlinfra.emulator.kit.arns import DEFAULT_REGION, region_of
from mlinfra.emulator.services.monitors.service import Monitors
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources
from mlinfra.spec.values import parse_schedule, schedule_of_tag

SCHEDULE_TAG = "mlinfra:schedule"
MAX_SLEEP = 30.0

log = logging.getLogger("mlinfra.emulator.scheduler")


@dataclass(frozen=True)
class Scheduled:
    """One thing that runs on a schedule, as it is now; a change makes it a new one."""

    kind: str  # "monitor" or "pipeline"
    name: str
    expression: str
    since: float  # when its schedule was set (epoch seconds): nothing due before counts
    region: str


@dataclass(frozen=True)
class Fired:
    kind: str
    name: str
    due: datetime


class Scheduler:
    """Fires due monitoring executions and scheduled pipeline executions of one emulator."""

    def __init__(
        self,
        store: Store,
        monitors: Monitors,
        call: Callable[[str, dict, str], dict],
        now: Callable[[], datetime] | None = None,
        periodic: tuple[Callable[[], object], ...] = (),
        every: float = MAX_SLEEP,
    ) -> None:
        """Schedules are read from `store`; a monitor's execution is started by `monitors`,
        a pipeline's through `call`, the control plane's dispatch, as StartPipelineExecution.
        `periodic` tasks (CloudWatch's alarms, autoscaling) run at least every `every` seconds
        of the wall clock."""
        self.store = store
        self.periodic = periodic
        self.every = min(MAX_SLEEP, max(0.05, every))
        self.monitors = monitors
        self.call = call
        self.now = now or (lambda: datetime.now(UTC))
        self.started = self.now()
        self._due: dict[Scheduled, datetime | None] = {}
        self._last_tick: datetime | None = None
        self._skipped: set[tuple[str, str, str]] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mlinfra-scheduler", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Schedules changed: look again now rather than at the next wake-up."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick(self.now())
            except Exception:  # the store closing under us, a bug: log, keep scheduling
                log.exception("scheduler tick failed")
            for task in self.periodic:
                if self._stopping.is_set():
                    break
                try:
                    task()
                except Exception:  # one task's failure must not stop the others, or schedules
                    log.exception("periodic task %s failed", getattr(task, "__qualname__", task))
            self._wake.wait(self._sleep(self.now()))
            self._wake.clear()

    def _sleep(self, now: datetime) -> float:
        upcoming = [due for due in self._due.values() if due is not None]
        longest = self.every if self.periodic else MAX_SLEEP
        if not upcoming:
            return longest
        return max(0.0, min(longest, (min(upcoming) - now).total_seconds()))

    # --- firing ----------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Fired]:
        """Start everything due at or before `now` that has not been started; what fired."""
        now = _aware(now)
        # What became scheduled since the last tick counts from then, not from the start.
        floor = self._last_tick or _aware(self.started)
        current = self._scheduled()
        self._due = {item: self._due[item] for item in current if item in self._due}
        fired = []
        for item in current:
            schedule = self._parse(item)
            if schedule is None:
                continue
            if item not in self._due:
                since = max(floor, datetime.fromtimestamp(item.since, UTC))
                self._due[item] = schedule.next_after(since)
            due = self._due[item]
            if due is None or due > now:
                continue
            due = _latest_due(schedule, due, now)  # missed times are not replayed
            if self._fire(item, due):
                fired.append(Fired(item.kind, item.name, due))
            self._due[item] = schedule.next_after(due)
        self._last_tick = now
        return fired

    def _scheduled(self) -> list[Scheduled]:
        store = self.store
        found = []
        for record in store.all(resources.MONITORING_SCHEDULE.arn_kind):
            if record.get("MonitoringScheduleStatus") != "Scheduled":
                continue
            config = record.get("MonitoringScheduleConfig") or {}
            expression = (config.get("ScheduleConfig") or {}).get("ScheduleExpression", "")
            found.append(
                Scheduled(
                    "monitor",
                    record["MonitoringScheduleName"],
                    expression,
                    float(record.get("LastModifiedTime", record["CreationTime"])),
                    record.get("_Region", DEFAULT_REGION),
                )
            )
        for record in store.all(resources.PIPELINE.arn_kind):
            tags = {t["Key"]: t["Value"] for t in record.get("Tags", [])}
            if SCHEDULE_TAG not in tags:
                continue
            found.append(
                Scheduled(
                    "pipeline",
                    record["PipelineName"],
                    _decoded(tags[SCHEDULE_TAG]),
                    float(record.get("LastModifiedTime", record["CreationTime"])),
                    region_of(record.get("PipelineArn", "")),
                )
            )
        return found

    def _parse(self, item: Scheduled) -> Any:
        try:
            return parse_schedule(item.expression)
        except ValueError as exc:
            key = (item.kind, item.name, item.expression)
            if key not in self._skipped:  # once, not every tick
                self._skipped.add(key)
                log.warning("%s %s is not scheduled: %s", item.kind, item.name, exc)
            return None

    def _fire(self, item: Scheduled, due: datetime) -> bool:
        try:
            if item.kind == "monitor":
                self.monitors.start_execution(item.name, due)
            else:
                # The token makes a repeated start for the same due time the same execution.
                token = hashlib.sha256(f"{item.name}@{due.isoformat()}".encode()).hexdigest()
                self.call(
                    "StartPipelineExecution",
                    {
                        "PipelineName": item.name,
                        "PipelineExecutionDescription": f"Started by schedule {item.expression}",
                        "ClientRequestToken": token[:32],
                    },
                    item.region,
                )
        except Exception as exc:  # a deleted pipeline, a bad definition: that run only
            log.warning("scheduled %s %s at %s not started: %s", item.kind, item.name, due, exc)
            return False
        log.info("started %s %s scheduled at %s", item.kind, item.name, due.isoformat())
        return True


def _latest_due(schedule: Any, due: datetime, now: datetime) -> datetime:
    """The last fire time at or before `now`, from a due time that was missed or is now."""
    for _ in range(_MAX_CATCH_UP):
        following = schedule.next_after(due)
        if following is None or following > now:
            return due
        due = following
    # Asleep for longer than this many intervals: fire for now, which ends the window.
    return now


_MAX_CATCH_UP = 100_000


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decoded(value: str) -> str:
    """The schedule a pipeline's tag holds (`values.schedule_tag`); a value that does not
    decode is kept as it is, to be logged once as a schedule that does not parse."""
    try:
        return schedule_of_tag(value)
    except ValueError:
        return value
