"""The operations' tests: a request in, a result and the events out, no CLI.

`shop` is a small local project (a feature store, a model from an artifact, an endpoint) whose
applies start a real detached emulator beside the spec, stopped afterwards; `churn` is a copy
of the churn example, whose sagemaker environments are applied with the Pulumi engine's calls
replaced (`fake_pulumi`, tests/conftest.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from operations_project import CHURN, Recorder, shop_spec
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator import process


@pytest.fixture()
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture()
def shop(tmp_path: Path):
    """The shop's spec file, with its model artifact beside it; its emulator stopped after."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    folder = tmp_path / "models" / "a"
    folder.mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), folder / "model.joblib")
    spec_file = tmp_path / "mlinfra.yaml"
    spec_file.write_text(shop_spec())
    yield spec_file
    process.stop(spec_file)


@pytest.fixture()
def churn(tmp_path: Path) -> Path:
    """A copy of the churn example's spec and the files it names."""
    shutil.copy(CHURN / "mlinfra.yaml", tmp_path / "mlinfra.yaml")
    for folder in ("data", "pipelines"):
        shutil.copytree(CHURN / folder, tmp_path / folder)
    return tmp_path / "mlinfra.yaml"
