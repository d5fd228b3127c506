"""Reading definitions: property paths, values, and SageMaker's condition types."""

from __future__ import annotations

import json

import pytest

from mlinfra.emulator.pipelines.expressions import (
    DefinitionError,
    Scope,
    holds,
    parse_definition,
    path_parts,
)


def scope(**parameters) -> Scope:
    report = {"metrics": {"accuracy": {"value": 0.8}}, "runs": [{"loss": 0.25}]}
    return Scope(
        parameters=parameters,
        execution={"PipelineExecutionId": "abc123"},
        steps={"prep": {"ProcessingOutputConfig": {"Outputs": {"prep": {"S3Uri": "/o/prep"}}}}},
        read_property_file=lambda step, name: report,
    )


def metric(path: str) -> dict:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.eval.PropertyFiles.m"}, "Path": path}}


def test_property_paths_read_names_keys_and_indexes():
    assert path_parts("Outputs['prep'].S3Output.S3Uri") == ["Outputs", "prep", "S3Output", "S3Uri"]
    assert path_parts("runs[0].loss") == ["runs", 0, "loss"]


def test_values_resolve_parameters_steps_joins_and_property_files():
    found = scope(threshold=0.7).resolve(
        {
            "Uri": {
                "Std:Join": {
                    "On": "/",
                    "Values": [
                        {"Get": "Steps.prep.ProcessingOutputConfig.Outputs['prep'].S3Uri"},
                        {"Get": "Execution.PipelineExecutionId"},
                    ],
                }
            },
            "Threshold": {"Get": "Parameters.threshold"},
            "Accuracy": metric("metrics.accuracy.value"),
            "Loss": metric("runs[0].loss"),
        }
    )
    assert found == {"Uri": "/o/prep/abc123", "Threshold": 0.7, "Accuracy": 0.8, "Loss": 0.25}


@pytest.mark.parametrize(
    ("kind", "right", "expected"),
    [
        ("GreaterThanOrEqualTo", 0.8, True),
        ("GreaterThanOrEqualTo", 0.81, False),
        ("GreaterThan", 0.8, False),
        ("LessThan", 0.9, True),
        ("LessThanOrEqualTo", 0.8, True),
        ("Equals", "0.8", True),  # a number sent as text is still that number
    ],
)
def test_comparisons_follow_sagemaker_condition_types(kind, right, expected):
    condition = {"Type": kind, "LeftValue": metric("metrics.accuracy.value"), "RightValue": right}
    assert holds(condition, scope()) is expected


def test_not_or_and_in_combine_conditions():
    low = {"Type": "LessThan", "LeftValue": metric("metrics.accuracy.value"), "RightValue": 0.5}
    assert holds({"Type": "Not", "Expression": low}, scope())
    assert holds({"Type": "Or", "Conditions": [low, {"Type": "Not", "Expression": low}]}, scope())
    assert holds({"Type": "In", "QueryValue": {"Get": "Parameters.p"}, "Values": ["a", "b"]},
                 scope(p="b"))  # fmt: skip


def test_comparing_text_with_a_number_is_an_error_not_a_guess():
    condition = {"Type": "GreaterThan", "LeftValue": "high", "RightValue": 1}
    with pytest.raises(DefinitionError, match="cannot compare"):
        holds(condition, scope())


def test_a_definition_is_ordered_by_what_each_step_reads():
    definition = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "b", "Type": "Processing", "Arguments": {"X": {"Get": "Steps.a.Y"}}},
            {"Name": "a", "Type": "Processing", "Arguments": {}},
            {
                "Name": "gate",
                "Type": "Condition",
                "DependsOn": ["b"],
                "Arguments": {"Conditions": [], "IfSteps": [{"Name": "c", "Type": "Processing"}]},
            },
        ],
    }
    _, steps = parse_definition(json.dumps(definition))
    assert [s.name for s in steps] == ["a", "b", "gate", "c"]
    assert steps[-1].branch == ("gate", "If")


def test_a_cycle_or_a_missing_step_is_refused():
    missing = {"Steps": [{"Name": "a", "Type": "Processing", "DependsOn": ["nope"]}]}
    with pytest.raises(DefinitionError, match="nope"):
        parse_definition(json.dumps(missing))
    cycle = {
        "Steps": [
            {"Name": "a", "Type": "Processing", "DependsOn": ["b"]},
            {"Name": "b", "Type": "Processing", "DependsOn": ["a"]},
        ]
    }
    with pytest.raises(DefinitionError, match="cycle"):
        parse_definition(json.dumps(cycle))
