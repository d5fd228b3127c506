"""State: what exists in each environment, its files and backends, and its lock."""

from mlinfra.state.backend import Backend, backend_for
from mlinfra.state.lock import LockError, LockHeld, LockInfo
from mlinfra.state.model import ResourceState, State, StateError

__all__ = [
    "Backend",
    "LockError",
    "LockHeld",
    "LockInfo",
    "ResourceState",
    "State",
    "StateError",
    "backend_for",
]
