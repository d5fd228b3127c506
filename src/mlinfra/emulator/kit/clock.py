"""The emulator's clock for metrics, alarms and autoscaling, which a demo may speed up.

`Clock(scale)` runs `scale` times faster than the wall clock from the moment it was made: with
`scale=60` a one-minute CloudWatch period passes in one second, so an alarm with three
evaluation periods fires within seconds, and a five-minute cooldown takes five. Timestamps the
emulator gives metrics and alarms are read from this clock (so, sped up, they run ahead of the
wall clock: ask for times around the emulator's own; a restarted emulator's clock resumes
from where the last one had got to, `metrics.clock_for`). `scale=1` is the wall clock itself.

It is set when the emulator starts: `EmulatorServer(clock_scale=...)`, or the environment
variable `MLINFRA_EMULATOR_CLOCK_SCALE` of `mlinfra emulator start` (`CLOCK_SCALE_VARIABLE`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

CLOCK_SCALE_VARIABLE = "MLINFRA_EMULATOR_CLOCK_SCALE"
MAX_SCALE = 3600.0  # an hour a second: faster, a one-minute period is shorter than a tick


class ClockError(ValueError):
    """A clock scale that is not a number from 1 to MAX_SCALE; the message says so."""


class Clock:
    """Epoch seconds, `scale` times faster than `wall` since the clock was made."""

    def __init__(
        self, scale: float = 1.0, wall: Callable[[], float] = time.time, since: float = 0.0
    ) -> None:
        """`since`: a time this clock must not start before (where a sped-up clock of the
        emulator's previous run had got to), so its metrics never lie in its future."""
        if not 1.0 <= scale <= MAX_SCALE:
            raise ClockError(
                f"The clock scale must be a number from 1 to {MAX_SCALE:g}, not {scale:g}."
            )
        self.scale = float(scale)
        self._wall = wall
        self._origin = wall()
        self._ahead = max(0.0, since - self._origin)

    def now(self) -> float:
        if self.scale == 1.0 and not self._ahead:
            return self._wall()
        return self._origin + self._ahead + (self._wall() - self._origin) * self.scale

    def wall_seconds(self, seconds: float) -> float:
        """How long `seconds` of this clock last on the wall clock."""
        return seconds / self.scale


def scale_from_environment(environ: dict[str, str] | None = None) -> float:
    """The clock scale `MLINFRA_EMULATOR_CLOCK_SCALE` sets (1 when unset); ClockError if bad."""
    text = (os.environ if environ is None else environ).get(CLOCK_SCALE_VARIABLE, "").strip()
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        raise ClockError(
            f"{CLOCK_SCALE_VARIABLE}={text!r} is not a number: set it to how many times faster "
            "than real time metrics and alarms run (e.g. 60), or unset it."
        ) from None
    Clock(scale)  # the range check, with its message
    return scale
