"""Shared by the monitoring tests: the churn example's baseline data set and its baseline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlinfra.monitoring.baseline import Baseline, read_dataset, suggest_baseline

CHURN_CSV = Path(__file__).parents[2] / "examples" / "churn" / "data" / "baseline.csv"


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    """The churn baseline data set, every value as text, as the baselining job reads it."""
    return read_dataset(CHURN_CSV)


@pytest.fixture(scope="session")
def churn_baseline(churn: pd.DataFrame) -> Baseline:
    return suggest_baseline(churn)
