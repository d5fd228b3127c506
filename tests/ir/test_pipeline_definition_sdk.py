"""mlinfra's pipeline definitions side by side with the SageMaker Python SDK's.

For a catalogue of shapes the churn example does not use (every form of `when:`: `==`, `!=`,
`<`, `<=`, `>`, `>=`, `not`, `and`, `or`, and them nested; data inputs whose name would be
`code`; steps after several conditions), each case is built twice: by mlinfra from spec steps,
and with the SageMaker Python SDK (`sagemaker`, a test dependency) from the objects an SDK user
writes for the same pipeline. The two definitions must be equal once the values that
legitimately differ are replaced by what they stand for: S3 locations (mlinfra's name its
buckets through Pulumi references, the SDK's are strings), the role, the image. Step lists are
compared as sets (their order means nothing to SageMaker); everything else, field for field.

The SDK is imported only by these tests (it takes seconds), and runs offline: a dummy region
and credentials, its telemetry opted out, and every socket connection refused while it builds.
The `when:` grammar has no `in`, so ConditionIn is not in the catalogue.
"""

from __future__ import annotations

import functools
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlinfra.ir.graph import Call, Concat, Json, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.ir.sagemaker.pipeline_definition.definition import pipeline_definition
from mlinfra.ir.sagemaker.pipelines import code_uploads
from mlinfra.spec.validate import validate_file
from typed_specs import rebuilt

EXAMPLE = Path(__file__).parents[2] / "examples" / "churn"
INSTANCE = "ml.m5.large"
INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing/output"
# What stands for a value that legitimately differs between the two definitions.
S3, ROLE, IMAGE = "<s3 location>", "<role>", "<image>"
PARAMETERS = {"min_accuracy": 0.75, "max_loss": 0.5, "deploy": True, "stage": "prod"}
# The SDK's own deprecation notices on import, and its notice that a PipelineSession starts
# no job: nothing these tests act on.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:sagemaker"),
    pytest.mark.filterwarnings("ignore:Running within a PipelineSession:UserWarning"),
]


# --- mlinfra's side ---------------------------------------------------------------------------


@functools.cache
def spec():
    return validate_file(str(EXAMPLE / "mlinfra.yaml")).environments["dev"]


def processing(script: str = "evaluate", after=(), inputs=()) -> dict:
    """A processing step running one of the churn example's scripts (mlinfra uploads it)."""
    return {
        "type": "processing",
        "script": f"pipelines/{script}.py",
        "after": list(after),
        "inputs": list(inputs),
        "instance_type": INSTANCE,
        "instance_count": 1,
    }


def condition(when: str, after=("evaluate",)) -> dict:
    return {"type": "condition", "after": list(after), "when": when}


# prepare -> evaluate (writes evaluation/evaluation.json), then what each case adds.
BASE = {
    "prepare": processing("prepare", inputs=["s3://data-bucket/customers/"]),
    "evaluate": processing("evaluate", after=["prepare"], inputs=["prepare.test"]),
}


def mlinfra_definition(steps: dict) -> dict:
    ctx = LoweringContext(spec(), EXAMPLE)
    component = spec().component("pipeline.train-churn")
    component = rebuilt(component, steps=steps, parameters=PARAMETERS)
    _, code_uris = code_uploads(ctx, component)
    return pipeline_definition(ctx, component, Ref("pipeline.train-churn/role", "arn"), code_uris)


# --- the SDK's side ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk():
    """The SDK's modules, imported and used offline."""
    patch = pytest.MonkeyPatch()
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        patch.setenv(name, value)
    patch.delenv("AWS_PROFILE", raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"the SDK tried to connect to {args[1:] or kwargs}")

    patch.setattr(socket.socket, "connect", refuse)
    patch.setattr(socket, "create_connection", refuse)
    try:
        sdk = Sdk()
        # The SDK checks its whole config against its JSON Schema on every lookup (0.3 s each,
        # some fifty per pipeline): checked once here, then taken as checked.
        from sagemaker.core.config.config_manager import SageMakerConfig

        SageMakerConfig.validate_sagemaker_config(sdk.session.sagemaker_config)
        patch.setattr(
            SageMakerConfig, "validate_sagemaker_config", staticmethod(lambda c=None: None)
        )
        yield sdk
    finally:
        patch.undo()


class Sdk:
    """Builds with the SDK the pipeline a spec's steps describe, as an SDK user writes it."""

    def __init__(self) -> None:
        import boto3
        from sagemaker.core import shapes
        from sagemaker.core.network import NetworkConfig
        from sagemaker.core.processing import ScriptProcessor
        from sagemaker.core.workflow import conditions, functions, parameters
        from sagemaker.core.workflow.execution_variables import ExecutionVariables
        from sagemaker.core.workflow.pipeline_context import PipelineSession
        from sagemaker.core.workflow.properties import PropertyFile
        from sagemaker.mlops.workflow.condition_step import ConditionStep
        from sagemaker.mlops.workflow.pipeline import Pipeline
        from sagemaker.mlops.workflow.steps import ProcessingStep

        self.shapes, self.conditions, self.functions = shapes, conditions, functions
        self.NetworkConfig, self.ScriptProcessor = NetworkConfig, ScriptProcessor
        self.ExecutionVariables, self.PropertyFile = ExecutionVariables, PropertyFile
        self.ConditionStep, self.Pipeline, self.ProcessingStep = (
            ConditionStep,
            Pipeline,
            ProcessingStep,
        )
        self.session = PipelineSession(
            boto_session=boto3.Session(region_name="us-east-1"),
            default_bucket="sdk-bucket",
            sagemaker_config={
                "SchemaVersion": "1.0",
                "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
            },
        )
        self.parameters = {
            "min_accuracy": parameters.ParameterFloat("min_accuracy", default_value=0.75),
            "max_loss": parameters.ParameterFloat("max_loss", default_value=0.5),
            "deploy": parameters.ParameterBoolean("deploy", default_value=True),
            "stage": parameters.ParameterString("stage", default_value="prod"),
        }
        self.steps: dict[str, Any] = {}

    # values

    def metric(self, name: str):
        return self.functions.JsonGet(
            step_name="evaluate",
            property_file="evaluate-metrics",
            json_path=f"metrics.{name}.value",
        )

    def output(self, step: str, folder: str):
        uri = self.steps[step].properties.ProcessingOutputConfig.Outputs[step].S3Output.S3Uri
        return self.functions.Join(on="/", values=[uri, folder])

    # steps

    def processing(
        self, name: str, script: str = "evaluate", inputs=(), depends_on=None, metrics=False
    ):
        """A processing step as mlinfra lays it out: `python3 <script>` in the scikit-learn
        processing image, inputs under /opt/ml/processing/input/<name>, one output per
        execution, and the script as the `code` input."""
        shapes = self.shapes
        processor = self.ScriptProcessor(
            role="arn:aws:iam::111111111111:role/sdk",
            image_uri="sdk-image",
            command=["python3"],
            instance_type=INSTANCE,
            instance_count=1,
            volume_size_in_gb=30,
            env={"MLINFRA_PROCESSING_INPUT": INPUT_DIR, "MLINFRA_PROCESSING_OUTPUT": OUTPUT_DIR},
            network_config=self.NetworkConfig(
                enable_network_isolation=False, encrypt_inter_container_traffic=False
            ),
            sagemaker_session=self.session,
        )
        given = [
            shapes.ProcessingInput(
                input_name=input_name,
                app_managed=False,
                s3_input=shapes.ProcessingS3Input(
                    s3_uri=uri,
                    local_path=f"{INPUT_DIR}/{input_name}",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                    s3_data_distribution_type="FullyReplicated",
                    s3_compression_type="None",
                ),
            )
            for input_name, uri in inputs
        ]
        runs = ["s3://sdk-bucket/runs", self.ExecutionVariables.PIPELINE_EXECUTION_ID, name]
        output = shapes.ProcessingOutput(
            output_name=name,
            app_managed=False,
            s3_output=shapes.ProcessingS3Output(
                s3_uri=self.functions.Join(on="/", values=runs),
                local_path=OUTPUT_DIR,
                s3_upload_mode="EndOfJob",
            ),
        )
        arguments = processor.run(
            code=f"s3://sdk-bucket/code/{script}.py", inputs=given, outputs=[output]
        )
        files = []
        if metrics:
            files = [
                self.PropertyFile(
                    name=f"{name}-metrics", output_name=name, path="evaluation/evaluation.json"
                )
            ]
        step = self.ProcessingStep(
            name, step_args=arguments, property_files=files, depends_on=depends_on
        )
        self.steps[name] = step
        return step

    def base(self, metrics: bool = True) -> list:
        """BASE, with the SDK; evaluate's metrics are a property file when a condition reads
        them."""
        prepare = self.processing(
            "prepare", "prepare", [("customers", "s3://data-bucket/customers/")]
        )
        evaluate = self.processing(
            "evaluate", inputs=[("test", self.output("prepare", "test"))], metrics=metrics
        )
        return [prepare, evaluate]

    def when(self, name: str, conditions: list, if_steps=(), depends_on=None):
        step = self.ConditionStep(
            name=name,
            conditions=conditions,
            if_steps=list(if_steps),
            else_steps=[],
            depends_on=depends_on,
        )
        self.steps[name] = step
        return step

    def definition(self, steps: list) -> dict:
        pipeline = self.Pipeline(
            name="train-churn",
            parameters=list(self.parameters.values()),
            steps=steps,
            sagemaker_session=self.session,
        )
        return json.loads(pipeline.definition())


# --- comparing --------------------------------------------------------------------------------

LOCATIONS = {"S3Uri": S3, "RoleArn": ROLE, "ImageUri": IMAGE}


def _is_expression(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and next(iter(value))
        in (
            "Get",
            "Std:Join",
            "Std:JsonGet",
        )
    )


def _located(value: Any) -> Any:
    """A location as what it stands for; an expression building one keeps its structure."""
    if _is_expression(value) and "Std:Join" in value:
        join = value["Std:Join"]
        return {"Std:Join": {**join, "Values": [_located(v) for v in join["Values"]]}}
    if _is_expression(value):
        return value
    if isinstance(value, Ref | Concat | Call | Json) or str(value).startswith("s3://"):
        return S3
    return value


def normalised(value: Any, key: str = "") -> Any:
    """The definition as plain JSON data with the legitimate differences replaced."""
    if key in LOCATIONS:
        located = _located(value)
        return located if located is not value or _is_expression(value) else LOCATIONS[key]
    if isinstance(value, dict):
        # AppManaged false is the API's default, which the SDK leaves out of the code input.
        found = {k: normalised(v, k) for k, v in value.items() if (k, v) != ("AppManaged", False)}
        if key in ("Steps", "IfSteps", "ElseSteps"):
            return found
        if "DependsOn" in found:
            found["DependsOn"] = sorted(found["DependsOn"])
        return found
    if isinstance(value, list | tuple):
        items = [normalised(v, key) for v in value]
        if key in ("Steps", "IfSteps", "ElseSteps"):
            return sorted(items, key=lambda step: step["Name"])
        return items
    if isinstance(value, Ref | Concat | Call | Json):
        return S3
    return value


def comparable(definition: dict) -> dict:
    """What SageMaker runs: the version, the parameters and the steps."""
    plain = json.loads(json.dumps(definition, default=lambda v: S3))
    return normalised({k: plain[k] for k in ("Version", "Parameters", "Steps")})


def assert_same(steps: dict, build: Callable[[Sdk], list], sdk: Sdk) -> None:
    ours = mlinfra_definition(steps)
    theirs = sdk.definition(build(sdk))
    assert check_definition(ours) == []
    assert check_definition(theirs) == [], "the check refuses what the SDK writes"
    assert differences(comparable(ours), comparable(theirs)) == []


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two definitions differ, as `path: mlinfra's value != the SDK's`."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            where = f"{path}.{key}"
            if key not in ours or key not in theirs:
                found.append(
                    f"{where}: {ours.get(key, '<absent>')!r} != {theirs.get(key, '<absent>')!r}"
                )
            else:
                found += differences(ours[key], theirs[key], where)
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [
            d
            for i, pair in enumerate(zip(ours, theirs, strict=True))
            for d in differences(*pair, f"{path}[{i}]")
        ]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


# --- the catalogue ----------------------------------------------------------------------------
# Each case: the spec's `when:`, and the conditions an SDK user writes for it.


def _conditions(sdk: Sdk) -> tuple:
    c, p = sdk.conditions, sdk.parameters
    accuracy, loss = sdk.metric("accuracy"), sdk.metric("loss")
    good = c.ConditionGreaterThanOrEqualTo(left=accuracy, right=p["min_accuracy"])
    low = c.ConditionLessThan(left=loss, right=p["max_loss"])
    return c, p, accuracy, loss, good, low


GOOD = "evaluate.metrics.accuracy >= parameters.min_accuracy"
LOW = "evaluate.metrics.loss < parameters.max_loss"
CONDITIONS: dict[str, tuple[str, Callable[..., list]]] = {
    "==": (
        "evaluate.metrics.accuracy == 1",
        lambda c, p, acc, loss, good, low: [c.ConditionEquals(left=acc, right=1)],
    ),
    "!=": (
        "evaluate.metrics.accuracy != 1",
        lambda c, p, acc, loss, good, low: [c.ConditionNot(c.ConditionEquals(left=acc, right=1))],
    ),
    "<": (LOW, lambda c, p, acc, loss, good, low: [low]),
    "<=": (
        "evaluate.metrics.loss <= 0.25",
        lambda c, p, acc, loss, good, low: [c.ConditionLessThanOrEqualTo(left=loss, right=0.25)],
    ),
    ">": (
        "evaluate.metrics.accuracy > parameters.min_accuracy",
        lambda c, p, acc, loss, good, low: [
            c.ConditionGreaterThan(left=acc, right=p["min_accuracy"])
        ],
    ),
    ">=": (GOOD, lambda c, p, acc, loss, good, low: [good]),
    "a literal on the left": (
        "0.5 < evaluate.metrics.accuracy",
        lambda c, p, acc, loss, good, low: [c.ConditionLessThan(left=0.5, right=acc)],
    ),
    "a boolean parameter": (
        "parameters.deploy",
        lambda c, p, acc, loss, good, low: [c.ConditionEquals(left=p["deploy"], right=True)],
    ),
    "a string parameter": (
        "parameters.stage == 'prod'",
        lambda c, p, acc, loss, good, low: [c.ConditionEquals(left=p["stage"], right="prod")],
    ),
    "not": (f"not {GOOD}", lambda c, p, acc, loss, good, low: [c.ConditionNot(good)]),
    "and": (f"{GOOD} and {LOW}", lambda c, p, acc, loss, good, low: [good, low]),
    "or": (f"{GOOD} or {LOW}", lambda c, p, acc, loss, good, low: [c.ConditionOr([good, low])]),
    "and inside or": (
        f"parameters.deploy == false or ({GOOD} and {LOW})",
        lambda c, p, acc, loss, good, low: [
            c.ConditionOr(
                [
                    c.ConditionEquals(left=p["deploy"], right=False),
                    c.ConditionNot(c.ConditionOr([c.ConditionNot(good), c.ConditionNot(low)])),
                ]
            )
        ],
    ),
    "or inside and": (
        f"({GOOD} or {LOW}) and parameters.deploy",
        lambda c, p, acc, loss, good, low: [
            c.ConditionOr([good, low]),
            c.ConditionEquals(left=p["deploy"], right=True),
        ],
    ),
    "not over or": (
        f"not ({GOOD} or {LOW})",
        lambda c, p, acc, loss, good, low: [c.ConditionNot(c.ConditionOr([good, low]))],
    ),
    "not over and": (
        f"not ({GOOD} and {LOW})",
        lambda c, p, acc, loss, good, low: [
            c.ConditionOr([c.ConditionNot(good), c.ConditionNot(low)])
        ],
    ),
    "not not": (f"not not {GOOD}", lambda c, p, acc, loss, good, low: [good]),
}


@pytest.mark.parametrize("case", list(CONDITIONS))
def test_a_condition_is_written_as_the_sdk_writes_it(case, sdk):
    when, written = CONDITIONS[case]
    steps = {**BASE, "gate": condition(when), "report": processing(after=["gate"])}

    def build(sdk: Sdk) -> list:
        reads = "evaluate.metrics" in when  # else `after: [evaluate]` is a DependsOn
        prepare, evaluate = sdk.base(metrics=reads)
        report = sdk.processing("report")
        conditions = written(*_conditions(sdk))
        gate = sdk.when("gate", conditions, [report], depends_on=None if reads else ["evaluate"])
        return [prepare, evaluate, gate]

    assert_same(steps, build, sdk)


# Each case: the spec's `inputs:` of a processing step, and the names and sources the SDK
# user gives its inputs (the script's own `code` input comes last, from ScriptProcessor).
INPUTS: dict[str, tuple[list[str], Callable[[Sdk], list]]] = {
    "an S3 prefix ending in code/": (
        ["s3://data-bucket/exports/code/"],
        lambda sdk: [("code-2", "s3://data-bucket/exports/code/")],
    ),
    "a feature store named code": (
        ["feature_store.code"],
        lambda sdk: [("code-2", "s3://artifacts/feature-store/code")],
    ),
    "the code folder of a step's output": (
        ["prepare.code"],
        lambda sdk: [("code-2", sdk.output("prepare", "code"))],
    ),
    "two of them, and a name like the first one's": (
        ["s3://one/code/", "s3://two/code", "s3://three/code-2"],
        lambda sdk: [
            ("code-2", "s3://one/code/"),
            ("code-3", "s3://two/code"),
            ("code-2-2", "s3://three/code-2"),
        ],
    ),
}


@pytest.mark.parametrize("case", list(INPUTS))
def test_data_inputs_named_code_are_laid_out_as_the_sdk_lays_them(case, sdk):
    inputs, given = INPUTS[case]
    steps = {**BASE, "report": processing(after=["prepare"], inputs=inputs)}

    def build(sdk: Sdk) -> list:
        prepare, evaluate = sdk.base(metrics=False)
        # `after: [prepare]` is a DependsOn unless the step reads prepare's output.
        waits = None if inputs == ["prepare.code"] else ["prepare"]
        return [prepare, evaluate, sdk.processing("report", inputs=given(sdk), depends_on=waits)]

    assert_same(steps, build, sdk)
    report = [s for s in mlinfra_definition(steps)["Steps"] if s["Name"] == "report"][0]
    folders = [i["S3Input"]["LocalPath"] for i in report["Arguments"]["ProcessingInputs"]]
    assert len(folders) == len(set(folders))


def test_a_step_after_two_sibling_conditions_sits_under_both_as_the_sdk_writes_it(sdk):
    steps = {
        **BASE,
        "gate": condition(GOOD),
        "loss-ok": condition(LOW),
        "report": processing(after=["gate", "loss-ok"]),
    }

    def build(sdk: Sdk) -> list:
        c, p, acc, loss, good, low = _conditions(sdk)
        prepare, evaluate = sdk.base()
        both = sdk.when("gate-and-loss-ok", [good, low], [sdk.processing("report")])
        gate, loss_ok = sdk.when("gate", [good]), sdk.when("loss-ok", [low])
        return [prepare, evaluate, gate, loss_ok, both]

    assert_same(steps, build, sdk)


def test_a_condition_after_a_condition_sits_in_its_branch_as_the_sdk_writes_it(sdk):
    steps = {
        **BASE,
        "enabled": condition("parameters.deploy", after=["prepare"]),
        "gate": condition(GOOD, after=["evaluate", "enabled"]),
        "report": processing(after=["gate"]),
    }

    def build(sdk: Sdk) -> list:
        c, p, acc, loss, good, low = _conditions(sdk)
        prepare, evaluate = sdk.base()
        gate = sdk.when("gate", [good], [sdk.processing("report")])
        deploy = c.ConditionEquals(left=p["deploy"], right=True)
        enabled = sdk.when("enabled", [deploy], [gate], depends_on=["prepare"])
        return [prepare, evaluate, enabled]

    assert_same(steps, build, sdk)


def test_sibling_conditions_after_a_condition_are_combined_in_its_branch(sdk):
    steps = {
        **BASE,
        "enabled": condition("parameters.deploy", after=["prepare"]),
        "gate": condition(GOOD, after=["evaluate", "enabled"]),
        "loss-ok": condition(LOW, after=["evaluate", "enabled"]),
        "report": processing(after=["gate", "loss-ok"]),
    }

    def build(sdk: Sdk) -> list:
        c, p, acc, loss, good, low = _conditions(sdk)
        prepare, evaluate = sdk.base()
        both = sdk.when("gate-and-loss-ok", [good, low], [sdk.processing("report")])
        gate, loss_ok = sdk.when("gate", [good]), sdk.when("loss-ok", [low])
        deploy = c.ConditionEquals(left=p["deploy"], right=True)
        enabled = sdk.when("enabled", [deploy], [gate, loss_ok, both], depends_on=["prepare"])
        return [prepare, evaluate, enabled]

    assert_same(steps, build, sdk)
