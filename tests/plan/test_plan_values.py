"""The values left to apply time, as a plan and an apply see them (`mlinfra.plan.values`):
the same outcome, whether it comes from the emulator, from SageMaker, or from a program's
stack outputs."""

from __future__ import annotations

from mlinfra.engines.providers.local import ProviderError
from mlinfra.plan.values import MODEL_PACKAGE, VERSION, Lookups, from_emulator, from_program
from mlinfra.state.model import State

LOCAL = ("churn-local-churn",)
WHY = "model package group 'churn-local-churn' has no approved version in the emulator"


class Registry:
    """The emulator's registry: `approved` is the newest approved version, or None."""

    def __init__(self, approved: str | None) -> None:
        self.approved = approved

    def call(self, function: str, args: tuple) -> str:
        if self.approved is None:
            raise ProviderError(WHY)
        if function == VERSION:
            return self.approved
        return f"arn:aws:sagemaker:us-east-1:1:model-package/{args[0]}/{self.approved}"


def test_a_local_version_applied_is_kept_while_none_is_approved(graph_of, recorded) -> None:
    graph = graph_of("local")
    arn = "arn:aws:sagemaker:us-east-1:1:model-package/churn-local-churn/1"
    state = recorded(graph, {(VERSION, LOCAL): "1", (MODEL_PACKAGE, LOCAL): arn})
    found = from_emulator(graph, Registry(None), state)
    assert found.known == {(VERSION, LOCAL): "1", (MODEL_PACKAGE, LOCAL): arn}
    assert found.unavailable == {} and found.waiting(graph) == {}
    assert found.notes == (f"{WHY}: keeps serving version 1, the one applied last",)


def test_a_local_version_never_applied_waits(graph_of) -> None:
    graph = graph_of("local")
    found = from_emulator(graph, Registry(None), State.empty("churn", "local"))
    waiting = found.waiting(graph)
    assert waiting["model.churn-model"] == WHY
    assert waiting["monitor.churn-drift"] == f"waits for model.churn-model: {WHY}"


def test_an_approved_local_version_is_used(graph_of, recorded) -> None:
    graph = graph_of("local")
    found = from_emulator(graph, Registry("3"), recorded(graph))
    assert found.known[(VERSION, LOCAL)] == "3" and found.notes == ()


def test_a_programs_outputs_say_what_it_served_and_what_waited(graph_of) -> None:
    graph = graph_of("dev")
    lookup = ("churn-dev-churn", "churn-dev-churn-api")
    served = {"group": lookup[0], "endpoints": [lookup[1]], "arn": "arn:v/2", "version": "2"}
    found = from_program(graph, {"mlinfra:model-versions": [{**served, "why": None}]})
    assert found.known == {(MODEL_PACKAGE, lookup): "arn:v/2", (VERSION, lookup): "2"}
    nothing = {**served, "arn": None, "version": None, "why": "none approved"}
    found = from_program(graph, {"mlinfra:model-versions": [nothing]})
    assert found.unavailable == {
        (MODEL_PACKAGE, lookup): "none approved",
        (VERSION, lookup): "none approved",
    }
    assert found.waiting(graph)["model.churn-model"] == "none approved"


def test_a_program_that_reported_nothing_leaves_every_value_unknown(graph_of) -> None:
    assert from_program(graph_of("dev"), {}) == Lookups()
