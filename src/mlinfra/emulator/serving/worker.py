"""One model replica in its own process, and the parent's thread-safe handle on it.

Each replica is a "spawn" child that loads the model once, with the model's inference script
if its container names one (``handler``), and then answers requests one at a time over a
pipe: ``(body, content_type, accept)`` in, ``("ok", body, content_type)`` or
``("error", status, text)`` out. A separate process per replica means a model that crashes
or hangs takes down only its own replica, which the parent kills and restarts on the next
request, and the user's script runs only in that process.

A replica leads a process group of its own and watches the emulator's lifeline
(``supervisor.py``): when the emulator is gone, however it ended, the replica kills its group,
so neither it nor anything the model's script started outlives the emulator. Stopping a
replica kills its group for the same reason.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any

from mlinfra.emulator import supervisor
from mlinfra.emulator.serving.errors import ServingError, model_error
from mlinfra.emulator.serving.model_data import Setup

IN_SERVICE = "InService"
FAILED = "Failed"
STOPPED = "Stopped"

_SPAWN = multiprocessing.get_context("spawn")


class Retired(Exception):
    """The replica was stopped by a redeploy or undeploy; the caller retries on the new one."""


def serve(conn: Connection, setup: Setup, lifeline: Connection | None = None) -> None:
    """Worker process main: load the model, then answer requests until the pipe closes."""
    # A group of our own, before any user code runs: what the script starts is in it too.
    os.setpgid(0, 0)
    if lifeline is not None:
        supervisor.watch_lifeline(lifeline.fileno(), lambda: os.killpg(0, signal.SIGKILL))
    # Ctrl-C in the emulator's terminal reaches the whole process group; the parent stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.environ.update(setup.environment)  # as the container's own environment
        # Here, in the replica's process and once its environment is the container's (what
        # numpy and the model's libraries read as they load): the emulator's own process
        # never needs them.
        from mlinfra.emulator.serving.codec import RequestError
        from mlinfra.emulator.serving.handler import Handler, HookError

        handler = Handler(setup)
    except BaseException as exc:  # noqa: BLE001 - any load failure is reported, not raised
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            body, content_type, accept = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died: nothing left to serve
        try:
            out, out_type = handler(body, content_type, accept)
            reply: tuple[Any, ...] = ("ok", out, out_type)
        except RequestError as exc:
            reply = ("error", exc.status, str(exc))
        except HookError as exc:
            reply = ("error", 500, str(exc))
        except Exception as exc:  # noqa: BLE001 - the model's own errors go back to the client
            reply = ("error", 500, f"{type(exc).__name__}: {exc}")
        conn.send(reply)


class Worker:
    """The parent's handle on one replica process. Safe to call from many threads."""

    def __init__(
        self,
        endpoint: str,
        variant: str,
        setup: Setup,
        timeout: float,
        start_timeout: float,
    ) -> None:
        self.endpoint = endpoint
        self.variant = variant
        self._setup = setup
        self._timeout = timeout
        self._start_timeout = start_timeout
        # One request at a time per replica: the lock owns the pipe and the process.
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None
        self._retired = False
        self.state = STOPPED
        self.restarts = 0
        self.last_error: str | None = None

    @property
    def setup(self) -> Setup:
        """What the replica loads: another replica of the same variant starts from it."""
        return self._setup

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Spawn the process without waiting for the model to load (see ``wait_ready``)."""
        parent, child = _SPAWN.Pipe()
        # A read-only duplicate of the lifeline, handed to the child as a Connection is.
        lifeline = Connection(os.dup(supervisor.lifeline()), writable=False)
        process = _SPAWN.Process(
            target=serve,
            args=(child, self._setup, lifeline),
            name=f"mlinfra-serve-{self.endpoint}-{self.variant}",
            daemon=True,
        )
        try:
            process.start()
        finally:
            lifeline.close()
        # Our copy of the child's end must go, or a dead child never shows up as EOF.
        child.close()
        self._process, self._conn = process, parent

    def wait_ready(self) -> None:
        """Block until the model is loaded; raise ServingError if it cannot be."""
        assert self._conn is not None
        reason = f"did not load its model within {self._start_timeout:g} s"
        try:
            if self._conn.poll(self._start_timeout):
                message, detail = self._conn.recv()
                if message == "ready":
                    self.state = IN_SERVICE
                    return
                reason = f"could not load its model: {detail}"
        except (EOFError, OSError):
            reason = f"exited while loading its model (exit code {self._exitcode()})"
        self._kill()
        self.state, self.last_error = FAILED, reason
        raise ServingError(
            "ValidationException",
            f"Variant {self.variant} of endpoint {self.endpoint} {reason}.",
            400,
        )

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        with self._lock:
            if self._retired:
                raise Retired
            if self.state != IN_SERVICE:
                self._restart()
            assert self._conn is not None
            try:
                self._conn.send((body, content_type, accept))
                if not self._conn.poll(self._timeout):
                    raise TimeoutError
                reply = self._conn.recv()
            except TimeoutError:
                self._fail(f"invocation timed out after {self._timeout:g} s; worker killed")
                raise model_error(
                    self.endpoint,
                    0,
                    "Your invocation timed out while waiting for a response from container "
                    f"primary (timeout {self._timeout:g} s); the worker was killed and "
                    "restarts on the next request.",
                ) from None
            except (EOFError, OSError):
                code = self._exitcode()
                self._fail(f"worker exited with code {code} while handling a request")
                raise model_error(
                    self.endpoint,
                    0,
                    f"The model worker for variant {self.variant} exited unexpectedly "
                    f"(exit code {code}) while handling the request; it restarts on the "
                    "next request.",
                ) from None
        if reply[0] == "ok":
            return reply[1], reply[2]
        _, status, text = reply
        self.last_error = text
        raise model_error(self.endpoint, status, text)

    def stop(self) -> None:
        """Retire the replica, letting an in-flight request finish first."""
        acquired = self._lock.acquire(timeout=self._timeout + 5)
        try:
            self._retired = True
            # A worker holds no state worth a graceful exit (the parent writes captures), and
            # killing it skips half a second of interpreter teardown per replica.
            self._kill()
            self.state = STOPPED
        finally:
            if acquired:
                self._lock.release()

    def _restart(self) -> None:
        self._kill()
        self.restarts += 1
        self.start()
        try:
            self.wait_ready()
        except ServingError as exc:
            raise model_error(self.endpoint, 0, exc.message) from None

    def _fail(self, reason: str) -> None:
        self._kill()
        self.state, self.last_error = FAILED, reason

    def _exitcode(self) -> int | None:
        if self._process is None:
            return None
        self._process.join(2)
        return self._process.exitcode

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        if process is not None and process.is_alive():
            try:  # the replica's group: what its script started dies with it
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # not yet its own group leader
                process.kill()
            process.join(5)
        if process is not None and not process.is_alive():
            process.close()
            self._process = None
        if conn is not None:
            conn.close()
            self._conn = None
