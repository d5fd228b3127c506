"""Experiments: experiments, trials and trial components with their parameters and metrics.

A trial component is one run of something (a pipeline's training or processing job, or
what a user records); a trial groups the components of one attempt (a pipeline execution),
an experiment the trials (a pipeline). SageMaker writes a job's trial component itself, with
its source job, parameters and metric summaries (`record_job`, `put_metrics`: the
`services/tracking.py` of each execution); users create their own through the API.

Search over them (and over model packages, pipelines and pipeline executions) is in
`services/search.py`; this service keeps, besides the store, every trial component in memory
(they are what Search reads most), loaded on first use, kept current by its own writes and
read again after anyone else's (the tags service's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import invalid, not_found
from mlinfra.emulator.kit.records import Kind, Listing, created_between, output
from mlinfra.emulator.store import Store

EXPERIMENT = "experiment"
TRIAL = "experiment-trial"
TRIAL_COMPONENT = "experiment-trial-component"


class Experiments:
    """The experiment, trial and trial component operations over the control plane's store.

    `forget` drops a deleted entity's lineage associations (the lineage service's)."""

    OPERATIONS = (
        "CreateExperiment", "DescribeExperiment", "ListExperiments", "DeleteExperiment",
        "CreateTrial", "DescribeTrial", "ListTrials", "DeleteTrial",
        "CreateTrialComponent", "DescribeTrialComponent", "ListTrialComponents",
        "UpdateTrialComponent", "DeleteTrialComponent",
        "AssociateTrialComponent", "DisassociateTrialComponent",
    )  # fmt: skip
    KINDS = (
        Kind(EXPERIMENT, "ExperimentArn", lambda r: r["ExperimentName"]),
        Kind(TRIAL, "TrialArn", lambda r: r["TrialName"]),
        Kind(TRIAL_COMPONENT, "TrialComponentArn", lambda r: r["TrialComponentName"]),
    )

    def __init__(self, store: Store, listing: Listing, forget: Callable[[str], None]) -> None:
        self.store = store
        self.listing = listing
        self.forget = forget
        self._components: dict[str, dict] | None = None
        self._seen = 0  # the store's count of trial component writes the copy reflects

    # --- experiments -----------------------------------------------------------------------

    def create_experiment(self, p: dict, region: str) -> dict:
        name = p["ExperimentName"]
        if self.store.get(EXPERIMENT, name):
            raise invalid(f"Experiment names must be unique: {name} already exists.")
        record = self._new(p, "ExperimentArn", arn(region, EXPERIMENT, name), name)
        self.store.put(EXPERIMENT, name, record, record["CreationTime"])
        return {"ExperimentArn": record["ExperimentArn"]}

    def describe_experiment(self, p: dict, region: str) -> dict:
        return output("DescribeExperiment", self.experiment(p["ExperimentName"]))

    def list_experiments(self, p: dict, region: str) -> dict:
        return self._list("ListExperiments", self.store.all(EXPERIMENT), p, "ExperimentName")

    def delete_experiment(self, p: dict, region: str) -> dict:
        record = self.experiment(p["ExperimentName"])
        if any(t["ExperimentName"] == record["ExperimentName"] for t in self.store.all(TRIAL)):
            raise invalid(
                f"Experiment {record['ExperimentName']} still has trials; delete them first."
            )
        self.forget(record["ExperimentArn"])
        self.store.delete(EXPERIMENT, record["ExperimentName"])
        return {"ExperimentArn": record["ExperimentArn"]}

    def experiment(self, name: str) -> dict:
        """An experiment's record; ResourceNotFound if there is none."""
        record = self.store.get(EXPERIMENT, name)
        if record is None:
            raise not_found(f"Experiment '{name}' does not exist.")
        return record

    # --- trials ----------------------------------------------------------------------------

    def create_trial(self, p: dict, region: str) -> dict:
        name = p["TrialName"]
        self.experiment(p["ExperimentName"])
        if self.store.get(TRIAL, name):
            raise invalid(f"Trial names must be unique: {name} already exists.")
        record = self._new(p, "TrialArn", arn(region, TRIAL, name), name)
        record["TrialComponentSummaries"] = []
        self.store.put(TRIAL, name, record, record["CreationTime"])
        return {"TrialArn": record["TrialArn"]}

    def describe_trial(self, p: dict, region: str) -> dict:
        return output("DescribeTrial", self.trial(p["TrialName"]))

    def list_trials(self, p: dict, region: str) -> dict:
        records = self.store.all(TRIAL)
        if "ExperimentName" in p:
            self.experiment(p["ExperimentName"])
            records = [r for r in records if r["ExperimentName"] == p["ExperimentName"]]
        if "TrialComponentName" in p:
            parents = {
                parent["TrialName"]
                for parent in self.trial_component(p["TrialComponentName"]).get("Parents", [])
            }
            records = [r for r in records if r["TrialName"] in parents]
        return self._list("ListTrials", records, p, "TrialName")

    def delete_trial(self, p: dict, region: str) -> dict:
        record = self.trial(p["TrialName"])
        if record.get("TrialComponentSummaries"):
            raise invalid(
                f"Trial {record['TrialName']} still has trial components; disassociate them first."
            )
        self.store.delete(TRIAL, record["TrialName"])
        return {"TrialArn": record["TrialArn"]}

    def trial(self, name: str) -> dict:
        """A trial's record; ResourceNotFound if there is none."""
        record = self.store.get(TRIAL, name)
        if record is None:
            raise not_found(f"Trial '{name}' does not exist.")
        return record

    # --- trial components ------------------------------------------------------------------

    def create_trial_component(self, p: dict, region: str) -> dict:
        name = p["TrialComponentName"]
        if name in self._all_components():
            raise invalid(f"Trial component names must be unique: {name} already exists.")
        record = self._new(p, "TrialComponentArn", arn(region, TRIAL_COMPONENT, name), name)
        record.update(Parents=[], Metrics=[])
        self._put_component(record)
        return {"TrialComponentArn": record["TrialComponentArn"]}

    def describe_trial_component(self, p: dict, region: str) -> dict:
        record = self.trial_component(p["TrialComponentName"])
        sources = [record["Source"]] if record.get("Source") else []
        return output("DescribeTrialComponent", {"Sources": sources, **record})

    def list_trial_components(self, p: dict, region: str) -> dict:
        records = list(self._all_components().values())
        for field in ("ExperimentName", "TrialName"):
            if field in p:
                wanted = p[field]
                records = [
                    r for r in records if any(x.get(field) == wanted for x in r.get("Parents", []))
                ]
        if "SourceArn" in p:
            wanted = p["SourceArn"]
            records = [r for r in records if (r.get("Source") or {}).get("SourceArn") == wanted]
        records = [dict(r, TrialComponentSource=r.get("Source")) for r in records]
        return self._list("ListTrialComponents", records, p, "TrialComponentName")

    def update_trial_component(self, p: dict, region: str) -> dict:
        record = dict(self.trial_component(p["TrialComponentName"]))
        for field in ("Parameters", "InputArtifacts", "OutputArtifacts"):
            merged = {**record.get(field, {}), **p.get(field, {})}
            for removed in p.get(f"{field}ToRemove", []):
                merged.pop(removed, None)
            record[field] = merged
        for field in ("DisplayName", "Status", "StartTime", "EndTime"):
            if field in p:
                record[field] = p[field]
        record["LastModifiedTime"] = time.time()
        self._put_component(record)
        return {"TrialComponentArn": record["TrialComponentArn"]}

    def delete_trial_component(self, p: dict, region: str) -> dict:
        record = self.trial_component(p["TrialComponentName"])
        if record.get("Parents"):
            raise invalid(
                f"Trial component {record['TrialComponentName']} is in a trial; disassociate "
                "it first."
            )
        self.forget(record["TrialComponentArn"])
        components = self._all_components()
        self.store.delete(TRIAL_COMPONENT, record["TrialComponentName"])
        components.pop(record["TrialComponentName"], None)
        self._seen = self.store.writes(TRIAL_COMPONENT)
        return {"TrialComponentArn": record["TrialComponentArn"]}

    def associate_trial_component(self, p: dict, region: str) -> dict:
        component = dict(self.trial_component(p["TrialComponentName"]))
        trial = self.trial(p["TrialName"])
        parent = {"TrialName": trial["TrialName"], "ExperimentName": trial["ExperimentName"]}
        if parent not in component.get("Parents", []):
            component["Parents"] = [*component.get("Parents", []), parent]
            self._put_component(component)
            summary = {
                "TrialComponentName": component["TrialComponentName"],
                "TrialComponentArn": component["TrialComponentArn"],
                "CreationTime": component["CreationTime"],
            }
            if component.get("Source"):
                summary["TrialComponentSource"] = component["Source"]
            trial["TrialComponentSummaries"] = [*trial.get("TrialComponentSummaries", []), summary]
            trial["LastModifiedTime"] = time.time()
            self.store.put(TRIAL, trial["TrialName"], trial, trial["CreationTime"])
        return {"TrialComponentArn": component["TrialComponentArn"], "TrialArn": trial["TrialArn"]}

    def disassociate_trial_component(self, p: dict, region: str) -> dict:
        component = dict(self.trial_component(p["TrialComponentName"]))
        trial = self.trial(p["TrialName"])
        parents = [x for x in component.get("Parents", []) if x["TrialName"] != trial["TrialName"]]
        if len(parents) == len(component.get("Parents", [])):
            raise not_found(
                f"Trial component {component['TrialComponentName']} is not in trial "
                f"{trial['TrialName']}."
            )
        component["Parents"] = parents
        self._put_component(component)
        trial["TrialComponentSummaries"] = [
            s
            for s in trial.get("TrialComponentSummaries", [])
            if s["TrialComponentName"] != component["TrialComponentName"]
        ]
        self.store.put(TRIAL, trial["TrialName"], trial, trial["CreationTime"])
        return {"TrialComponentArn": component["TrialComponentArn"], "TrialArn": trial["TrialArn"]}

    def trial_component(self, name_or_arn: str) -> dict:
        """A trial component's record; ResourceNotFound if there is none."""
        name = name_or_arn.rsplit(f":{TRIAL_COMPONENT}/", 1)[-1]
        record = self._all_components().get(name)
        if record is None:
            raise not_found(f"Trial component '{name_or_arn}' does not exist.")
        return record

    def find_trial_component(self, name: str) -> dict | None:
        """A trial component's record by name, or None."""
        return self._all_components().get(name)

    def find_experiment(self, name: str) -> dict | None:
        """An experiment's record by name, or None."""
        return self.store.get(EXPERIMENT, name)

    def trial_components(self) -> list[dict]:
        """Every trial component's record, oldest first (Search reads them; not to change)."""
        return list(self._all_components().values())

    # --- what SageMaker writes itself ------------------------------------------------------

    def record_job(self, name: str, source: dict, fields: dict[str, Any], region: str) -> str:
        """The trial component of a job (`source`: its SourceArn and SourceType), created or
        updated with `fields` (Status, times, Parameters, artifacts); its ARN."""
        record = self._all_components().get(name)
        if record is None:
            self.create_trial_component({"TrialComponentName": name, **fields}, region)
            record = self._all_components()[name]
        record = dict(record, **fields, Source=source, LastModifiedTime=time.time())
        self._put_component(record)
        return record["TrialComponentArn"]

    def put_metrics(self, name: str, metrics: dict[str, float], when: float) -> None:
        """Add one value of each metric to a trial component's metric summaries, as
        SageMaker's metrics service (BatchPutMetrics) does."""
        record = dict(self.trial_component(name))
        summaries = {m["MetricName"]: dict(m) for m in record.get("Metrics", [])}
        for metric, value in metrics.items():
            summaries[metric] = _summarised(summaries.get(metric), metric, float(value), when)
            summaries[metric]["SourceArn"] = (record.get("Source") or {}).get("SourceArn")
        record["Metrics"] = list(summaries.values())
        self._put_component(record)

    # --- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _new(p: dict, arn_field: str, arn_: str, name: str) -> dict:
        now = time.time()
        record = dict(p, CreationTime=now, LastModifiedTime=now, CreatedBy={})
        record[arn_field] = arn_
        record.setdefault("DisplayName", name)
        return record

    def _all_components(self) -> dict[str, dict]:
        # Read again when someone else wrote one (tags are added by the tags service).
        if self._components is None or self.store.writes(TRIAL_COMPONENT) != self._seen:
            records = self.store.all(TRIAL_COMPONENT)
            self._components = {r["TrialComponentName"]: r for r in records}
            self._seen = self.store.writes(TRIAL_COMPONENT)
        return self._components

    def _put_component(self, record: dict) -> None:
        components = self._all_components()
        name = record["TrialComponentName"]
        self.store.put(TRIAL_COMPONENT, name, record, record["CreationTime"])
        components[name] = record
        self._seen = self.store.writes(TRIAL_COMPONENT)

    def _list(self, operation: str, records: list[dict], p: dict, name_key: str) -> dict:
        records = created_between(records, p)
        key = name_key if p.get("SortBy") == "Name" else "CreationTime"
        records = sorted(records, key=lambda r: r[key])
        if p.get("SortOrder", "Descending") == "Descending":
            records.reverse()
        return self.listing.page(operation, records, p)


def _summarised(summary: dict | None, metric: str, value: float, when: float) -> dict:
    """A metric's summary (count, min, max, last, average, standard deviation) with one more
    value; the running sums behind the average and deviation are kept beside it."""
    count, total, squares = 0, 0.0, 0.0
    low, high = value, value
    if summary is not None:
        count, total, squares = summary["Count"], summary["_Sum"], summary["_Squares"]
        low, high = min(summary["Min"], value), max(summary["Max"], value)
    count, total, squares = count + 1, total + value, squares + value * value
    mean = total / count
    variance = max(squares / count - mean * mean, 0.0)
    return {
        "MetricName": metric,
        "TimeStamp": when,
        "Max": high,
        "Min": low,
        "Last": value,
        "Count": count,
        "Avg": mean,
        "StdDev": variance**0.5 if count > 1 else 0.0,
        "_Sum": total,
        "_Squares": squares,
    }
