"""Shared by the emulator's tests: a real server on a free loopback port, stopped after."""

from __future__ import annotations

import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator.access import Access
from mlinfra.emulator.server import EmulatorServer


def serving(server: EmulatorServer):
    """Serve `server` on a thread for the length of a test, then stop it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture()
def server(tmp_path: Path):
    """The emulator as it runs by default: every request must be signed with its credentials."""
    yield from serving(EmulatorServer(tmp_path, tmp_path / ".mlinfra" / "emulator", 0))


@pytest.fixture()
def insecure(tmp_path: Path):
    """An emulator started with --insecure-any-credentials: it checks no signature."""
    state = tmp_path / ".mlinfra" / "emulator"
    yield from serving(EmulatorServer(tmp_path, state, 0, insecure_any_credentials=True))


@pytest.fixture()
def access(server) -> Access:
    """How a client of the `server` fixture reaches it: its URL and its credentials."""
    return Access.for_server(server)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A small scikit-learn model saved as SageMaker serves it: model.joblib in a folder."""
    root = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), root / "model.joblib")
    return root
