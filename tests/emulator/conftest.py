"""Shared by the emulator's tests: a real server on a free loopback port, stopped after."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator import process
from mlinfra.emulator.server import EmulatorServer


@pytest.fixture()
def server(tmp_path: Path):
    """An emulator for the folder tmp_path, holding the folder's lock as a started one does
    (so a run file written for it with `process.write_run_file` proves it running)."""
    state_dir = tmp_path / ".mlinfra" / "emulator"
    state_dir.mkdir(parents=True)
    lock = process.hold_lock(state_dir)
    server = EmulatorServer(tmp_path, state_dir, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)
    if lock is not None:
        lock.close()


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> Path:
    """A small scikit-learn model saved as SageMaker serves it: model.joblib in a folder."""
    root = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), root / "model.joblib")
    return root


@pytest.fixture()
def model_dir(tmp_path: Path, trained_model: Path) -> Path:
    """The trained model, inside the project folder `server` serves (the emulator serves
    models from its project and state folders only)."""
    folder = tmp_path / "trained-model"
    folder.mkdir(exist_ok=True)
    shutil.copy2(trained_model / "model.joblib", folder / "model.joblib")
    return folder
