"""Shared by the monitoring tests: the churn example's baseline data set and its baseline, and
a moto server on loopback standing in for AWS (it cannot be reached from the build machines)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from mlinfra.monitoring.baseline import Baseline, read_dataset, suggest_baseline

CHURN_CSV = Path(__file__).parents[2] / "examples" / "churn" / "data" / "baseline.csv"


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    """The churn baseline data set, every value as text, as the baselining job reads it."""
    return read_dataset(CHURN_CSV)


@pytest.fixture(scope="session")
def churn_baseline(churn: pd.DataFrame) -> Baseline:
    return suggest_baseline(churn)


REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """Clients of the moto server, and the environment the job's process gets."""
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_server,
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # A fresh account per test: moto's server keeps its state until reset.
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).read()  # noqa: S310 - our loopback server
    clients = {
        name: boto3.client(name, region_name=REGION, endpoint_url=moto_server)
        for name in ("s3", "kms", "cloudwatch", "sagemaker")
    }
    clients["environment"] = environment
    return clients
