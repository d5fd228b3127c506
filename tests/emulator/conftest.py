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
from mlinfra.emulator.access import Access
from mlinfra.emulator.server import EmulatorServer


def serving(tmp_path: Path, **options):
    """Serve an emulator for the folder tmp_path on a thread for the length of a test, holding
    the folder's lock as a started one does (so a run file written for it with
    `process.write_run_file` proves it running), then stop it."""
    state_dir = tmp_path / ".mlinfra" / "emulator"
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = process.hold_lock(state_dir)
    server = EmulatorServer(tmp_path, state_dir, 0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)
    if lock is not None:
        lock.close()


@pytest.fixture()
def server(tmp_path: Path):
    """The emulator as it runs by default: every request must be signed with its credentials."""
    yield from serving(tmp_path)


@pytest.fixture()
def insecure(tmp_path: Path):
    """An emulator started with --insecure-any-credentials: it checks no signature."""
    yield from serving(tmp_path, insecure_any_credentials=True)


@pytest.fixture()
def access(server) -> Access:
    """How a client of the `server` fixture reaches it: its URL and its credentials."""
    return Access.for_server(server)


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
