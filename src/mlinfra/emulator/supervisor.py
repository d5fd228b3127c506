"""Processes the emulator starts die with it, however it ends: the lifeline and the supervisor.

The emulator holds the write end of one pipe, its *lifeline*, for as long as it lives and
never writes to it. Every process it starts watches the read end: reading it returns
end-of-file exactly when the emulator is gone (its last write end closed by a clean exit, a
SIGTERM or a SIGKILL alike), and the watcher then kills its process group.

- Pipeline steps and monitoring jobs run through `python -m mlinfra.emulator.supervisor FD --
  COMMAND...` (`popen`): a tiny process that starts the command in a process group of its
  own, watches the lifeline, and on end-of-file SIGKILLs that group, grandchildren included
  (a script that forks). On SIGTERM (the emulator stopping a step, a timeout) it sends the
  group SIGTERM, then SIGKILL after `GRACE` seconds. When the command exits, whatever it left
  in its group is killed too, as a container's end kills all in it; the supervisor exits with
  the command's code (128 + N for a command killed by signal N).
- Serving workers (multiprocessing "spawn" children, `serving/worker.py`) make themselves
  leaders of their own group and run `watch_lifeline` on a thread with the same effect.

Why not the alternatives: `PR_SET_PDEATHSIG` fires when the *thread* that forked the child
exits, not the process, and the emulator starts steps from worker threads; `preexec_fn`, its
usual carrier, is unsafe in a threaded process; polling the parent pid misses grandchildren
and is late. The pipe needs no platform support beyond POSIX: it works the same on macOS.

The write end is opened close-on-exec and never passed to a child, so no child can keep the
emulator "alive" by inheriting it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

MODULE = "mlinfra.emulator.supervisor"
GRACE = 5.0  # seconds between SIGTERM and SIGKILL, for the command and for its supervisor

_lock = threading.Lock()
_lifeline: tuple[int, int] | None = None  # (read end, write end) in the emulator


def lifeline() -> int:
    """The read end of this process's lifeline, created on first use and kept open."""
    global _lifeline
    with _lock:
        if _lifeline is None:
            _lifeline = os.pipe()  # both ends close-on-exec (PEP 446)
        return _lifeline[0]


def release() -> None:
    """Close the lifeline now (the emulator is ending): every watcher kills its group."""
    global _lifeline
    with _lock:
        if _lifeline is not None:
            for fd in _lifeline:
                try:
                    os.close(fd)
                except OSError:
                    pass
            _lifeline = None


def popen(command: list[str], **options: Any) -> subprocess.Popen:
    """Start `command` under a supervisor; `options` are `subprocess.Popen`'s (cwd, env,
    stdin, stdout, stderr, text...), applied to the supervisor and inherited by the command."""
    fd = lifeline()
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        [sys.executable, "-m", MODULE, str(fd), "--", *command],
        pass_fds=(fd,),
        close_fds=True,
        start_new_session=True,  # Ctrl-C at the emulator's terminal is the emulator's business
        **options,
    )


def stop(process: subprocess.Popen, grace: float = GRACE) -> None:
    """Stop a supervised command: SIGTERM to the supervisor, which passes it on to the
    command's group and SIGKILLs it after `grace`; the supervisor itself is SIGKILLed if it
    has not exited a little after that."""
    try:
        process.send_signal(signal.SIGTERM)
        process.wait(grace + 2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except (ProcessLookupError, PermissionError):
        pass


def watch_lifeline(fd: int, on_end: Any) -> threading.Thread:
    """Call `on_end()` on a daemon thread when the lifeline `fd` reaches end-of-file."""

    def watch() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        on_end()

    thread = threading.Thread(target=watch, name="mlinfra-lifeline", daemon=True)
    thread.start()
    return thread


# --- the supervisor process ------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print(f"usage: python -m {MODULE} LIFELINE_FD -- COMMAND...", file=sys.stderr)
        return 2
    fd, command = int(argv[0]), argv[2:]
    try:
        child = subprocess.Popen(command, start_new_session=True)  # noqa: S603
    except OSError as exc:
        print(f"cannot start {command[0]}: {exc}", file=sys.stderr)
        return 127
    group = child.pid

    def kill_group(sig: int) -> None:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def emulator_gone() -> None:
        kill_group(signal.SIGKILL)
        os._exit(128 + signal.SIGKILL)

    def terminate(signum: int, frame: object) -> None:
        kill_group(signal.SIGTERM)
        timer = threading.Timer(GRACE, kill_group, (signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    watch_lifeline(fd, emulator_gone)
    # Wait for the command's exit without reaping it, so its pid (the group's id) cannot be
    # reused before the rest of its group is killed.
    if hasattr(os, "waitid"):
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        kill_group(signal.SIGKILL)
        code = child.wait()
    else:  # pragma: no cover - platforms without waitid
        code = child.wait()
        kill_group(signal.SIGKILL)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
