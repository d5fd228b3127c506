"""DescribePipelineDefinitionForExecution: the definition an execution ran, not the latest."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from jobs_client import error_code, sagemaker

ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def definition(threshold: float) -> str:
    return json.dumps({
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": threshold}],
        "Steps": [{"Name": "Check", "Type": "Condition", "Arguments": {
            "Conditions": [], "IfSteps": [], "ElseSteps": []}}],
    })  # fmt: skip


def test_an_execution_keeps_the_definition_it_started_with(server):
    sm = sagemaker(server)
    sm.create_pipeline(PipelineName="p", PipelineDefinition=definition(0.5), RoleArn=ROLE)
    first = sm.start_pipeline_execution(PipelineName="p")["PipelineExecutionArn"]
    sm.update_pipeline(PipelineName="p", PipelineDefinition=definition(0.9))
    second = sm.start_pipeline_execution(PipelineName="p")["PipelineExecutionArn"]
    ran = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=first)
    assert ran["PipelineDefinition"] == definition(0.5)
    assert (
        ran["CreationTime"]
        == sm.describe_pipeline_execution(PipelineExecutionArn=first)["CreationTime"]
    )
    latest = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=second)
    assert latest["PipelineDefinition"] == definition(0.9)
    with pytest.raises(ClientError) as missing:
        sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=first + "x")
    assert error_code(missing) == "ResourceNotFound"
