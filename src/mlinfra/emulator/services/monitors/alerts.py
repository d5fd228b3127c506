"""Alerts of a monitor whose execution found violations: delivered where that can be done
locally, and always written to the monitor's alert log.

Targets are the spec's `alerts` entries: `webhook:<url>` is POSTed to (a local receiver gets
it as it would from the SNS subscription on AWS); `email:<address>` and `sns:<topic>` go
through SNS on AWS, which the emulator does not have, so they are logged as not delivered,
saying so. Delivery never raises: a dead webhook is a line in the log, not a failed monitor.

The log is JSON Lines, one object per alert (and per retraining started), at
`<state_dir>/monitors/<schedule>/alerts.jsonl`.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

SCHEMES = ("webhook", "email", "sns")
WEBHOOK_TIMEOUT = 5.0
LOG_FILE = "alerts.jsonl"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_targets(targets: object) -> list[str]:
    """The alert targets as given, or ValueError saying which one is not `scheme:value`."""
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ValueError('must be a JSON list of strings like "email:oncall@example.com"')
    for target in targets:
        scheme, _, value = target.partition(":")
        if scheme not in SCHEMES or not value:
            raise ValueError(f"{target!r} is not an alert target; use {', '.join(SCHEMES)}:<...>")
        if scheme == "webhook" and urlparse(value).scheme not in ("http", "https"):
            raise ValueError(f"{target!r}: a webhook is an http:// or https:// URL")
    return targets


def deliver(target: str, payload: dict) -> tuple[bool, str]:
    """Send one alert; (delivered, what happened), never an exception."""
    scheme, _, value = target.partition(":")
    if scheme == "webhook":
        return _post(value, payload)
    if scheme == "email":
        return False, (
            f"recorded only: the local emulator sends no email to {value} "
            "(on AWS the monitor's SNS topic does)"
        )
    return False, f"not delivered locally: the emulator has no SNS topic {value}"


def _post(url: str, payload: dict) -> tuple[bool, str]:
    request = urllib.request.Request(  # noqa: S310 - the spec's own webhook, http(s) checked
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "mlinfra-emulator"},
        method="POST",
    )
    # A receiver on this machine must never be sent to a proxy from the environment.
    handlers = [urllib.request.ProxyHandler({})] if urlparse(url).hostname in _LOOPBACK else []
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=WEBHOOK_TIMEOUT) as r:
            return True, f"HTTP {r.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url}: {reason}"


class AlertLog:
    """The alert log of one monitor; appends from several executions never interleave."""

    _lock = threading.Lock()

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOG_FILE

    def append(self, entry: dict) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)

    def read(self) -> list[dict]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        alerts = []
        for line in lines:
            try:
                alerts.append(json.loads(line))
            except ValueError:  # a line cut short by a crash: skip it, keep the rest
                continue
        return alerts
