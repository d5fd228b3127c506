"""Data-quality monitors: mlinfra's own engine, the same on the emulator and on SageMaker.

`baseline` suggests a baseline (statistics.json, constraints.json, in Model Monitor's
format) from a data set, `capture` reads what an endpoint captured, `analysis` compares the
two and writes statistics and constraint violations plus mlinfra's drift.json. `job` runs
them as the emulator's processing jobs; `processing` runs one monitor execution as a
SageMaker Processing job (from S3, with CloudWatch `metrics`, through `storage`), from the
archive `bundle` packs. Those modules import numpy and pandas; this one stays light so that
importing the package costs nothing.

The modules the archive carries run on the scikit-learn image's Python (3.10) and import
nothing but the standard library, numpy, pandas, pyarrow and boto3 (a test holds them to it).
"""

from __future__ import annotations

# The monitor job's environment variable naming the KMS key it writes its outputs with: here,
# so that lowering and the rules read it without importing the job's pandas.
KMS_KEY_VARIABLE = "MLINFRA_OUTPUT_KMS_KEY_ID"


class MonitoringError(Exception):
    """A monitoring job cannot run on what it was given (no baseline, unreadable or no data)."""


def counted(number: int, noun: str) -> str:
    """`1 record`, `3 records`: how the jobs' summary lines count."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
