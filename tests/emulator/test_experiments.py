"""Experiments, trials and trial components in the emulator, and Search over them, through
boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from test_server import client


@pytest.fixture()
def sm(server):
    return client(server, "sagemaker")


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_an_experiment_holds_trials_that_hold_trial_components(sm):
    sm.create_experiment(ExperimentName="churn", Description="retraining")
    assert sm.describe_experiment(ExperimentName="churn")["DisplayName"] == "churn"
    sm.create_trial(TrialName="run-1", ExperimentName="churn")
    sm.create_trial_component(
        TrialComponentName="train-1",
        Parameters={"C": {"NumberValue": 0.5}, "solver": {"StringValue": "lbfgs"}},
        Status={"PrimaryStatus": "Completed"},
    )
    arns = sm.associate_trial_component(TrialComponentName="train-1", TrialName="run-1")
    assert arns["TrialArn"].endswith("experiment-trial/run-1")
    assert [t["TrialName"] for t in sm.list_trials(ExperimentName="churn")["TrialSummaries"]] == [
        "run-1"
    ]
    listed = sm.list_trial_components(TrialName="run-1")["TrialComponentSummaries"]
    assert [c["TrialComponentName"] for c in listed] == ["train-1"]
    assert sm.list_trial_components(ExperimentName="other")["TrialComponentSummaries"] == []
    found = sm.describe_trial_component(TrialComponentName="train-1")
    assert found["Parameters"]["C"] == {"NumberValue": 0.5}
    assert sm.list_trials(TrialComponentName="train-1")["TrialSummaries"][0]["TrialName"] == (
        "run-1"
    )


def test_a_trial_needs_its_experiment_and_names_are_taken_once(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.create_trial(TrialName="run-1", ExperimentName="nope")
    assert code(excinfo) == "ResourceNotFound"
    sm.create_experiment(ExperimentName="churn")
    with pytest.raises(ClientError) as excinfo:
        sm.create_experiment(ExperimentName="churn")
    assert code(excinfo) == "ValidationException"


def test_a_trial_component_is_updated_and_its_removed_parameters_go(sm):
    sm.create_trial_component(TrialComponentName="t", Parameters={"a": {"NumberValue": 1}})
    sm.update_trial_component(
        TrialComponentName="t",
        Parameters={"b": {"StringValue": "x"}},
        ParametersToRemove=["a"],
        Status={"PrimaryStatus": "Failed", "Message": "out of memory"},
    )
    found = sm.describe_trial_component(TrialComponentName="t")
    assert found["Parameters"] == {"b": {"StringValue": "x"}}
    assert found["Status"] == {"PrimaryStatus": "Failed", "Message": "out of memory"}


def test_what_is_still_in_use_is_not_deleted(sm):
    sm.create_experiment(ExperimentName="e")
    sm.create_trial(TrialName="r", ExperimentName="e")
    sm.create_trial_component(TrialComponentName="t")
    sm.associate_trial_component(TrialComponentName="t", TrialName="r")
    for delete in (
        lambda: sm.delete_experiment(ExperimentName="e"),
        lambda: sm.delete_trial(TrialName="r"),
        lambda: sm.delete_trial_component(TrialComponentName="t"),
    ):
        with pytest.raises(ClientError) as excinfo:
            delete()
        assert code(excinfo) == "ValidationException"
    sm.disassociate_trial_component(TrialComponentName="t", TrialName="r")
    sm.delete_trial_component(TrialComponentName="t")
    sm.delete_trial(TrialName="r")
    sm.delete_experiment(ExperimentName="e")
    assert sm.list_experiments()["ExperimentSummaries"] == []


@pytest.fixture()
def runs(server, sm):
    """Four runs of a training job, each trying another C, with the accuracy it reached.

    Metrics reach a trial component through SageMaker's metrics service (BatchPutMetrics),
    which the emulator does not serve: its jobs put them in directly, as here."""
    control = server.control
    sm.create_experiment(ExperimentName="churn")
    sm.create_trial(TrialName="nightly", ExperimentName="churn")
    for index, (c, accuracy) in enumerate([(0.1, 0.7), (0.5, 0.9), (1.0, 0.8), (2.0, 0.6)]):
        name = f"train-{index}"
        sm.create_trial_component(
            TrialComponentName=name,
            Parameters={"C": {"NumberValue": c}, "solver": {"StringValue": f"s{index % 2}"}},
        )
        control.experiments.put_metrics(name, {"accuracy": accuracy}, 1_700_000_000.0)
        if index < 2:
            sm.associate_trial_component(TrialComponentName=name, TrialName="nightly")
    return sm


def names(found: dict) -> list[str]:
    return [r["TrialComponent"]["TrialComponentName"] for r in found["Results"]]


def test_search_finds_runs_by_parameter_and_metric(runs):
    found = runs.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"Filters": [
            {"Name": "Parameters.C", "Operator": "GreaterThanOrEqualTo", "Value": "0.5"},
            {"Name": "Metrics.accuracy.Max", "Operator": "GreaterThan", "Value": "0.75"},
        ]},
        SortBy="Metrics.accuracy.Max",
    )  # fmt: skip
    assert names(found) == ["train-1", "train-2"]
    assert found["TotalHits"] == {"Value": 2, "Relation": "EqualTo"}
    (metric,) = found["Results"][0]["TrialComponent"]["Metrics"]
    assert metric["MetricName"] == "accuracy" and metric["Max"] == 0.9 and metric["Count"] == 1


def test_search_filters_by_text_and_joins_expressions_with_or(runs):
    found = runs.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"Filters": [
            {"Name": "Parameters.solver", "Operator": "Equals", "Value": "s0"},
            {"Name": "TrialComponentName", "Operator": "NotEquals", "Value": "train-0"},
        ]},
    )  # fmt: skip
    assert names(found) == ["train-2"]
    either = runs.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"Operator": "Or", "SubExpressions": [
            {"Filters": [{"Name": "Parameters.C", "Operator": "LessThan", "Value": "0.2"}]},
            {"Filters": [{"Name": "DisplayName", "Operator": "Contains", "Value": "-3"}]},
        ]},
        SortBy="TrialComponentName", SortOrder="Ascending",
    )  # fmt: skip
    assert names(either) == ["train-0", "train-3"]


def test_search_nested_filters_reach_a_runs_trial(runs):
    found = runs.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"NestedFilters": [{
            "NestedPropertyName": "Parents",
            "Filters": [{"Name": "Parents.TrialName", "Operator": "Equals", "Value": "nightly"}],
        }]},
        SortBy="TrialComponentName", SortOrder="Ascending",
    )  # fmt: skip
    assert names(found) == ["train-0", "train-1"]
    assert found["Results"][0]["TrialComponent"]["Parents"] == [
        {"TrialName": "nightly", "ExperimentName": "churn"}
    ]


def test_search_pages_its_results(runs):
    first = runs.search(Resource="ExperimentTrialComponent", MaxResults=3)
    assert len(first["Results"]) == 3 and first["TotalHits"]["Value"] == 4
    rest = runs.search(
        Resource="ExperimentTrialComponent", MaxResults=3, NextToken=first["NextToken"]
    )
    assert len(rest["Results"]) == 1 and "NextToken" not in rest


def test_search_finds_experiments_and_trials(runs):
    (experiment,) = runs.search(Resource="Experiment")["Results"]
    assert experiment["Experiment"]["ExperimentName"] == "churn"
    (trial,) = runs.search(
        Resource="ExperimentTrial",
        SearchExpression={
            "Filters": [{"Name": "ExperimentName", "Operator": "Equals", "Value": "churn"}]
        },
    )["Results"]
    summaries = trial["Trial"]["TrialComponentSummaries"]
    assert [s["TrialComponentName"] for s in summaries] == ["train-0", "train-1"]


def test_search_compares_numbers_as_numbers_and_refuses_a_number_that_is_not(runs):
    with pytest.raises(ClientError) as excinfo:
        runs.search(
            Resource="ExperimentTrialComponent",
            SearchExpression={
                "Filters": [{"Name": "Parameters.C", "Operator": "GreaterThan", "Value": "big"}]
            },
        )
    assert code(excinfo) == "ValidationException"
    assert "not a number" in excinfo.value.response["Error"]["Message"]


def test_search_over_what_the_emulator_does_not_keep_says_so(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.search(Resource="TrainingJob")
    assert code(excinfo) == "ValidationException"
    assert "not supported" in excinfo.value.response["Error"]["Message"]


def test_search_finds_model_packages_by_their_evidence(sm):
    sm.create_model_package_group(ModelPackageGroupName="g")
    for sha in ("a" * 64, "b" * 64):
        sm.create_model_package(
            ModelPackageGroupName="g",
            InferenceSpecification={
                "Containers": [{"Image": "sklearn", "ModelDataUrl": f"file:{sha[0]}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            CustomerMetadataProperties={"artifact:sha256": f"sha256:{sha}"},
        )
    (found,) = sm.search(
        Resource="ModelPackage",
        SearchExpression={"Filters": [{
            "Name": "CustomerMetadataProperties.artifact:sha256", "Operator": "Equals",
            "Value": "sha256:" + "b" * 64,
        }]},
    )["Results"]  # fmt: skip
    assert found["ModelPackage"]["ModelPackageVersion"] == 2


def test_search_sees_a_run_changed_since_the_last_search_and_its_tags(runs):
    query = {"Filters": [{"Name": "Parameters.C", "Operator": "Equals", "Value": "9"}]}
    assert runs.search(Resource="ExperimentTrialComponent", SearchExpression=query)["Results"] == []
    runs.update_trial_component(TrialComponentName="train-3", Parameters={"C": {"NumberValue": 9}})
    found = runs.search(Resource="ExperimentTrialComponent", SearchExpression=query)
    assert [r["TrialComponent"]["TrialComponentName"] for r in found["Results"]] == ["train-3"]

    arn = runs.describe_trial_component(TrialComponentName="train-2")["TrialComponentArn"]
    runs.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "growth"}])
    tagged = runs.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={
            "Filters": [{"Name": "Tags.team", "Operator": "Equals", "Value": "growth"}]
        },
    )
    assert [r["TrialComponent"]["TrialComponentName"] for r in tagged["Results"]] == ["train-2"]
