"""Shared by the CloudWatch and autoscaling tests: an endpoint to invoke, a webhook receiver,
and polling a condition the emulator's scheduler brings about."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from mlinfra.emulator.access import Access

ROLE = "arn:aws:iam::123456789012:role/mlinfra-test"


def configure(sagemaker: Any, name: str, container: dict, instances: int = 1) -> str:
    """Model and endpoint config `name` serving `container` on variant AllTraffic."""
    sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instances,
             "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    return name


def deploy(sagemaker: Any, name: str, container: dict, instances: int = 1) -> dict:
    """Model, config and endpoint `name` serving `container`; DescribeEndpoint after."""
    sagemaker.create_endpoint(
        EndpointName=name, EndpointConfigName=configure(sagemaker, name, container, instances)
    )
    return sagemaker.describe_endpoint(EndpointName=name)


def clients_of(server: Any, endpoint: str, model_dir: Any, third: str) -> tuple:
    """SageMaker, SageMaker Runtime and `third`'s clients of `server`, once it serves
    `endpoint` from the model in `model_dir`."""
    access = Access.for_server(server)
    sagemaker = access.client("sagemaker")
    deploy(sagemaker, endpoint, {"Image": "sklearn", "ModelDataUrl": str(model_dir)})
    return sagemaker, access.client("sagemaker-runtime"), access.client(third)


def dimensions(endpoint: str, variant: str = "AllTraffic") -> list[dict]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll until `condition()` is truthy; its value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.1)


class Receiver:
    """A webhook on loopback that keeps what it is sent; stopped by `close()`."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
