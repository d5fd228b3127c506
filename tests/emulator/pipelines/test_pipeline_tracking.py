"""What an execution, a registration and a deployment record by themselves, as SageMaker
does: an experiment per pipeline, a trial per execution, a trial component per job with
its parameters and metrics, and the lineage from an endpoint back to the data."""

from __future__ import annotations

from pipeline_project import GROUP, PIPELINE, create, run, write_project


def _runs(sagemaker, execution: dict) -> dict[str, dict]:
    trial = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    listed = sagemaker.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
    return {
        c["TrialComponentName"]: sagemaker.describe_trial_component(
            TrialComponentName=c["TrialComponentName"]
        )
        for c in listed
    }


def test_an_execution_is_a_trial_of_its_pipelines_experiment_with_a_component_per_job(
    server, tmp_path
):
    sagemaker = create(server, write_project(tmp_path))
    execution = run(sagemaker)
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    assert sagemaker.describe_experiment(ExperimentName=PIPELINE)["ExperimentName"] == PIPELINE
    trial = sagemaker.describe_trial(TrialName=execution["PipelineExecutionArn"].rsplit("/", 1)[-1])
    assert trial["ExperimentName"] == PIPELINE
    assert trial["MetadataProperties"]["GeneratedBy"] == execution["PipelineExecutionArn"]

    components = _runs(sagemaker, execution)
    by_type = {c["Source"]["SourceType"]: c for c in components.values()}
    assert sorted(c["Source"]["SourceType"] for c in components.values()) == [
        "SageMakerProcessingJob", "SageMakerProcessingJob", "SageMakerTrainingJob",
    ]  # fmt: skip
    training = by_type["SageMakerTrainingJob"]
    assert training["TrialComponentName"].endswith("-aws-training-job")
    assert training["Parameters"] == {"C": {"NumberValue": 0.5}}
    assert training["Status"]["PrimaryStatus"] == "Completed"
    assert training["OutputArtifacts"]["model"]["Value"].endswith("model.tar.gz")
    evaluate = next(c for n, c in components.items() if "evaluate" in n)
    (accuracy,) = evaluate["Metrics"]
    assert accuracy["MetricName"] == "accuracy" and accuracy["Count"] == 1

    # Runs compare by what they tried and reached.
    found = sagemaker.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={"Filters": [
            {"Name": "Metrics.accuracy.Max", "Operator": "GreaterThanOrEqualTo", "Value": "0.6"}
        ]},
    )["Results"]  # fmt: skip
    assert [r["TrialComponent"]["TrialComponentName"] for r in found] == [
        evaluate["TrialComponentName"]
    ]


def test_a_rerun_that_reuses_a_step_joins_its_earlier_component_to_the_new_trial(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    first = run(sagemaker)
    second = run(sagemaker)
    assert set(_runs(sagemaker, second)) == set(_runs(sagemaker, first))
    assert len(sagemaker.list_trials(ExperimentName=PIPELINE)["TrialSummaries"]) == 2


def test_lineage_runs_from_the_endpoint_to_the_version_its_training_and_the_data(server, tmp_path):
    sagemaker = create(server, write_project(tmp_path))
    assert run(sagemaker)["PipelineExecutionStatus"] == "Succeeded"
    version = sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"][
        0
    ]["ModelPackageArn"]
    (package,) = sagemaker.list_artifacts(SourceUri=version)["ArtifactSummaries"]
    assert package["ArtifactType"] == "ModelPackage"

    found = sagemaker.query_lineage(
        StartArns=[package["ArtifactArn"]], Direction="Ascendants", MaxDepth=10
    )
    types = {v["Type"] for v in found["Vertices"]}
    assert {"Model", "TrainingJob", "ProcessingJob", "DataSet", "Code", "Image"} <= types
    uris = {
        sagemaker.describe_artifact(ArtifactArn=v["Arn"])["Source"]["SourceUri"]
        for v in found["Vertices"]
        if v["LineageType"] == "Artifact"
    }
    assert "file:data/points.csv" in uris  # the pipeline's input, three jobs upstream
    group = sagemaker.query_lineage(
        StartArns=[package["ArtifactArn"]],
        Direction="Descendants",
        Filters={"Types": ["ModelGroup"]},
    )
    assert [v["LineageType"] for v in group["Vertices"]] == ["Context"]

    sagemaker.create_model(ModelName="tiny", PrimaryContainer={"ModelPackageName": version})
    sagemaker.create_endpoint_config(
        EndpointConfigName="tiny",
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "tiny", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 1}
        ],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="tiny", EndpointConfigName="tiny")
    (endpoint,) = sagemaker.list_contexts(ContextType="Endpoint")["ContextSummaries"]
    upstream = sagemaker.query_lineage(
        StartArns=[endpoint["ContextArn"]], Direction="Ascendants", MaxDepth=10
    )
    reached = {v["Arn"] for v in upstream["Vertices"]}
    assert package["ArtifactArn"] in reached
    assert any(v["Type"] == "ModelDeployment" for v in upstream["Vertices"])
    assert any(v["Type"] == "TrainingJob" for v in upstream["Vertices"])
