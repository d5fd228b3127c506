"""Shared by the emulator's tests: a real server on a free loopback port, stopped after."""

from __future__ import annotations

import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator.server import EmulatorServer


@pytest.fixture()
def server(tmp_path: Path):
    server = EmulatorServer(tmp_path, tmp_path / ".mlinfra" / "emulator", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small scikit-learn model saved as SageMaker serves it: model.joblib in a folder."""
    root = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), root / "model.joblib")
    return root
