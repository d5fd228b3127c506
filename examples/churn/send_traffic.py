"""Send a few customers to the churn endpoint with boto3, as application code would.

Run after `make run` deployed the model (or `mlinfra apply --env local` after a pipeline
run): it finds the emulator started beside the spec and prints each customer's churn
probability. Usage: python examples/churn/send_traffic.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
# The endpoint's input: the customers feature store's features, in its order, without the
# record identifier, the event time and the label.
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]
ENDPOINT = "churn-local-churn-api"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5, help="how many customers to send")
    args = parser.parse_args(argv)

    from mlinfra.emulator import process

    running = process.status(HERE / "mlinfra.yaml")
    if running is None:
        print("The emulator is not running: start it with `make run`.", file=sys.stderr)
        return 1
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=running.url,
        region_name="us-east-1",
        aws_access_key_id="local",  # the emulator accepts any credentials
        aws_secret_access_key="local",
    )
    with (HERE / "data" / "customers.csv").open(newline="") as handle:
        customers = list(itertools.islice(csv.DictReader(handle), args.rows))
    body = "\n".join(",".join(c[f] for f in FEATURES) for c in customers) + "\n"
    answer = runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=body)
    probabilities = answer["Body"].read().decode().split()
    for customer, probability in zip(customers, probabilities, strict=True):
        print(
            f"  customer {customer['customer_id']}: {customer['contract']:>14} contract, "
            f"{customer['tenure_months']:>2} months -> churn probability {float(probability):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
