"""Data-quality monitors, locally: SageMaker Model Monitor's baselining and analysis jobs.

`baseline` suggests a baseline (statistics.json, constraints.json) from a data set, `capture`
reads what an endpoint captured, `analysis` compares the two and writes Model Monitor's
statistics and constraint violations plus mlinfra's drift.json, and `job` runs either as a
processing job would. Those modules import numpy and pandas; this one stays light so that
importing the package costs nothing.
"""

from __future__ import annotations


class MonitoringError(Exception):
    """A monitoring job cannot run on what it was given (no baseline, unreadable or no data)."""
