"""A model for serving tests that misbehaves on demand, importable by the worker processes.

``predict`` multiplies the first column by ``factor``, unless the first value of the first
row asks it to fail: -1 raises, -2 kills its own process, -3 hangs.
"""

from __future__ import annotations

import os
import time

import numpy as np

RAISE, CRASH, HANG = -1.0, -2.0, -3.0


class CrashyModel:
    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def predict(self, rows):
        rows = np.asarray(rows, dtype=float)
        first = rows[0, 0]
        if first == RAISE:
            raise ValueError("tenure must not be negative")
        if first == CRASH:
            os._exit(3)
        if first == HANG:
            time.sleep(600)
        return rows[:, 0] * self.factor
