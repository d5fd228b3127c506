"""The embedded engine: applies a local environment's changes through the local providers.

It takes the steps a plan decided (create, update, replace, delete per address), runs them in
dependency order, independent resources in parallel, and reports every finished resource at
once (`on_saved`), so the caller can write the state after each one and a crash loses at most
the resources in flight. It converges after such a crash: a create first reads whether the
resource already exists (created just before the crash) and adopts it, and deleting what is
already gone is no error, so the next apply neither duplicates nor orphans anything.

Order:
1. Creates, updates and replacements, dependencies first. A replacement whose new resource
   has a new name (content-hashed models and configurations) creates the new one here and
   deletes the old one in phase 2, after everything using it has moved; one that keeps its
   name is deleted right before it is created again.
2. Deletes, dependents first (the reverse of the order the state recorded them in).

A value the IR leaves to apply time (`Call`, e.g. the latest approved model version) that
cannot be had yet makes its resource, and everything that depends on it, *waiting*: skipped
with the reason, while the rest of the apply goes on; the next apply picks them up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from mlinfra.engines.providers.local import KINDS, EmulatorStopped, LocalProvider, ProviderError
from mlinfra.engines.providers.values import resolve
from mlinfra.ir.graph import Ref, Resource

CREATE, UPDATE, REPLACE, DELETE = "create", "update", "replace", "delete"
WORKERS = 4
DEPOSED = "#deposed"


@dataclass(frozen=True)
class Step:
    """One resource's change: `resource` is what the spec wants (None for a delete), `prior`
    what the state records (None for a create): {"type", "inputs", "outputs"}."""

    address: str
    action: str
    resource: Resource | None = None
    prior: Mapping[str, Any] | None = None


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # address -> why
    waiting: dict[str, str] = field(default_factory=dict)  # address -> what it waits for
    # Why the apply stopped before the end: the emulator stopped answering. What was not
    # started is left for the next apply.
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


# on_saved(address, entry): entry is {"type", "inputs", "outputs", "dependencies"}, or None
# when the resource is gone. on_event(address, action, status) drives a progress display.
Saved = Callable[[str, dict[str, Any] | None], None]
Event = Callable[[str, str, str], None]


class _Waiting(Exception):
    pass


class EmbeddedEngine:
    def __init__(
        self,
        provider: LocalProvider,
        on_saved: Saved,
        on_event: Event | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.provider = provider
        self.on_saved = on_saved
        self.on_event = on_event or (lambda address, action, status: None)
        self.workers = workers
        self._lock = threading.RLock()  # on_saved may ask for known_values()
        self._calls: dict[tuple[str, tuple[Any, ...]], Any] = {}

    def apply(
        self,
        steps: list[Step],
        outputs: Mapping[str, Mapping[str, Any]],
        known: Mapping[tuple[str, tuple[Any, ...]], Any] | None = None,
    ) -> Outcome:
        """Run `steps`; `outputs` are the recorded outputs of resources that stay as they are,
        `known` the values of Calls the plan was made with (so apply does what it showed)."""
        self._outputs = {k: dict(v) for k, v in outputs.items()}
        self._calls = dict(known or {})
        self._new_names: dict[str, str] = {}
        outcome = Outcome()
        changes = [s for s in steps if s.action in (CREATE, UPDATE, REPLACE)]
        self._run_in_order(changes, outcome)
        if outcome.stopped:
            return outcome
        removals = [s for s in steps if s.action == DELETE or s.address in self._new_names]
        self._delete_in_order(removal_order(removals), outcome, changes)
        return outcome

    # --- phase 1: creates, updates, replacements --------------------------------------------

    def _run_in_order(self, steps: list[Step], outcome: Outcome) -> None:
        pending = {s.address: s for s in steps}
        needs = {s.address: {d for d in s.resource.dependencies() if d in pending} for s in steps}
        running: dict[Future, Step] = {}
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            while pending or running:
                if outcome.stopped:  # no emulator: start nothing more, finish what runs
                    pending.clear()
                for address in [a for a in pending if not needs[a]]:
                    step = pending.pop(address)
                    running[pool.submit(self._change, step)] = step
                if not running:  # only steps whose dependencies did not get done are left
                    for address, step in pending.items():
                        blocked = sorted(needs[address])
                        outcome.waiting[address] = f"waits for {', '.join(blocked)}"
                        self.on_event(address, step.action, "waiting")
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    step = running.pop(future)
                    try:
                        future.result()
                    except _Waiting as reason:
                        outcome.waiting[step.address] = str(reason)
                        self.on_event(step.address, step.action, "waiting")
                        continue
                    except ProviderError as exc:
                        outcome.failed[step.address] = str(exc)
                        if isinstance(exc, EmulatorStopped):
                            outcome.stopped = str(exc)
                        self.on_event(step.address, step.action, "failed")
                        continue
                    outcome.done.append(step.address)
                    self.on_event(step.address, step.action, "done")
                    for others in needs.values():
                        others.discard(step.address)

    def _change(self, step: Step) -> None:
        self.on_event(step.address, step.action, "started")
        resource = step.resource
        try:
            inputs = resolve(resource.properties, self._output, self._call)
        except EmulatorStopped:
            raise
        except ProviderError as exc:
            raise _Waiting(str(exc)) from None
        if step.action == UPDATE:
            outputs = self.provider.update(resource.type, step.prior["inputs"], inputs)
        else:
            if step.action == REPLACE:
                name_field = KINDS[step.prior["type"]].name_field
                if inputs[name_field] == step.prior["inputs"].get(name_field):
                    self.provider.delete(step.prior["type"], step.prior["inputs"])
                    self._save(step.address, None)
                else:
                    # The old one goes in phase 2, once nothing uses it. Until then the state
                    # keeps it under its own address, so a crash in between cannot orphan it:
                    # the next plan finds it in the state and not in the spec, and deletes it.
                    self._save(deposed(step.address), dict(step.prior))
                    with self._lock:
                        self._new_names[step.address] = inputs[name_field]
            outputs = self._create_or_adopt(resource.type, inputs)
        self._save(
            step.address,
            {
                "type": resource.type,
                "inputs": inputs,
                "outputs": outputs,
                "dependencies": list(resource.dependencies()),
            },
        )

    def _create_or_adopt(self, type_: str, inputs: dict[str, Any]) -> dict[str, Any]:
        # What exists of it, in the shape the inputs have: a description also holds what the
        # service adds (a feature group's Glue table), which no apply ever sent.
        adopted = self.provider.refresh(type_, inputs)
        if adopted is None:
            return self.provider.create(type_, inputs)
        # Created by an apply that stopped before recording it: adopt it, and bring what
        # can change in place up to date (an endpoint's configuration).
        return self.provider.update(type_, adopted, inputs)

    # --- phase 2: deletes --------------------------------------------------------------------

    def _delete_in_order(self, steps: list[Step], outcome: Outcome, changes: list[Step]) -> None:
        # What a change that failed still uses stays, and what that uses in turn (an endpoint
        # whose canary rolled back serves its old configuration and model): the next plan
        # deletes them once nothing uses them.
        used = {
            dependency
            for step in changes
            if step.address in outcome.failed
            for dependency in (
                *(step.resource.dependencies() if step.resource is not None else ()),
                *((step.prior or {}).get("dependencies") or ()),
            )
        }
        for step in steps:
            if step.address in outcome.failed:
                continue
            if step.address.removesuffix(DEPOSED) in used or step.address in used:
                used.update((step.prior or {}).get("dependencies") or ())
                self.on_event(step.address, DELETE, "kept")
                continue
            if self._is_live(step):
                # The resource at its address now goes by the deposed copy's name (the spec
                # went back to what was kept): it is that one, and only its entry goes.
                self._save(step.address, None)
                outcome.done.append(step.address)
                continue
            prior = step.prior
            label = DELETE if step.action == DELETE else f"{REPLACE} (old)"
            self.on_event(step.address, label, "started")
            try:
                self.provider.delete(prior["type"], prior["inputs"])
            except ProviderError as exc:
                outcome.failed[step.address] = str(exc)
                self.on_event(step.address, label, "failed")
                if isinstance(exc, EmulatorStopped):
                    outcome.stopped = str(exc)
                    return
                continue
            if step.action == DELETE:
                self._save(step.address, None)
                outcome.done.append(step.address)
            else:
                self._save(deposed(step.address), None)
            self.on_event(step.address, label, "done")

    def _is_live(self, step: Step) -> bool:
        """Whether a deposed copy to delete is the very resource its address holds now."""
        if step.action != DELETE or not step.address.endswith(DEPOSED):
            return False
        kind = KINDS.get(step.prior["type"])
        with self._lock:
            live = self._outputs.get(step.address.removesuffix(DEPOSED))
        if kind is None or live is None:
            return False
        name = step.prior["inputs"].get(kind.name_field)
        return name is not None and live.get(kind.name_field) == name

    # --- values ----------------------------------------------------------------------------

    def known_values(self) -> dict[tuple[str, tuple[Any, ...]], Any]:
        """The Calls' values this apply used: what the state records as applied."""
        with self._lock:
            return dict(self._calls)

    def _output(self, ref: Ref) -> Any:
        with self._lock:
            found = self._outputs.get(ref.address)
        if found is None or ref.attribute not in found:
            raise _Waiting(f"waits for {ref.address}.{ref.attribute}")
        return found[ref.attribute]

    def _call(self, function: str, args: tuple[Any, ...]) -> Any:
        # Once per apply: a model's version and its ARN must come from the same lookup.
        key = (function, args)
        with self._lock:
            if key in self._calls:
                return self._calls[key]
        value = self.provider.call(function, args)
        with self._lock:
            return self._calls.setdefault(key, value)

    def _save(self, address: str, entry: dict[str, Any] | None) -> None:
        with self._lock:
            if entry is None:
                self._outputs.pop(address, None)
            else:
                self._outputs[address] = entry["outputs"]
            self.on_saved(address, entry)


def deposed(address: str) -> str:
    """Where the state keeps a replaced resource until it is deleted: `model.x#deposed`."""
    return f"{address}{DEPOSED}"


def removal_order(steps: list[Step]) -> list[Step]:
    """Dependents before what they depend on (by the dependencies the state recorded)."""
    by_address = {s.address: s for s in steps}
    dependents: dict[str, set[str]] = {a: set() for a in by_address}
    for step in steps:
        for dependency in step.prior.get("dependencies", ()):
            if dependency in dependents and dependency != step.address:
                dependents[dependency].add(step.address)
    ordered: list[Step] = []
    while dependents:
        ready = [a for a, users in dependents.items() if not users] or list(dependents)[:1]
        for address in ready:
            ordered.append(by_address[address])
            del dependents[address]
            for users in dependents.values():
                users.discard(address)
    return ordered
