"""The emulator as a process: start it detached, find it, stop it, one per spec folder.

State lives in `.mlinfra/emulator/` beside the spec: `emulator.json` (pid, port, URL, how
requests are authenticated; written atomically once the port is bound), `emulator.log`,
`emulator.lock` (held by the running server, so two servers can never share a folder even when
started at the same instant), `credentials.json` (its access key and secret, mode 0600) and the
SQLite state. Each folder gets its own port, so emulators for several projects run side by side.

`status` and `stop` act on a process only once it is proven to be this folder's emulator, never
on a pid alone (pids are recycled, and a command line containing "mlinfra" proves nothing):

- the folder's `emulator.lock` must be held: the server takes it before anything else and
  keeps it for its whole life, so a free lock means no emulator runs, whatever the run file
  says (a stale file is then removed);
- on Linux, the process must also have the identity the server recorded in `emulator.json`
  about itself: the boot id and its start time (field 22 of `/proc/<pid>/stat`). A recycled
  pid has another start time. Signals then go through a pidfd opened before the identity is
  checked, so the pid cannot change hands between the check and the signal.
- without `/proc` (macOS), the held lock is the proof: while it is held its holder is alive,
  and the holder wrote the run file after taking it, so the pid is not recycled. (A stale run
  file read in the milliseconds between a new server taking the lock and writing its own is
  the one case this cannot tell apart.)

The start time was chosen over reading the lock's owner from `/proc/locks` because it also
holds for a run file copied or left behind, and needs no parsing of kernel tables whose pids
depend on the reader's pid namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from mlinfra.emulator import supervisor
from mlinfra.emulator.credentials import CredentialsError
from mlinfra.emulator.kit.clock import ClockError

FORMAT_VERSION = 2  # 2: the server's identity (`process`) beside its pid
STATE_DIR = Path(".mlinfra") / "emulator"
RUN_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "emulator.lock"
# How the emulator authenticates requests, as `status` reports it.
AUTH_SIGV4 = "sigv4"
AUTH_INSECURE = "insecure-any-credentials"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

log = logging.getLogger("mlinfra.emulator")


class EmulatorError(Exception):
    """Starting or stopping failed in a way the user must hear about."""


class AlreadyRunning(EmulatorError):
    def __init__(self, status: Status) -> None:
        super().__init__(f"an emulator is already running for this folder at {status.url}")
        self.status = status


@dataclass(frozen=True)
class Status:
    """A running emulator, as `mlinfra emulator status --json` prints it."""

    url: str
    pid: int
    port: int
    state_dir: str
    log_file: str
    started_at: str
    auth: str = AUTH_SIGV4  # or AUTH_INSECURE

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def folder_of(spec_file: str | Path) -> Path:
    """The project folder of a spec: only the folder matters, the spec need not exist."""
    path = Path(spec_file).expanduser().absolute()
    return path if path.is_dir() else path.parent


def state_dir_of(spec_file: str | Path) -> Path:
    return folder_of(spec_file) / STATE_DIR


def status(spec_file: str | Path) -> Status | None:
    """The emulator running for a spec's folder, or None; a stale run file is removed."""
    state_dir = state_dir_of(spec_file)
    run_file = state_dir / RUN_FILE
    try:
        data = json.loads(run_file.read_text())
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"run file format {data.get('format')!r}")
        found = Status(**{k: data[k] for k in Status.__dataclass_fields__ if k in data})
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, OSError):
        # Unreadable or from another version: only a live lock holder may still own it.
        if not _locked(state_dir):
            with contextlib.suppress(FileNotFoundError):
                run_file.unlink()
        return None
    if not _proven(state_dir, found.pid, data.get("process")):
        if not _locked(state_dir):  # no server holds the folder: the file is stale
            with contextlib.suppress(FileNotFoundError):
                run_file.unlink()
        return None
    return found


def start(
    spec_file: str | Path,
    port: int = 0,
    timeout: float = START_TIMEOUT,
    insecure_any_credentials: bool = False,
) -> Status:
    """Start a detached emulator for a spec's folder and wait until its port answers.

    `insecure_any_credentials` makes it accept any request signature, or none.
    """
    running = status(spec_file)
    if running is not None:
        raise AlreadyRunning(running)
    root = folder_of(spec_file)
    state_dir = state_dir_of(spec_file)
    make_private(state_dir)
    log_path = state_dir / LOG_FILE
    with open(log_path, "ab") as log_file:
        command = [sys.executable, "-m", "mlinfra.emulator", "--root", str(root)]
        command += ["--port", str(port)]
        if insecure_any_credentials:
            command.append("--insecure-any-credentials")
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            cwd=root,
            start_new_session=True,  # detached: survives the CLI and its terminal's signals
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            if code == ALREADY_RUNNING_EXIT:
                running = status(spec_file)
                if running is not None:
                    raise AlreadyRunning(running)
            raise EmulatorError(
                f"the emulator exited with code {code} while starting; see {log_path}:\n"
                + _tail(log_path)
            )
        found = status(spec_file)
        if found is not None and found.pid == child.pid and _answers(found.port):
            return found
        time.sleep(0.05)
    child.terminate()  # our own child, not yet reaped: its pid is still its own
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    raise EmulatorError(f"the emulator did not answer within {timeout:.0f}s; see {log_path}")


def stop(spec_file: str | Path, timeout: float = STOP_TIMEOUT) -> Status | None:
    """Stop the emulator of a spec's folder (SIGTERM, then SIGKILL); None if none was running."""
    found = status(spec_file)
    if found is None:
        return None
    run = _read_run_file(state_dir_of(spec_file))
    _terminate(state_dir_of(spec_file), found.pid, run.get("process"), timeout)
    with contextlib.suppress(FileNotFoundError):
        (state_dir_of(spec_file) / RUN_FILE).unlink()
    return found


# --- the server process ---------------------------------------------------------------------

ALREADY_RUNNING_EXIT = 75


def serve(
    root: Path,
    port: int = 0,
    announce: Callable[[Status], None] | None = None,
    insecure_any_credentials: bool = False,
) -> int:
    """Run the emulator in this process until SIGTERM or SIGINT; returns the exit code.

    `announce` hears the running emulator's Status once its port is bound (the foreground CLI
    prints the URL with it).
    """
    # Deferred: the server loads botocore's service models and every service, which only the
    # emulator's own process needs (not `mlinfra emulator status` or `stop`).
    from mlinfra.emulator.server import EmulatorServer

    state_dir = root / STATE_DIR
    make_private(state_dir)
    _log_to(state_dir / LOG_FILE)
    lock = hold_lock(state_dir)
    if lock is None:
        print(f"mlinfra emulator: already running for {root}", file=sys.stderr)
        return ALREADY_RUNNING_EXIT
    try:
        server = EmulatorServer(
            root, state_dir, port, insecure_any_credentials=insecure_any_credentials
        )
    except (CredentialsError, ClockError) as exc:
        log.error("cannot start: %s", exc)
        print(f"mlinfra emulator: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        log.error("cannot listen on 127.0.0.1:%s: %s", port, exc)
        print(f"mlinfra emulator: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1
    run_file = state_dir / RUN_FILE
    info = Status(
        url=server.url,
        pid=os.getpid(),
        port=server.port,
        state_dir=str(state_dir),
        log_file=str(state_dir / LOG_FILE),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        auth=AUTH_INSECURE if insecure_any_credentials else AUTH_SIGV4,
    )
    write_run_file(state_dir, info)

    def shut_down(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, shut_down)
        signal.signal(signal.SIGINT, shut_down)
    log.info("emulator for %s listening on %s (pid %d)", root, server.url, os.getpid())
    if insecure_any_credentials:
        log.warning("--insecure-any-credentials: any local process may drive this emulator")
    server.control.endpoints.restored.clear()  # before the first request can reach InvokeEndpoint
    threading.Thread(target=_redeploy, args=(server,), daemon=True).start()
    if announce is not None:
        announce(info)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError, ValueError, OSError):
            if json.loads(run_file.read_text()).get("pid") == os.getpid():
                run_file.unlink()
        supervisor.release()  # anything still running under a supervisor dies now
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        log.info("emulator for %s stopped", root)
    return 0


def hold_lock(state_dir: Path) -> IO[str] | None:
    """Take the folder's emulator lock for as long as the returned file stays open (its
    closing, or the process's end, releases it); None if another process holds it."""
    lock = open(state_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def write_run_file(state_dir: Path, info: Status) -> None:
    """Announce the emulator serving in this process (which holds the folder's lock): its
    Status and its identity, which `status` and `stop` check before acting on its pid."""
    _write_atomically(
        state_dir / RUN_FILE,
        {"format": FORMAT_VERSION, **info.to_json(), "process": identity(os.getpid())},
    )


def _redeploy(server: object) -> None:
    try:
        server.control.endpoints.redeploy()  # type: ignore[attr-defined]
    except Exception:
        log.exception("redeploying endpoints after a restart failed")


# --- helpers --------------------------------------------------------------------------------


def make_private(state_dir: Path) -> None:
    """Create the emulator's state folder readable by its user only, and make it so if it
    exists: it holds the features, captured requests, models and logs the emulator keeps, which
    other users of this machine have no business reading (its credentials are 0600 too)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if state_dir.stat().st_mode & 0o077:
        state_dir.chmod(0o700)


def _write_atomically(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _log_to(path: Path) -> None:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("mlinfra")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is gone for our purposes
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def identity(pid: int) -> str | None:
    """Who process `pid` is, beyond its pid: `<boot id>/<start time in clock ticks>`, read
    from /proc; None where there is no /proc (macOS) or no such process."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 22; the command name (field 2) is in parentheses and may hold spaces.
        start = stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
    return f"{boot}/{start}"


def _has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def _proven(state_dir: Path, pid: int, recorded: object) -> bool:
    """Whether `pid` is this folder's running emulator (see the module's docstring)."""
    if not _locked(state_dir) or not _alive(pid):
        return False
    if not _has_proc():
        return True  # the held lock is the proof where the process cannot be identified
    return recorded is not None and identity(pid) == recorded


def _read_run_file(state_dir: Path) -> dict:
    try:
        data = json.loads((state_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class _Target:
    """The proven emulator process, to signal: through a pidfd where Linux has them (the
    identity is checked after it is opened, so the pid cannot be reused in between), else by
    pid after checking the proof again."""

    def __init__(self, state_dir: Path, pid: int, recorded: object) -> None:
        self.state_dir, self.pid, self.recorded = state_dir, pid, recorded
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open") and _has_proc():
            try:
                self.pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                self.pidfd = None
            except OSError:  # a kernel without pidfds
                self.pidfd = None

    def signal(self, sig: int) -> bool:
        """Send `sig`; False if the process is gone or no longer proven to be the emulator."""
        if self.pidfd is not None:
            if identity(self.pid) != self.recorded:
                return False
            try:
                signal.pidfd_send_signal(self.pidfd, sig)
            except ProcessLookupError:
                return False
            return True
        if not _proven(self.state_dir, self.pid, self.recorded):
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def alive(self) -> bool:
        if not _alive(self.pid):
            return False
        return not _has_proc() or identity(self.pid) == self.recorded

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _terminate(state_dir: Path, pid: int, recorded: object, timeout: float) -> None:
    """SIGTERM, then SIGKILL, to the proven emulator; never to a process it cannot prove."""
    target = _Target(state_dir, pid, recorded)
    try:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not target.signal(sig):
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not target.alive():
                    return
                time.sleep(0.05)
    finally:
        target.close()
    raise EmulatorError(f"process {pid} did not exit after SIGKILL")


def _locked(state_dir: Path) -> bool:
    try:
        with open(state_dir / LOCK_FILE, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
