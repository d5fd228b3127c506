"""The endpoints the emulator serves: deploy, route, invoke, capture, and tear down.

Each endpoint has production variants, each variant ``instance_count`` worker processes.
A request goes to the variant the caller targets, or else to one drawn by weight (so a
90/10 canary really splits traffic), then round-robin to one of that variant's workers.
During a blue/green update (`stage`, `shift`, `promote`, `abandon`) an endpoint has a second
fleet, the green one, and a share of its traffic (drawn per request) goes to it.
A variant whose container names an inference script (``program``) is served by that
script's hooks; its files are found, and archives unpacked, before any worker starts, so a
missing script fails the deployment with a reason instead of failing on every request.
"""

from __future__ import annotations

import itertools
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlinfra.emulator.kit.paths import PathRefused
from mlinfra.emulator.serving.capture import Capture, CaptureWriter
from mlinfra.emulator.serving.errors import ServingError, endpoint_not_found
from mlinfra.emulator.serving.model_data import Setup, locate
from mlinfra.emulator.serving.program import Program
from mlinfra.emulator.serving.worker import FAILED, IN_SERVICE, Retired, Worker

DEFAULT_TIMEOUT = 60.0  # SageMaker's own limit for a real-time invocation


@dataclass(frozen=True)
class Variant:
    """A production variant: a model and its share of the endpoint's traffic.

    ``environment`` is the model container's Environment; ``program`` the inference script
    it names (see ``program.program_of``), None to serve with the default handler.
    """

    name: str
    model_data: Path | str
    weight: float = 1.0
    instance_count: int = 1
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)
    program: Program | None = None


@dataclass(frozen=True)
class Invocation:
    """What InvokeEndpoint returns: the body, its content type, and the variant that answered."""

    body: bytes
    content_type: str
    variant: str
    model_seconds: float = 0.0  # time in the model worker (CloudWatch's ModelLatency)
    instances: int = 1  # the variant's instances when it answered


class _Replicas:
    """A deployed variant: its workers and the round-robin over them."""

    def __init__(self, variant: Variant, workdir: Path, workers: list[Worker]) -> None:
        self.variant = variant
        self.workdir = workdir  # what we unpacked for this deployment, removed with it
        self.workers = workers
        self._next = itertools.count()  # next() on a count is atomic under the GIL

    def pick(self) -> Worker:
        workers = self.workers  # one read: scaling replaces the list, never edits it
        return workers[next(self._next) % len(workers)]

    def status(self) -> dict[str, Any]:
        failed = [w for w in self.workers if w.state == FAILED]
        errors = [w.last_error for w in self.workers if w.last_error]
        return {
            "state": FAILED if failed else IN_SERVICE,
            "pid": self.workers[0].pid,
            "pids": [w.pid for w in self.workers],
            "restarts": sum(w.restarts for w in self.workers),
            "last_error": errors[-1] if errors else None,
            "weight": self.variant.weight,
            "instance_count": self.variant.instance_count,
        }


class _Endpoint:
    def __init__(
        self, name: str, replicas: list[_Replicas], writer: CaptureWriter | None, seed: str | None
    ) -> None:
        self.name = name
        self.replicas = {r.variant.name: r for r in replicas}
        self.writer = writer
        self._weights = [r.variant.weight for r in replicas]
        self._order = replicas
        self._rng = random.Random(seed)  # noqa: S311 - routing, not security
        self._rng_lock = threading.Lock()
        # The green fleet of a blue/green update, and the share of requests it takes.
        self.green: _Endpoint | None = None
        self.green_share = 0.0

    def fleet(self) -> _Endpoint:
        """The fleet that answers the next request: this one, or its green fleet's share."""
        green, share = self.green, self.green_share  # read once: a shift may come meanwhile
        if green is None or share <= 0.0:
            return self
        if share >= 1.0:
            return green
        with self._rng_lock:
            return green if self._rng.random() < share else self

    def route(self, target: str | None) -> _Replicas:
        if target is not None:
            if target not in self.replicas:
                raise ServingError(
                    "ValidationException",
                    f"Target variant {target} not found for endpoint {self.name}.",
                    400,
                )
            return self.replicas[target]
        if len(self._order) == 1:
            return self._order[0]
        with self._rng_lock:
            return self._rng.choices(self._order, weights=self._weights)[0]

    def workers(self) -> list[Worker]:
        return [w for r in self._order for w in r.workers]

    def stop(self) -> None:
        # Stop replicas in parallel: each waits for its in-flight request first.
        threads = [threading.Thread(target=w.stop) for w in self.workers()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.writer is not None:
            self.writer.close()
        for r in self._order:
            shutil.rmtree(r.workdir, ignore_errors=True)


class EndpointPool:
    """All endpoints served by one emulator. Safe to call from many threads.

    ``timeout`` bounds one prediction (a hung model is killed and restarted);
    ``seed`` makes traffic splitting and capture sampling reproducible; ``confine`` (the
    emulator's ``paths.confine`` over its folders) is applied to every model file and
    script found, so a symlink in a model folder cannot make a worker load a file from
    elsewhere.
    """

    def __init__(
        self,
        root: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        start_timeout: float = 120.0,
        seed: int | str | None = None,
        confine: Callable[[Path], Path] | None = None,
    ) -> None:
        self.root = Path(root)
        self.confine = confine
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.seed = seed
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()  # guards the name -> endpoint table, not invocations
        self._scaling = threading.Lock()  # one change of worker counts at a time
        self._closed = False

    def __enter__(self) -> EndpointPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deploy(self, name: str, variants: list[Variant], capture: Capture | None = None) -> None:
        """Serve ``variants`` as endpoint ``name``; a redeploy is blue/green, new before old."""
        if self._closed:
            raise ServingError("ValidationException", "the endpoint pool is closed", 400)
        endpoint = self._start(name, variants, capture)
        with self._lock:
            old = self._endpoints.get(name)
            self._endpoints[name] = endpoint
        if old is not None:
            old.stop()

    def undeploy(self, name: str) -> None:
        with self._lock:
            endpoint = self._endpoints.pop(name, None)
        if endpoint is None:
            raise endpoint_not_found(name)
        green, endpoint.green = endpoint.green, None
        if green is not None:
            green.stop()
        endpoint.stop()

    # --- blue/green updates: the served fleet is blue, the new one green ------------------

    def stage(self, name: str, variants: list[Variant], capture: Capture | None = None) -> None:
        """Start ``variants`` as the green fleet of served endpoint ``name``, ready but taking
        no traffic yet (a green fleet already staged is stopped). ServingError if it cannot
        start, with the blue fleet serving on untouched."""
        blue = self._get(name)
        green = self._start(name, variants, capture)
        with self._lock:
            if self._endpoints.get(name) is not blue:  # undeployed or redeployed meanwhile
                green.stop()
                raise endpoint_not_found(name)
            old, blue.green, blue.green_share = blue.green, green, 0.0
        if old is not None:
            old.stop()

    def shift(self, name: str, share: float) -> None:
        """Send ``share`` (0 to 1) of endpoint ``name``'s requests to its green fleet."""
        blue = self._get(name)
        if blue.green is None:
            raise ServingError("ValidationException", f"Endpoint {name} has no new fleet.", 400)
        blue.green_share = min(max(share, 0.0), 1.0)

    def promote(self, name: str) -> None:
        """The green fleet becomes the endpoint; the blue one finishes its requests and stops."""
        with self._lock:
            blue = self._get(name)
            green = blue.green
            if green is None:
                raise ServingError("ValidationException", f"Endpoint {name} has no new fleet.", 400)
            blue.green, blue.green_share = None, 0.0
            self._endpoints[name] = green
        blue.stop()

    def abandon(self, name: str) -> None:
        """Roll back: every request to the blue fleet again, and the green fleet stopped."""
        with self._lock:
            blue = self._endpoints.get(name)
            green = None if blue is None else blue.green
            if blue is not None:
                blue.green_share, blue.green = 0.0, None
        if green is not None:
            green.stop()

    def share_of_new_fleet(self, name: str) -> float | None:
        """The share of requests endpoint ``name``'s green fleet takes; None without one."""
        blue = self._get(name)
        return None if blue.green is None else blue.green_share

    def scale(self, name: str, variant: str, count: int) -> int:
        """Run `count` workers for one variant of a served endpoint (autoscaling): new ones
        are started and ready before they take traffic, removed ones finish their request
        first. The variant's worker count before; ServingError for an unknown endpoint or
        variant, or a count below 1."""
        if count < 1:
            raise ServingError("ValidationException", "A variant needs at least 1 instance.", 400)
        with self._scaling:
            replicas = self._get(name).route(variant)
            workers = replicas.workers
            before = len(workers)
            if count > before:
                setup = workers[0].setup
                added = [
                    Worker(name, variant, setup, self.timeout, self.start_timeout)
                    for _ in range(count - before)
                ]
                try:
                    for worker in added:
                        worker.start()
                    for worker in added:
                        worker.wait_ready()
                except BaseException:
                    for worker in added:
                        worker.stop()
                    raise
                replicas.workers = [*workers, *added]
            elif count < before:
                replicas.workers = workers[:count]
                for worker in workers[count:]:
                    worker.stop()
            return before

    def endpoints(self) -> list[str]:
        return sorted(self._endpoints)

    def status(self, name: str) -> dict[str, Any]:
        endpoint = self._get(name)
        variants = {n: r.status() for n, r in endpoint.replicas.items()}
        failed = any(v["state"] == FAILED for v in variants.values())
        return {"name": name, "state": FAILED if failed else IN_SERVICE, "variants": variants}

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str,
        accept: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
    ) -> Invocation:
        # A redeploy may retire the workers we picked mid-call; the new endpoint then answers.
        for _ in range(3):
            endpoint = self._get(name).fleet()
            replicas = endpoint.route(target_variant)
            workers = replicas.workers
            started = time.perf_counter()
            try:
                out, out_type = replicas.pick().invoke(body, content_type, accept)
            except Retired:
                continue
            except ServingError as exc:
                exc.variant = replicas.variant.name  # whose error count it is
                exc.instances = len(workers)
                raise
            model_seconds = time.perf_counter() - started
            variant = replicas.variant.name
            if endpoint.writer is not None and endpoint.writer.sampled():
                endpoint.writer.record(variant, body, content_type, out, out_type, inference_id)
            return Invocation(out, out_type, variant, model_seconds, len(workers))
        raise ServingError("ServiceUnavailable", f"Endpoint {name} is being updated.", 503)

    def close(self) -> None:
        """Stop every worker. The pool serves nothing afterwards."""
        with self._lock:
            self._closed = True
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
        for endpoint in endpoints:
            if endpoint.green is not None:
                endpoint.green.stop()
            endpoint.stop()

    def _get(self, name: str) -> _Endpoint:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise endpoint_not_found(name)
        return endpoint

    def _start(self, name: str, variants: list[Variant], capture: Capture | None) -> _Endpoint:
        _check(name, variants)
        deployment = uuid.uuid4().hex[:8]
        replicas: list[_Replicas] = []
        try:
            for variant in variants:
                workdir = self.root / "models" / name / f"{variant.name}-{deployment}"
                try:
                    setup = _setup(variant, workdir, self.confine)
                except BaseException:
                    shutil.rmtree(workdir, ignore_errors=True)
                    raise
                workers = [
                    Worker(name, variant.name, setup, self.timeout, self.start_timeout)
                    for _ in range(variant.instance_count)
                ]
                replicas.append(_Replicas(variant, workdir, workers))
            # Start every process before waiting on any: model loading overlaps.
            for r in replicas:
                for w in r.workers:
                    w.start()
            for r in replicas:
                for w in r.workers:
                    w.wait_ready()
        except BaseException:
            _Endpoint(name, replicas, None, None).stop()
            raise
        seed = None if self.seed is None else f"{self.seed}:{name}"
        writer = None
        if capture is not None:
            writer = CaptureWriter(capture, name, None if seed is None else f"{seed}:capture")
        return _Endpoint(name, replicas, writer, seed)


def _setup(variant: Variant, workdir: Path, confine: Callable[[Path], Path] | None) -> Setup:
    """Find a variant's model (and script) on disk, unpacking archives into ``workdir``."""
    program = variant.program
    # With a script, model_fn may load the model from files of its own choosing.
    files = locate(variant.model_data, workdir / "model", need_model_file=program is None)
    script = program.find(files.directory, workdir) if program is not None else None

    def allowed(path: Path | None) -> str | None:
        if path is None:
            return None
        if confine is None:
            return str(path)
        try:
            return str(confine(path))
        except PathRefused as exc:
            raise ServingError("ValidationException", exc.message, 400) from None

    return Setup(
        model_dir=str(allowed(files.directory)),
        model_file=allowed(files.model),
        features_file=allowed(files.features),
        script=allowed(script),
        environment=dict(variant.environment),
    )


def _check(name: str, variants: list[Variant]) -> None:
    if not variants:
        raise ServingError("ValidationException", f"Endpoint {name} needs a variant.", 400)
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ServingError("ValidationException", f"Endpoint {name} repeats a variant name.", 400)
    for v in variants:
        if v.weight < 0 or v.instance_count < 1:
            raise ServingError(
                "ValidationException",
                f"Variant {v.name} needs weight >= 0 and instance_count >= 1.",
                400,
            )
    if sum(v.weight for v in variants) <= 0:
        raise ServingError("ValidationException", f"Endpoint {name} has no traffic weight.", 400)
