"""Apply and destroy: the embedded engine for a local environment (a real emulator started
beside the spec), the Pulumi engine for a sagemaker one (its calls replaced)."""

from __future__ import annotations

import pytest
from operations_project import Recorder, shop_spec, validated

from mlinfra.operations import progress as events
from mlinfra.operations.apply import ApplyRequest, apply
from mlinfra.operations.errors import Declined, OperationError
from mlinfra.state import backend_for

SHOP_RESOURCES = {"feature_store.customers", "model.scorer", "endpoint.scorer-api"}


def recorded(spec_file) -> set[str]:
    state = backend_for(".mlinfra/state", spec_file.parent).read("shop", "local")
    return {address.split("/")[0] for address in state.resources}


def test_apply_creates_each_resource_and_tells_each_step(shop, recorder) -> None:
    found = apply(ApplyRequest(validated(shop), str(shop), "local"), recorder, recorder.confirm)

    assert found.ok and found.outcome is not None
    assert recorded(shop) == SHOP_RESOURCES
    assert found.state.serial == len(found.outcome.done)
    assert recorder.questions == [events.Question("apply", "these changes to local")]
    kinds = recorder.kinds()
    # What was looked up and planned, then asked, then done, in that order.
    assert kinds[:4] == ["LookedUp", "VersionsServed", "Planned", "Applying"]
    assert kinds[-1] == "Applied"
    done = {e.address for e in recorder.of(events.ResourceEvent) if e.what == "done"}
    assert {a.split("/")[0] for a in done} == SHOP_RESOURCES
    (applied,) = recorder.of(events.Applied)
    assert applied.serial == found.state.serial and applied.outcome.ok

    again = Recorder()
    found = apply(ApplyRequest(validated(shop), str(shop), "local"), again, again.confirm)
    assert found.outcome is None and again.questions == []
    assert again.of(events.UpToDate) == [events.UpToDate("local")]


def test_answering_no_changes_nothing(shop) -> None:
    no = Recorder(answer=False)
    with pytest.raises(Declined):
        apply(ApplyRequest(validated(shop), str(shop), "local"), no, no.confirm)
    assert recorded(shop) == set()
    assert no.of(events.Applying) == []


def test_destroying_a_protected_environment_keeps_what_holds_data(shop, recorder) -> None:
    shop.write_text(shop_spec(protect=True))
    validation = validated(shop)
    assert apply(ApplyRequest(validation, str(shop), "local"), recorder, recorder.confirm).ok

    with pytest.raises(OperationError, match="the plan would lose data: ") as refused:
        apply(
            ApplyRequest(validation, str(shop), "local", destroy=True), recorder, recorder.confirm
        )
    assert "feature_store.customers" in str(refused.value)
    assert "--allow-removal ADDRESS" in refused.value.suggestion
    assert recorded(shop) == SHOP_RESOURCES

    kept = [r.address for r in recorder.of(events.Planned)[-1].plan.refused]
    destroyed = apply(
        ApplyRequest(validation, str(shop), "local", destroy=True, allow_removal=tuple(kept)),
        recorder,
        recorder.confirm,
    )
    assert destroyed.ok and recorded(shop) == set()
    assert recorder.questions[-1] == events.Question("destroy", "these changes to local")


def test_a_sagemaker_apply_renders_runs_pulumi_and_records_what_it_applied(
    churn, fake_pulumi, recorder
) -> None:
    arn = "arn:aws:sagemaker:us-east-1:111111111111:endpoint/churn-dev-churn-api"
    fake_pulumi.stacks["dev"] = {
        "endpoint.churn-api": {
            "arn": arn,
            "name": "churn-dev-churn-api",
            "endpoint_config_name": "churn-dev-churn-api-config",
        }
    }

    found = apply(ApplyRequest(validated(churn), str(churn), "dev"), recorder, recorder.confirm)

    program = churn.parent / "stacks" / "dev"
    assert (program / "__main__.py").exists()
    assert [c[0] for c in fake_pulumi.calls] == ["up", "stack_resources"]
    assert found.outcome is None and found.ok
    assert found.state.get("endpoint.churn-api").outputs["arn"] == arn
    (rendered,) = recorder.of(events.Rendered)
    assert (rendered.out_dir, rendered.verb, rendered.env) == (program, "up", "dev")
    (written,) = recorder.of(events.Recorded)
    assert written.resources == len(found.state.resources) and written.serial == 1
    # No AWS credentials here: what the endpoints serve is not checked, and that is said.
    (unchecked,) = recorder.of(events.ServingUnchecked)
    assert "no AWS credentials" in unchecked.reason


def test_a_saved_plan_is_for_the_embedded_engine_only(churn, fake_pulumi) -> None:
    request = ApplyRequest(validated(churn), str(churn), "dev", plan_file="plan.json")
    with pytest.raises(OperationError, match="a saved plan is carried out by the embedded"):
        apply(request, Recorder(), Recorder().confirm)
    assert fake_pulumi.calls == []
