"""Shared by the emulator's tests: a real server on a free loopback port, stopped after."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

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
