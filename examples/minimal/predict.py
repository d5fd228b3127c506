"""Ask the endpoint whether parcels are large, as an application would: plain boto3.

Run it after `eval "$(mlinfra emulator env -f examples/minimal/mlinfra.yaml)"`, which points
boto3 at the local emulator with its credentials:

    python examples/minimal/predict.py 9.5,8.0 1.0,2.0
"""

from __future__ import annotations

import sys

import boto3

ENDPOINT = "parcels-local-parcel-size-api"


def main(parcels: list[str]) -> None:
    runtime = boto3.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName=ENDPOINT,
        ContentType="text/csv",
        Accept="text/csv",
        Body="".join(f"{parcel}\n" for parcel in parcels),
    )
    for parcel, line in zip(parcels, answer["Body"].read().decode().splitlines(), strict=True):
        print(f"{parcel}: large with probability {line}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["9.5,8.0", "1.0,2.0"])
