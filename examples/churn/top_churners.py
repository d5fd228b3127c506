"""Print the customers most likely to leave, from the latest run of the churn-scores batch job.

Run after `mlinfra batch run churn-scores --env local --wait` (`make run` does). Plain boto3,
as application code would read a batch job's results: the environment says where SageMaker
is (`mlinfra emulator env` prints the emulator's URL, credentials and region), so

    eval "$(mlinfra emulator env -f examples/churn/mlinfra.yaml)"
    python examples/churn/top_churners.py [--top N]

finds the batch job's newest successful run (ListPipelineExecutions), the transform job its
step ran (ListPipelineExecutionSteps, DescribeTransformJob), reads the `.out` files where
that job wrote them (each line `<customer_id>,<churn probability>`, one per customer), and
prints the top N with what the customers CSV says of them.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
PIPELINE = "churn-local-churn-scores"  # the batch job churn-scores, in environment local
SHOWN = ("tenure_months", "monthly_charges", "contract", "support_calls")


def latest_output(sagemaker) -> tuple[str, str]:
    """The newest succeeded run's execution id and its transform job's output location."""
    runs = sagemaker.list_pipeline_executions(
        PipelineName=PIPELINE, SortBy="CreationTime", SortOrder="Descending", MaxResults=20
    )["PipelineExecutionSummaries"]
    for run in runs:
        if run["PipelineExecutionStatus"] != "Succeeded":
            continue
        arn = run["PipelineExecutionArn"]
        steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)
        for step in steps["PipelineExecutionSteps"]:
            job = (step.get("Metadata") or {}).get("TransformJob")
            if job:
                name = job["Arn"].rsplit("/", 1)[-1]
                described = sagemaker.describe_transform_job(TransformJobName=name)
                return arn.rsplit("/", 1)[-1], described["TransformOutput"]["S3OutputPath"]
    sys.exit(f"{PIPELINE} has no successful run yet: `mlinfra batch run churn-scores --env local`")


def local_folder(location: str) -> Path:
    """The folder a `file:` output location names, relative to the spec's folder."""
    if not location.startswith("file:"):
        sys.exit(f"{location} is not a local folder: this script reads the local emulator's")
    return HERE / location.removeprefix("file:")


def customers() -> dict[str, dict[str, str]]:
    """The customers CSV's latest row of each customer, by id."""
    latest: dict[str, dict[str, str]] = {}
    with (HERE / "data" / "customers.csv").open() as rows:
        for row in csv.DictReader(rows):
            known = latest.get(row["customer_id"])
            if known is None or row["event_time"] >= known["event_time"]:
                latest[row["customer_id"]] = row
    return latest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    execution, location = latest_output(boto3.client("sagemaker"))
    files = sorted(local_folder(location).rglob("*.out"))
    scores: list[tuple[float, str]] = []
    for path in files:
        for line in path.read_text().splitlines():
            customer, probability = line.rsplit(",", 1)
            scores.append((float(probability), customer))
    scores.sort(key=lambda item: (-item[0], item[1]))
    known = customers()
    print(
        f"The {args.top} customers most likely to leave, of {len(scores)} scored by run "
        f"{execution} of batch job churn-scores ({len(files)} .out file(s) in {location}):"
    )
    print(f"  {'customer':<10} {'churn':>6}  {'tenure':>6} {'monthly':>8}  {'contract':<15} calls")
    for probability, customer in scores[: args.top]:
        row = known.get(customer, {})
        tenure, monthly, contract, calls = (row.get(f, "?") for f in SHOWN)
        print(
            f"  {customer:<10} {probability:>6.3f}  {tenure:>6} {monthly:>8}  {contract:<15} "
            f"{calls}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
