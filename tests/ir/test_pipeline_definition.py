"""The SageMaker pipeline definition of the churn pipeline, and the check that guards it."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest

from mlinfra.emulator.services.pipelines.expressions import Scope, holds, parse_definition
from mlinfra.frozen import freeze
from mlinfra.ir.graph import Concat, GraphError, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.ir.sagemaker.pipeline_definition.conditions import conditions
from mlinfra.ir.sagemaker.pipeline_definition.definition import pipeline_definition
from mlinfra.ir.sagemaker.pipeline_definition.document import VERSION, all_steps
from mlinfra.ir.sagemaker.pipelines import code_uploads
from mlinfra.sagemaker import images
from mlinfra.spec.expressions import parse_condition
from mlinfra.spec.validate import validate_file
from typed_specs import plain, rebuilt

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
ROLE = Ref("pipeline.train-churn/role", "arn")
PREPARE_OUTPUT = "Steps.prepare.ProcessingOutputConfig.Outputs['prepare'].S3Output.S3Uri"
MODEL_ARTIFACTS = {"Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"}


@functools.cache
def spec(env: str):
    return validate_file(str(EXAMPLE / "mlinfra.yaml")).environments[env]


def pipeline(env: str, steps: dict | None = None):
    component = spec(env).component("pipeline.train-churn")
    if steps is not None:
        component = rebuilt(component, steps=steps)
    return component


def definition(env: str, steps: dict | None = None) -> dict:
    ctx = LoweringContext(spec(env), EXAMPLE)
    component = pipeline(env, steps)
    _, code_uris = code_uploads(ctx, component)
    return pipeline_definition(ctx, component, ROLE, code_uris)


def churn_steps(env: str = "dev") -> dict:
    """The churn steps as plain, editable data."""
    return plain(pipeline(env))["steps"]


def steps_by_name(found: dict) -> dict[str, dict]:
    return {step["Name"]: step for step in all_steps(found["Steps"])}


# --- shape ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_churn_pipeline_has_five_steps_of_the_right_types(env):
    found = definition(env)
    assert found["Version"] == VERSION == "2020-12-01"
    assert {name: step["Type"] for name, step in steps_by_name(found).items()} == {
        "prepare": "Processing",
        "train": "Training",
        "evaluate": "Processing",
        "gate": "Condition",
        "register": "RegisterModel",
    }


def test_steps_after_the_condition_run_only_when_it_holds():
    found = definition("dev")
    assert [s["Name"] for s in found["Steps"]] == ["prepare", "train", "evaluate", "gate"]
    gate = steps_by_name(found)["gate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["register"]
    assert gate["ElseSteps"] == []


def test_parameters_carry_their_types_and_defaults():
    assert definition("dev")["Parameters"] == [
        {"Name": "min_accuracy", "Type": "Float", "DefaultValue": 0.75}
    ]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_churn_definition_passes_the_check(env):
    assert check_definition(definition(env)) == []


def test_the_check_accepts_a_frozen_definition_too():
    assert check_definition(freeze(definition("prod"))) == []


def test_the_definition_is_deterministic():
    assert definition("prod") == definition("prod")


# --- the condition ----------------------------------------------------------------------------


def test_the_gate_compares_the_evaluation_accuracy_with_the_parameter():
    gate = steps_by_name(definition("prod"))["gate"]["Arguments"]
    assert gate["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.evaluate.PropertyFiles.evaluate-metrics"},
                    "Path": "metrics.accuracy.value",
                }
            },
            "RightValue": {"Get": "Parameters.min_accuracy"},
        }
    ]


def test_the_evaluate_step_declares_the_property_file_the_gate_reads():
    evaluate = steps_by_name(definition("dev"))["evaluate"]
    assert evaluate["PropertyFiles"] == [
        {
            "PropertyFileName": "evaluate-metrics",
            "OutputName": "evaluate",
            "FilePath": "evaluation/evaluation.json",
        }
    ]
    assert "PropertyFiles" not in steps_by_name(definition("dev"))["prepare"]


METRIC = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.evaluate.PropertyFiles.evaluate-metrics"},
        "Path": "metrics.auc.value",
    }
}


def translate(text: str) -> list[dict]:
    # The churn pipeline's steps: `evaluate` is a processing step, `train` a training step.
    return conditions(pipeline("dev").steps, parse_condition(text))


def test_not_equal_is_not_equals():
    assert translate("evaluate.metrics.auc != 1") == [
        {
            "Type": "Not",
            "Condition": {"Type": "Equals", "LeftValue": METRIC, "RightValue": 1},
        }
    ]


def negations(value):
    """Every Not condition inside a condition list, nested ones too."""
    if isinstance(value, dict):
        if value.get("Type") == "Not":
            yield value
        for item in value.values():
            yield from negations(item)
    elif isinstance(value, list):
        for item in value:
            yield from negations(item)


@pytest.mark.parametrize(
    "when",
    [
        "evaluate.metrics.accuracy != parameters.min_accuracy",
        "not evaluate.metrics.accuracy >= parameters.min_accuracy",
        "evaluate.metrics.accuracy < 0.5 or (parameters.min_accuracy == 1 and "
        "evaluate.metrics.accuracy > 0.9)",
    ],
)
def test_a_negation_holds_its_condition_where_sagemaker_reads_it(when):
    """SageMaker parses a Not's condition from `Condition`; `Expression` fails CreatePipeline
    with "Cannot parse object, unknown property 'Expression'" (aws/sagemaker-python-sdk#2746)."""
    steps = churn_steps()
    steps["gate"]["when"] = when
    found = definition("dev", steps)
    negated = list(negations(steps_by_name(found)["gate"]["Arguments"]["Conditions"]))
    assert negated and all(set(n) == {"Type", "Condition"} for n in negated)
    assert check_definition(found) == []


def test_the_check_refuses_a_negation_that_sagemaker_cannot_parse():
    def expression_key(found: dict) -> None:
        [condition] = steps_by_name(found)["gate"]["Arguments"]["Conditions"]
        condition["Expression"] = condition.pop("Condition")

    steps = churn_steps()
    steps["gate"]["when"] = "not evaluate.metrics.accuracy >= parameters.min_accuracy"
    found = definition("dev", steps)
    expression_key(found)
    assert any("a Not condition has exactly Condition, Type" in p for p in check_definition(found))


def test_a_top_level_and_is_the_condition_list():
    found = translate("evaluate.metrics.auc > 0.5 and parameters.x <= 3")
    assert [c["Type"] for c in found] == ["GreaterThan", "LessThanOrEqualTo"]
    assert found[1]["LeftValue"] == {"Get": "Parameters.x"}


def test_or_is_an_or_condition_and_a_nested_and_is_negated_twice():
    [found] = translate("evaluate.metrics.auc < 0.5 or (parameters.a == 1 and parameters.b == 2)")
    assert found["Type"] == "Or"
    assert found["Conditions"][0]["Type"] == "LessThan"
    nested = found["Conditions"][1]
    assert nested["Type"] == "Not"
    assert nested["Condition"]["Type"] == "Or"
    assert [c["Type"] for c in nested["Condition"]["Conditions"]] == ["Not", "Not"]


def test_not_wraps_and_double_negation_cancels():
    assert translate("not evaluate.metrics.auc >= 0.5")[0]["Type"] == "Not"
    assert translate("not not evaluate.metrics.auc >= 0.5")[0]["Type"] == "GreaterThanOrEqualTo"


def test_a_bare_boolean_holds_when_it_is_true():
    assert translate("parameters.deploy") == [
        {"Type": "Equals", "LeftValue": {"Get": "Parameters.deploy"}, "RightValue": True}
    ]


def test_a_training_metric_is_read_from_the_job_and_defined_on_it():
    steps = churn_steps()
    steps["gate"] = {"type": "condition", "after": ["train"], "when": "train.metrics.auc > 0.7"}
    steps["register"]["after"] = ["gate", "evaluate"]
    found = steps_by_name(definition("dev", steps))
    assert found["gate"]["Arguments"]["Conditions"][0]["LeftValue"] == {
        "Get": "Steps.train.FinalMetricDataList['auc'].Value"
    }
    [metric] = found["train"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert metric["Name"] == "auc" and metric["Regex"].startswith("auc=")
    assert check_definition(definition("dev", steps)) == []


# --- gating: steps after several conditions --------------------------------------------------


def sibling_conditions() -> dict:
    """The churn steps with a second condition, on the training metric, beside `gate`: neither
    runs after the other, and `register` runs after both."""
    steps = churn_steps()
    steps["auc-ok"] = {"type": "condition", "after": ["train"], "when": "train.metrics.auc > 0.5"}
    steps["register"]["after"] = ["gate", "auc-ok"]
    return steps


def executed(found: dict, accuracy: float, auc: float, min_accuracy: float = 0.75) -> set[str]:
    """The steps an execution runs, as SageMaker runs a definition: a step in a condition
    step's IfSteps only when its conditions hold, and a step only once everything it depends
    on ran. Conditions are evaluated by the emulator's reading of SageMaker's condition types."""
    _, steps = parse_definition(json.dumps(found, default=repr))
    report = {"metrics": {"accuracy": {"value": accuracy}}}
    scope = Scope({"min_accuracy": min_accuracy}, {}, {}, lambda step, name: report)
    ran: set[str] = set()
    outcomes: dict[str, bool] = {}
    for step in steps:
        if step.branch and outcomes.get(step.branch[0]) is not (step.branch[1] == "If"):
            continue
        if not all(d in ran for d in step.depends_on):
            continue
        if step.type == "Condition":
            outcomes[step.name] = all(holds(c, scope) for c in step.arguments["Conditions"])
        scope.steps[step.name] = {"FinalMetricDataList": {"auc": {"Value": auc}}}
        ran.add(step.name)
    return ran


@pytest.mark.parametrize(
    ("accuracy", "auc", "registers"),
    [(0.9, 0.9, True), (0.9, 0.1, False), (0.1, 0.9, False), (0.1, 0.1, False)],
)
def test_a_step_after_two_conditions_runs_only_when_both_hold(accuracy, auc, registers):
    found = definition("dev", sibling_conditions())
    assert check_definition(found) == []
    assert ("register" in executed(found, accuracy, auc)) is registers


def test_the_two_conditions_are_combined_in_one_condition_step_holding_the_step():
    found = definition("dev", sibling_conditions())
    by_name = steps_by_name(found)
    assert [s["Name"] for s in found["Steps"]] == [
        "prepare", "train", "evaluate", "gate", "auc-ok", "gate-and-auc-ok"
    ]  # fmt: skip
    combined = by_name["gate-and-auc-ok"]["Arguments"]
    assert combined["Conditions"] == (
        by_name["gate"]["Arguments"]["Conditions"] + by_name["auc-ok"]["Arguments"]["Conditions"]
    )
    assert [s["Name"] for s in combined["IfSteps"]] == ["register"]
    assert by_name["gate"]["Arguments"]["IfSteps"] == []
    assert "DependsOn" not in by_name["register"]


def test_a_combined_condition_sits_under_the_condition_both_follow():
    steps = sibling_conditions()
    steps["enabled"] = {
        "type": "condition",
        "after": ["prepare"],
        "when": "parameters.min_accuracy < 1",
    }
    steps["train"]["after"] = ["prepare", "enabled"]
    found = definition("dev", steps)
    assert [s["Name"] for s in found["Steps"]] == ["prepare", "enabled"]
    enabled = steps_by_name(found)["enabled"]["Arguments"]
    assert [s["Name"] for s in enabled["IfSteps"]] == [
        "train", "evaluate", "gate", "auc-ok", "gate-and-auc-ok"
    ]  # fmt: skip
    assert check_definition(found) == []
    assert "register" in executed(found, accuracy=0.9, auc=0.9)
    # `enabled` fails while the other two would hold: nothing after it runs.
    assert executed(found, accuracy=1.0, auc=0.9, min_accuracy=1.0) == {"prepare", "enabled"}


def test_a_combined_condition_whose_name_is_taken_gets_another():
    steps = sibling_conditions()
    steps["gate-and-auc-ok"] = steps.pop("register")
    found = definition("dev", steps)
    names = [s["Name"] for s in all_steps(found["Steps"])]
    assert len(names) == len(set(names))
    combined = [s for s in all_steps(found["Steps"]) if s["Name"].startswith("all-of-")]
    assert [s["Name"] for s in combined[0]["Arguments"]["IfSteps"]] == ["gate-and-auc-ok"]
    assert check_definition(found) == []


def test_the_check_refuses_a_step_that_only_depends_on_a_condition():
    found = definition("dev")
    gate = steps_by_name(found)["gate"]
    register = gate["Arguments"]["IfSteps"].pop()
    register["DependsOn"] = ["gate"]
    found["Steps"].append(register)
    assert any("DependsOn condition step 'gate'" in p for p in check_definition(found))


# --- register ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "status"), [("prod", "PendingManualApproval"), ("dev", "Approved")]
)
def test_registered_versions_follow_the_models_approval(env, status):
    register = steps_by_name(definition(env))["register"]["Arguments"]
    assert register["ModelApprovalStatus"] == status
    assert register["ModelPackageGroupName"] == f"churn-{env}-churn"


def test_the_registered_version_serves_the_trained_model_with_its_script():
    register = steps_by_name(definition("dev"))["register"]["Arguments"]
    [container] = register["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == MODEL_ARTIFACTS
    assert container["Image"] == images.image_uri("sklearn", "1.2-1", "us-east-1")
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"
    assert isinstance(container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"], Concat)
    assert register["InferenceSpecification"]["SupportedContentTypes"] == [
        "text/csv",
        "application/json",
    ]


def test_the_registered_version_carries_its_report_hyperparameters_and_execution():
    register = steps_by_name(definition("dev"))["register"]["Arguments"]
    evaluate = "Steps.evaluate.ProcessingOutputConfig.Outputs['evaluate'].S3Output.S3Uri"
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {
        "ContentType": "application/json",
        "S3Uri": {
            "Std:Join": {"On": "/", "Values": [{"Get": evaluate}, "evaluation/evaluation.json"]}
        },
    }
    assert register["MetadataProperties"] == {
        "GeneratedBy": {"Get": "Execution.PipelineExecutionArn"}
    }
    assert register["CustomerMetadataProperties"] == {
        "hyperparameter:max_depth": "8",
        "hyperparameter:n_estimators": "200",
    }


def test_without_a_condition_on_its_metrics_a_version_names_no_report():
    steps = churn_steps()
    steps["gate"]["when"] = "parameters.min_accuracy >= 0.5"
    register = steps_by_name(definition("dev", steps))["register"]["Arguments"]
    assert "ModelMetrics" not in register


def test_a_hyperparameter_sagemaker_metadata_cannot_hold_is_left_out():
    steps = churn_steps()
    steps["train"]["hyperparameters"] = {"layers": "[64, 32]", "rate": 0.1, "deep": True}
    register = steps_by_name(definition("dev", steps))["register"]["Arguments"]
    assert register["CustomerMetadataProperties"] == {
        "hyperparameter:deep": "true",
        "hyperparameter:rate": "0.1",
    }


def test_under_network_isolation_serving_loads_code_from_the_model():
    register = steps_by_name(definition("prod"))["register"]["Arguments"]
    [container] = register["InferenceSpecification"]["Containers"]
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"


# --- data flow --------------------------------------------------------------------------------


def inputs(step: dict) -> dict[str, object]:
    return {i["InputName"]: i["S3Input"]["S3Uri"] for i in step["Arguments"]["ProcessingInputs"]}


def test_prepare_reads_the_feature_store_and_its_code():
    prepare = steps_by_name(definition("dev"))["prepare"]
    found = inputs(prepare)
    assert found["customers"] == Concat(
        ("s3://", Ref("bucket.artifacts", "bucket"), "/feature-store/customers")
    )
    assert list(found) == ["customers", "code"]
    given = prepare["Arguments"]["ProcessingInputs"]
    paths = {i["InputName"]: i["S3Input"]["LocalPath"] for i in given}
    assert paths == {
        "customers": "/opt/ml/processing/input/customers",
        "code": "/opt/ml/processing/input/code",
    }
    assert prepare["Arguments"]["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/prepare.py",
    ]
    assert prepare["Arguments"]["Environment"] == {
        "MLINFRA_PROCESSING_INPUT": "/opt/ml/processing/input",
        "MLINFRA_PROCESSING_OUTPUT": "/opt/ml/processing/output",
    }


@pytest.mark.parametrize(
    "source", ["s3://data-bucket/exports/code/", "prepare.code", "s3://data-bucket/code"]
)
def test_a_data_input_named_code_gets_a_folder_of_its_own(source):
    """`code` is the script's own input: a data input whose name would be `code` takes the
    next free name, so the two never share a name or a folder."""
    steps = churn_steps()
    steps["report"] = {
        "type": "processing",
        "script": "pipelines/evaluate.py",
        "after": ["prepare"],
        "inputs": [source, "s3://data-bucket/code-2/"],
        "instance_type": "ml.m5.large",
        "instance_count": 1,
    }
    found = definition("dev", steps)
    given = steps_by_name(found)["report"]["Arguments"]["ProcessingInputs"]
    paths = {i["InputName"]: i["S3Input"]["LocalPath"] for i in given}
    assert paths == {
        "code-2": "/opt/ml/processing/input/code-2",
        "code-2-2": "/opt/ml/processing/input/code-2-2",
        "code": "/opt/ml/processing/input/code",
    }
    assert inputs(steps_by_name(found)["report"])["code-2-2"] == "s3://data-bucket/code-2/"
    assert check_definition(found) == []


def test_a_training_channel_named_code_does_not_take_the_code_channel():
    steps = churn_steps("prod")  # isolated: the code arrives as the `code` channel
    steps["train"]["inputs"] = ["prepare.train", "s3://data-bucket/code/"]
    train = steps_by_name(definition("prod", steps))["train"]["Arguments"]
    assert [c["ChannelName"] for c in train["InputDataConfig"]] == ["train", "code-2", "code"]


def test_each_processing_step_writes_one_output_per_execution():
    [output] = steps_by_name(definition("dev"))["prepare"]["Arguments"]["ProcessingOutputConfig"][
        "Outputs"
    ]
    assert output["OutputName"] == "prepare"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    join = output["S3Output"]["S3Uri"]["Std:Join"]
    assert join["Values"][0] == Concat(
        ("s3://", Ref("bucket.artifacts", "bucket"), "/pipelines/train-churn/runs")
    )
    assert join["Values"][1:] == [{"Get": "Execution.PipelineExecutionId"}, "prepare"]


def test_training_reads_train_and_validation_from_prepare():
    train = steps_by_name(definition("dev"))["train"]["Arguments"]
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]
    }
    assert channels == {
        "train": {"Std:Join": {"On": "/", "Values": [{"Get": PREPARE_OUTPUT}, "train"]}},
        "validation": {"Std:Join": {"On": "/", "Values": [{"Get": PREPARE_OUTPUT}, "validation"]}},
    }


def test_evaluation_reads_the_model_and_the_test_split():
    found = inputs(steps_by_name(definition("dev"))["evaluate"])
    assert found["model"] == MODEL_ARTIFACTS
    assert found["test"] == {"Std:Join": {"On": "/", "Values": [{"Get": PREPARE_OUTPUT}, "test"]}}


def test_after_edges_that_data_implies_are_not_repeated():
    assert all("DependsOn" not in step for step in steps_by_name(definition("prod")).values())


def test_an_after_edge_without_data_becomes_depends_on():
    steps = churn_steps()
    steps["report"] = {
        "type": "processing",
        "script": "pipelines/evaluate.py",
        "after": ["prepare"],
        "inputs": ["feature_store.customers"],
        "instance_type": "ml.m5.large",
        "instance_count": 1,
    }
    found = definition("dev", steps)
    assert steps_by_name(found)["report"]["DependsOn"] == ["prepare"]
    assert check_definition(found) == []


def test_explicit_inputs_replace_the_implicit_layout():
    steps = churn_steps()
    steps["train"]["inputs"] = ["prepare.train"]
    train = steps_by_name(definition("dev", steps))["train"]["Arguments"]
    assert [c["ChannelName"] for c in train["InputDataConfig"]] == ["train"]


# --- training ---------------------------------------------------------------------------------


def test_training_runs_the_script_in_script_mode():
    train = steps_by_name(definition("dev"))["train"]["Arguments"]
    hyperparameters = train["HyperParameters"]
    assert hyperparameters["n_estimators"] == "200"
    assert hyperparameters["max_depth"] == "8"
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    submit = hyperparameters["sagemaker_submit_directory"]
    # JSON text, as the SDK writes hyperparameters: the URI in quotes.
    assert submit.parts[:2] == ('"', "s3://") and submit.parts[-1] == '"'
    assert submit.parts[-2].endswith("/sourcedir.tar.gz")
    assert train["AlgorithmSpecification"] == {
        "TrainingImage": images.image_uri("sklearn", "1.2-1", "us-east-1", "training"),
        "TrainingInputMode": "File",
    }
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert train["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"


def test_prod_jobs_are_isolated_encrypted_and_in_the_vpc():
    found = steps_by_name(definition("prod"))
    train, prepare = found["train"]["Arguments"], found["prepare"]["Arguments"]
    key = Ref("kms.key", "arn")
    assert train["EnableNetworkIsolation"] is True
    assert train["OutputDataConfig"]["KmsKeyId"] == key
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert train["VpcConfig"]["Subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-1b2c3d4e5f6071829"]
    # Isolated script mode: the code comes in as a channel.
    assert train["HyperParameters"]["sagemaker_submit_directory"] == (
        '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    )
    assert "code" in [c["ChannelName"] for c in train["InputDataConfig"]]
    assert prepare["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert prepare["NetworkConfig"]["VpcConfig"]["SecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert prepare["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert prepare["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert prepare["AppSpecification"]["ImageUri"].startswith("141502667606.dkr.ecr.eu-west-1.")


def test_dev_jobs_have_no_key_and_no_vpc():
    found = steps_by_name(definition("dev"))
    assert "KmsKeyId" not in found["train"]["Arguments"]["OutputDataConfig"]
    assert "VpcConfig" not in found["train"]["Arguments"]
    assert found["prepare"]["Arguments"]["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": False,
        "EnableNetworkIsolation": False,
    }


# --- the check --------------------------------------------------------------------------------


def faulty(change) -> list[str]:
    found = definition("dev")
    change(steps_by_name(found))
    return check_definition(found)


def test_the_check_catches_a_misspelt_arguments_field():
    def misspell(steps):
        arguments = steps["prepare"]["Arguments"]
        arguments["ProcessingResource"] = arguments.pop("ProcessingResources")

    problems = faulty(misspell)
    assert any("ProcessingResource" in p and "Unknown parameter" in p for p in problems)
    assert any("Missing required parameter" in p for p in problems)


def test_the_check_catches_a_misspelt_nested_field():
    def misspell(steps):
        steps["train"]["Arguments"]["ResourceConfig"]["VolumeSizeGB"] = 30

    assert any("VolumeSizeGB" in p for p in faulty(misspell))


def test_the_check_catches_a_value_outside_an_enum():
    def bogus(steps):
        steps["train"]["Arguments"]["ResourceConfig"]["InstanceType"] = "ml.bogus.large"

    assert any("ml.bogus.large" in p for p in faulty(bogus))


def test_the_check_catches_a_depends_on_a_missing_step():
    def depend(steps):
        steps["train"]["DependsOn"] = ["preprocess"]

    assert faulty(depend) == ["step 'train': DependsOn 'preprocess', which does not exist"]


def test_the_check_catches_a_get_of_a_missing_step():
    def get(steps):
        [container] = steps["register"]["Arguments"]["InferenceSpecification"]["Containers"]
        container["ModelDataUrl"] = {"Get": "Steps.fit.ModelArtifacts.S3ModelArtifacts"}

    problems = faulty(get)
    assert len(problems) == 1 and "Steps.fit.ModelArtifacts" in problems[0]


def test_the_check_catches_a_missing_property_file():
    def drop(steps):
        del steps["evaluate"]["PropertyFiles"]

    assert any("property file" in p for p in faulty(drop))


def test_the_check_catches_an_unknown_output_and_parameter():
    def rename(steps):
        steps["prepare"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]["OutputName"] = "x"
        steps["gate"]["Arguments"]["Conditions"][0]["RightValue"] = {"Get": "Parameters.nope"}

    problems = faulty(rename)
    assert any("reads an output" in p for p in problems)
    assert any("Parameters.nope" in p for p in problems)


def test_the_check_catches_duplicate_names_a_bad_version_and_a_cycle():
    found = definition("dev")
    found["Version"] = "2021-01-01"
    steps = steps_by_name(found)
    steps["prepare"]["DependsOn"] = ["evaluate"]
    steps["gate"]["Arguments"]["IfSteps"].append(copy.deepcopy(steps["train"]))
    problems = check_definition(found)
    assert any(p.startswith("Version") for p in problems)
    assert any("two steps have this name" in p for p in problems)
    assert any("cycle" in p for p in problems)


def test_the_check_refuses_a_job_name_in_the_arguments():
    def name(steps):
        steps["prepare"]["Arguments"]["ProcessingJobName"] = "mine"

    assert any("must not set ProcessingJobName" in p for p in faulty(name))


def test_instances_with_local_storage_get_no_volume_key():
    steps = churn_steps("prod")
    steps["train"]["instance_type"] = "ml.m5d.xlarge"
    train = steps_by_name(definition("prod", steps))["train"]["Arguments"]
    assert "VolumeKmsKeyId" not in train["ResourceConfig"]
    assert train["OutputDataConfig"]["KmsKeyId"] == Ref("kms.key", "arn")


def test_registering_without_a_training_step_is_refused():
    steps = churn_steps()
    steps["register"]["after"] = ["prepare"]
    del steps["gate"], steps["evaluate"], steps["train"]
    with pytest.raises(GraphError, match="no training step runs before it"):
        definition("dev", steps)
