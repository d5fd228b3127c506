"""SageMaker models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model is a record of its containers; nothing runs until an endpoint serves it. Its model
data and submit directory, when they are local locations, must lie in the project or state
folder (`kit.paths`), and are refused when the model is created, not when it is served.
"""

from __future__ import annotations

import time

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import invalid
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.kit.records import Kind, Listing, output
from mlinfra.emulator.serving.program import SUBMIT_DIRECTORY, is_model_code
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources

MODEL = resources.MODEL.arn_kind


class Models:
    """The model operations over the control plane's store."""

    OPERATIONS = ("CreateModel", "DescribeModel", "ListModels", "DeleteModel")
    KINDS = (Kind.of(resources.MODEL),)

    def __init__(self, store: Store, listing: Listing, roots: Roots) -> None:
        self.store = store
        self.listing = listing
        self.roots = roots

    def create_model(self, p: dict, region: str) -> dict:
        name = p["ModelName"]
        if self.store.get(MODEL, name):
            raise invalid(f'Cannot create already existing model "{arn(region, MODEL, name)}".')
        if not p.get("PrimaryContainer") and not p.get("Containers"):
            raise invalid("Either PrimaryContainer or Containers must be specified.")
        if p.get("PrimaryContainer"):
            check_containers([p["PrimaryContainer"]], "PrimaryContainer", self.roots)
        check_containers(p.get("Containers") or [], "Containers", self.roots)
        record = dict(p, ModelArn=arn(region, MODEL, name), CreationTime=time.time())
        self.store.put(MODEL, name, record, record["CreationTime"])
        return {"ModelArn": record["ModelArn"]}

    def describe_model(self, p: dict, region: str) -> dict:
        return output("DescribeModel", self.model(p["ModelName"], region))

    def list_models(self, p: dict, region: str) -> dict:
        return self.listing.list("ListModels", MODEL, p, "ModelName")

    def delete_model(self, p: dict, region: str) -> None:
        self.model(p["ModelName"], region)
        self.store.delete(MODEL, p["ModelName"])

    def model(self, name: str, region: str) -> dict:
        """The model's record; ValidationException, as SageMaker answers, if there is none."""
        record = self.store.get(MODEL, name)
        if record is None:
            raise invalid(f'Could not find model "{arn(region, MODEL, name)}".')
        return record


def check_containers(containers: list[dict], where: str, roots: Roots) -> None:
    """Model data and submit directories of containers (a model's, a model package's),
    refused now if they are local locations outside the project and state folders."""
    for index, container in enumerate(containers, start=1):
        place = where if where == "PrimaryContainer" else f"{where}[{index}]"
        source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
        environment = container.get("Environment") or {}
        for field, location in (
            ("ModelDataUrl", container.get("ModelDataUrl")),
            ("ModelDataSource.S3DataSource.S3Uri", source.get("S3Uri")),
            ("Environment.SAGEMAKER_SUBMIT_DIRECTORY", environment.get(SUBMIT_DIRECTORY)),
        ):
            if not location or is_model_code(location):
                continue
            try:
                roots.confine(location)
            except NotLocal:
                continue  # S3: not served locally, and the endpoint says so when deployed
            except PathRefused as exc:
                raise invalid(f"{place}.{field}: {exc.message}") from None
