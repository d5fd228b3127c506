"""How severe a finding is: ordered, so `--fail-on high` fails on high and critical ones."""

from __future__ import annotations

import enum


class Severity(enum.IntEnum):
    """Ordered: `Severity.HIGH >= Severity.MEDIUM`."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"{text!r} is not a severity; use one of {names}") from None
