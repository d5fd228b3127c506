"""Reading definitions: property paths, values, and SageMaker's condition types."""

from __future__ import annotations

import json

import pytest

from mlinfra.emulator.services.pipelines.expressions import (
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
    assert holds({"Type": "Not", "Condition": low}, scope())
    assert holds({"Type": "Or", "Conditions": [low, {"Type": "Not", "Condition": low}]}, scope())
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


def condition_step(*conditions: dict) -> str:
    step = {"Name": "gate", "Type": "Condition", "Arguments": {"Conditions": list(conditions)}}
    return json.dumps({"Version": "2020-12-01", "Steps": [step]})


def test_a_not_that_holds_its_condition_in_expression_is_refused_as_sagemaker_does():
    low = {"Type": "LessThan", "LeftValue": 1, "RightValue": 2}
    with pytest.raises(DefinitionError, match="unknown property 'Expression'"):
        parse_definition(condition_step({"Type": "Not", "Expression": low}))
    nested = {"Type": "Or", "Conditions": [low, {"Type": "Not", "Expression": low}]}
    with pytest.raises(DefinitionError, match="unknown property 'Expression'"):
        parse_definition(condition_step(nested))
    parse_definition(condition_step({"Type": "Not", "Condition": low}))


def test_a_condition_of_an_unknown_type_or_without_its_values_is_refused():
    with pytest.raises(DefinitionError, match="Unknown condition 'And'"):
        parse_definition(condition_step({"Type": "And", "Conditions": []}))
    with pytest.raises(DefinitionError, match="needs RightValue"):
        parse_definition(condition_step({"Type": "Equals", "LeftValue": 1}))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(1, 1, True), (1, 2, False), (2, 2, False), (2, 1, False)],
)
def test_an_and_inside_an_or_holds_by_de_morgan(a, b, expected):
    """`x or (a == 1 and b == 1)` with x false, written as SageMaker can: Or, Not(Or(Not, Not))."""

    def equals(name: str) -> dict:
        return {"Type": "Equals", "LeftValue": {"Get": f"Parameters.{name}"}, "RightValue": 1}

    both = {
        "Type": "Not",
        "Condition": {
            "Type": "Or",
            "Conditions": [{"Type": "Not", "Condition": equals(n)} for n in "ab"],
        },
    }
    never = {"Type": "Equals", "LeftValue": 1, "RightValue": 2}
    condition = {"Type": "Or", "Conditions": [never, both]}
    assert holds(condition, scope(a=a, b=b)) is expected
