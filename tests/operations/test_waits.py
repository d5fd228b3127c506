"""Why a model version is missing, in the user's words: the reasons plan and apply show name
the model, what its registry holds now, and the command or spec change that ends the wait."""

from __future__ import annotations

import dataclasses

from operations_project import validated

from mlinfra.emulator import process
from mlinfra.operations import progress as events
from mlinfra.operations.apply import ApplyRequest, apply
from mlinfra.operations.environment import environment
from mlinfra.operations.versions import VersionServed
from mlinfra.operations.waits import no_approved_version


def churn_local(churn):
    return environment(validated(churn), "local", str(churn))


def test_an_empty_registry_names_the_pipeline_run_that_registers_a_version(churn) -> None:
    spec = churn_local(churn)
    why = no_approved_version(spec, str(churn), spec.models["churn-model"], {})

    assert why.startswith("model churn-model has no version yet: ")
    assert f"`mlinfra pipeline run train-churn --env local --wait -f {churn}`" in why
    # local approves what it registers (`approval: auto`): nothing to approve by hand.
    assert "approval: auto" in why and "model approve" not in why
    assert f"pin `version:` under models.churn-model in {churn}" in why


def test_a_manually_approved_model_is_also_told_to_approve(churn) -> None:
    spec = churn_local(churn)
    model = dataclasses.replace(spec.models["churn-model"], approval="manual")
    why = no_approved_version(spec, "mlinfra.yaml", model, {})

    assert "`mlinfra pipeline run train-churn --env local --wait`" in why
    assert "then approve it with `mlinfra model approve churn-model --env local`" in why


def test_a_pending_version_is_named_with_the_command_that_approves_it(churn) -> None:
    spec = churn_local(churn)
    versions = {1: "Rejected", 2: "PendingManualApproval"}
    why = no_approved_version(spec, "mlinfra.yaml", spec.models["churn-model"], versions)

    assert why.startswith("model churn-model's version 2 waits for approval: ")
    assert "`mlinfra model approve churn-model --env local`" in why


def test_only_rejected_versions_say_so(churn) -> None:
    spec = churn_local(churn)
    why = no_approved_version(spec, "mlinfra.yaml", spec.models["churn-model"], {1: "Rejected"})

    assert "has no approved version (rejected: 1)" in why
    assert "`mlinfra model approve churn-model --env local --version N`" in why


def test_the_first_apply_says_why_things_wait_as_of_its_end(churn, recorder) -> None:
    try:
        found = apply(
            ApplyRequest(validated(churn), str(churn), "local"), recorder, recorder.confirm
        )
    finally:
        process.stop(churn)

    (applied,) = recorder.of(events.Applied)
    assert applied.outcome is found.outcome
    assert "model.churn-model/registry" in found.outcome.done
    waiting = found.outcome.waiting
    assert set(waiting) == {
        "model.churn-model",
        "endpoint.churn-api/config",
        "endpoint.churn-api/alarm-latency",
        "endpoint.churn-api/alarm-errors",
        "endpoint.churn-api",
        "endpoint.churn-api/scaling-target",
        "endpoint.churn-api/scaling-policy",
        "monitor.churn-drift",
        "monitor.churn-quality",
        "batch_job.churn-scores",
    }
    # The registry group exists now: nothing says it does not, and the wait says what ends it.
    assert not any("does not exist" in why for why in waiting.values())
    assert waiting["model.churn-model"].startswith("model churn-model has no version yet: run ")
    assert waiting["endpoint.churn-api"].startswith("waits for model.churn-model: model ")


def test_each_apply_says_which_version_it_serves_and_which_it_replaces() -> None:
    first = VersionServed("churn-model", "1", None, ("churn-api",))
    moved = VersionServed("churn-model", "3", "2", ("churn-api",))
    kept = VersionServed("churn-model", "2", "2", ("churn-api",))

    assert first.describe() == (
        "model churn-model: version 1 is the newest approved: endpoint churn-api is created with it"
    )
    assert moved.moves and moved.describe() == (
        "model churn-model: version 3 is approved: endpoint churn-api moves to it from version 2"
    )
    assert not kept.moves
    assert kept.describe() == "model churn-model: endpoint churn-api keeps serving version 2"
