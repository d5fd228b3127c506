"""The providers' tests run against a real emulator on a free loopback port, in this process."""

from __future__ import annotations

import threading
from pathlib import Path

import joblib
import numpy as np
import pytest
from shop import shop_spec
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator import process
from mlinfra.emulator.server import EmulatorServer


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A spec folder with two model artifacts (different fits) beside it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    for name, column in (("a", 0), ("b", 1)):
        folder = tmp_path / "models" / name
        folder.mkdir(parents=True)
        model = LogisticRegression().fit(x, (x[:, column] > 0).astype(int))
        joblib.dump(model, folder / "model.joblib")
    return tmp_path


@pytest.fixture()
def emulator(project: Path):
    server = EmulatorServer(project, project / ".mlinfra" / "emulator", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture()
def spec_file(project: Path):
    """The shop spec in `project`; the emulator an apply starts beside it is stopped after."""
    path = project / "mlinfra.yaml"
    path.write_text(shop_spec())
    yield path
    process.stop(path)
