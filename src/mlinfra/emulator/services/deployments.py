"""Blue/green endpoint updates: UpdateEndpoint's DeploymentConfig, checked and carried out.

SageMaker's deployment guardrails, as its developer guide describes them: the new (green)
fleet is started beside the old (blue) one; traffic shifts to it all at once, in two steps
(CANARY: the canary's share, then the rest) or in equal steps (LINEAR); after each shift the
fleet bakes for `WaitIntervalInSeconds` while the `AutoRollbackConfiguration` alarms are
watched, and after the last one the blue fleet is kept for `TerminationWaitInSeconds` more
(still watched) before it stops. An alarm in ALARM at any moment of that, a green fleet that
cannot start, or a deployment longer than `MaximumExecutionTimeoutInSeconds` rolls back: all
traffic to the blue fleet, the green one stopped.

Sizes become shares of requests: a canary of `CAPACITY_PERCENT` 25 takes 25% of them, one of
`INSTANCE_COUNT` 1 on a fleet of 4 instances 1/4 (the emulator routes each request, so it
shifts by traffic, not by instance). Waits are seconds of the emulator's clock
(`kit.clock`), so a clock sped up 60 times bakes a five-minute wait in five seconds.

Starting the new fleet competes with the old one for this machine's CPU (on AWS it runs on
instances of its own), which can slow the old fleet for a moment and trip a latency alarm
that has nothing to do with the new version. So, when there are rollback alarms, traffic
shifts only once they have judged a period after the start-up (`SETTLE_FIRST`), and an alarm
in ALARM then is waited out for at most `SETTLE_MAX`; one still in ALARM after that rolls
the deployment back before any traffic shifts.

`RollingUpdatePolicy` is not emulated: it is refused with a ValidationException that says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlinfra.emulator.kit.errors import invalid

CANARY_MAX_PERCENT = 50  # "less than or equal to 50% of the variant's total instance count"
LINEAR_PERCENT = (10, 50)  # "Value must be 10-50% of the variant's total instance count"
POLL_SECONDS = 0.05  # wall seconds between looks at the alarms while baking
# Emulator seconds: a one-minute period and the scheduler's 10 s of evaluation after the new
# fleet started, then up to three periods (the SLO alarms' window) for them to clear.
SETTLE_FIRST = 70.0
SETTLE_MAX = 180.0


@dataclass(frozen=True)
class Plan:
    """What a deployment does: the green fleet's share of traffic after each step."""

    shares: tuple[float, ...]  # rising to 1.0
    wait: float  # emulator seconds of baking after each step
    termination_wait: float
    timeout: float | None
    alarms: tuple[str, ...]

    @property
    def total_wait(self) -> float:
        return self.wait * len(self.shares) + self.termination_wait


def plan_of(config: dict[str, Any], instances: int, alarm_exists: Callable[[str], bool]) -> Plan:
    """The plan of a DeploymentConfig for a new fleet of `instances` instances; a
    ValidationException naming the field for what SageMaker refuses or the emulator cannot do."""
    if "RollingUpdatePolicy" in config:
        if "BlueGreenUpdatePolicy" in config:
            raise invalid(
                "DeploymentConfig: give either BlueGreenUpdatePolicy or RollingUpdatePolicy, "
                "not both."
            )
        raise invalid(
            "DeploymentConfig.RollingUpdatePolicy is not emulated locally: use a "
            "BlueGreenUpdatePolicy (ALL_AT_ONCE, CANARY or LINEAR traffic routing)."
        )
    alarms = tuple(
        a["AlarmName"] for a in (config.get("AutoRollbackConfiguration") or {}).get("Alarms", [])
    )
    for name in alarms:
        if not alarm_exists(name):
            raise invalid(
                f"DeploymentConfig.AutoRollbackConfiguration.Alarms: there is no CloudWatch "
                f"alarm named {name!r}; create it (PutMetricAlarm) before the deployment."
            )
    policy = config.get("BlueGreenUpdatePolicy")
    if policy is None:  # SageMaker's default: blue/green, all at once, no baking
        return Plan((1.0,), 0.0, 0.0, None, alarms)
    routing = policy["TrafficRoutingConfiguration"]
    kind = routing["Type"]
    where = "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration"
    canary, linear = routing.get("CanarySize"), routing.get("LinearStepSize")
    if kind == "ALL_AT_ONCE":
        if canary or linear:
            raise invalid(f"{where}: ALL_AT_ONCE takes neither CanarySize nor LinearStepSize.")
        shares: tuple[float, ...] = (1.0,)
    elif kind == "CANARY":
        if canary is None or linear is not None:
            raise invalid(f"{where}: CANARY needs CanarySize (and no LinearStepSize).")
        share = _share(canary, instances, f"{where}.CanarySize", 0, CANARY_MAX_PERCENT)
        shares = (share, 1.0)
    else:  # LINEAR: the model allows no other Type
        if linear is None or canary is not None:
            raise invalid(f"{where}: LINEAR needs LinearStepSize (and no CanarySize).")
        step = _share(linear, instances, f"{where}.LinearStepSize", *LINEAR_PERCENT)
        count = math.ceil(round(1.0 / step, 9))
        shares = tuple(min(1.0, step * (i + 1)) for i in range(count))
    plan = Plan(
        shares,
        float(routing["WaitIntervalInSeconds"]),
        float(policy.get("TerminationWaitInSeconds", 0)),
        policy.get("MaximumExecutionTimeoutInSeconds"),
        alarms,
    )
    if plan.timeout is not None and plan.timeout <= plan.total_wait:
        raise invalid(
            "DeploymentConfig.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds "
            f"({plan.timeout}) must be larger than the deployment's waits "
            f"({plan.total_wait:g} seconds: WaitIntervalInSeconds after each of its "
            f"{len(shares)} steps and TerminationWaitInSeconds)."
        )
    return plan


def _share(size: dict, instances: int, where: str, low: float, high: float) -> float:
    """A CapacitySize as a share of the new fleet, which must lie in [low, high] percent."""
    value = size["Value"]
    if size["Type"] == "INSTANCE_COUNT":
        percent = 100.0 * value / instances
        what = f"{value} of the new fleet's {instances} instance(s)"
    else:
        percent = float(value)
        what = f"{value}%"
    if not low <= percent <= high:
        raise invalid(f"{where}: {what} is outside {low:g}-{high:g}% of the new fleet's capacity.")
    return percent / 100.0


class RolledBack(Exception):
    """Why a deployment rolled back: becomes the endpoint's FailureReason."""


class Stopped(Exception):
    """The emulator is closing: the deployment stops where it is (a restart rolls it back)."""


@dataclass
class Rollout:
    """One deployment carried out on its own thread: `run` shifts, bakes and watches.

    It acts through callbacks, so it knows nothing of the store or the pool: `shift(share)`
    routes that share of traffic to the green fleet, `report(step, share, status)` records
    progress for DescribeEndpoint, `alarm_state(name)` reads an alarm, `sleep(wall_seconds)`
    waits (False when the emulator is closing), `wall(seconds)` turns emulator seconds into
    wall seconds, `now()` is the emulator's clock, and `wanted()` is False once the endpoint
    is deleted (the deployment then just ends).
    """

    plan: Plan
    shift: Callable[[float], None]
    report: Callable[[int, float, str], None]
    alarm_state: Callable[[str], str | None]
    sleep: Callable[[float], bool]
    wall: Callable[[float], float]
    now: Callable[[], float]
    wanted: Callable[[], bool] = lambda: True
    started: float = 0.0

    def run(self) -> None:
        """Every step and its baking, then the termination wait; RolledBack or Stopped."""
        self.started = self.now()
        if self.plan.alarms:
            self.settle()
        share = 0.0
        for step, share in enumerate(self.plan.shares, start=1):
            self.report(step, share, "ActivatingTraffic")
            self.shift(share)
            self.report(step, share, "Baking")
            self.bake(self.plan.wait, share)
        self.bake(self.plan.termination_wait, share)

    def settle(self) -> None:
        """Let the alarms judge the time after the new fleet's start-up (see the module)."""
        self.wait(self.wall(SETTLE_FIRST))
        deadline = time.monotonic() + self.wall(SETTLE_MAX)
        while any(self.alarm_state(a) == "ALARM" for a in self.plan.alarms):
            if time.monotonic() > deadline:
                self.watch(0.0)  # rolls back, naming the alarm
            self.wait(POLL_SECONDS)

    def wait(self, seconds: float) -> None:
        """Wait `seconds` of the wall clock; Stopped when the emulator closes or the endpoint
        is deleted meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if not self.sleep(max(0.0, min(POLL_SECONDS, left))) or not self.wanted():
                raise Stopped()
            if left <= POLL_SECONDS:
                return

    def bake(self, seconds: float, share: float) -> None:
        """Wait `seconds` of the emulator's clock, watching the alarms and the timeout."""
        deadline = time.monotonic() + self.wall(seconds)
        while True:
            self.watch(share)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.wait(min(POLL_SECONDS, left))

    def watch(self, share: float) -> None:
        on_green = f"{share * 100:g}% of the traffic on the new fleet"
        for name in self.plan.alarms:
            if self.alarm_state(name) == "ALARM":
                raise RolledBack(f"Alarm {name} went into ALARM with {on_green}.")
        timeout = self.plan.timeout
        if timeout is not None and self.now() - self.started > timeout:
            raise RolledBack(
                f"The deployment took longer than MaximumExecutionTimeoutInSeconds ({timeout}) "
                f"with {on_green}."
            )
