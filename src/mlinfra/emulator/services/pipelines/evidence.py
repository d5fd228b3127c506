"""What a registered version records of the run that made it, and the version it repeats.

A RegisterModel step's request already carries what the definition knows (the evaluation
report, the hyperparameters, the execution: `ir/sagemaker/pipeline_definition/register.py`).
The run adds what only it knows, in the keys of `mlinfra.sagemaker.evidence`: the content
hash of each step's code and of each input the pipeline read from outside it (a feature
group's offline snapshot also its row count and event-time range), of the model artifact and
of the evaluation report (`ModelMetrics...ContentDigest`), and the git commit and repository
of the project. A version whose artifact and inputs are those of an earlier version of the
group is that version again: the runner registers nothing and names the one it matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlinfra import git
from mlinfra.sagemaker.evidence import (
    ARTIFACT,
    CODE,
    INPUT,
    MAX_ENTRIES,
    is_key,
    metadata_value,
    sha256_value,
)

CODE_CHANNEL = "code"  # a processing step's script arrives as this input


def run_evidence(
    lineage: Mapping[str, Mapping[str, Any]],
    produced: Iterable[str],
    artifact_sha256: str,
    declared: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Customer metadata of a version: code, external inputs and artifact, by content hash.

    `lineage` is the execution's record of each step (`runner.Execution.lineage`); inputs at
    a location in `produced` (another step's output in this run) are that step's, not data.
    `declared` is what the request already carries (the hyperparameters)."""
    made = set(produced)
    found: dict[str, str] = {}
    for step, record in lineage.items():
        for entry in (record.get("code") or {}).values():
            found[CODE + step] = sha256_value(entry["sha256"])
        for name, entry in (record.get("inputs") or {}).items():
            if name == CODE_CHANNEL:
                found[CODE + step] = sha256_value(entry["sha256"])
            elif not _under_any(entry["location"], made):
                found.update(_input(name, entry))
    found[ARTIFACT] = sha256_value(artifact_sha256)
    found.update(declared or {})
    kept = {k: v for k, v in found.items() if is_key(k) and metadata_value(v) is not None}
    # SageMaker holds 50 entries; the artifact and inputs, which identify a version, first.
    order = sorted(kept, key=lambda k: (not k.startswith((ARTIFACT, INPUT)), k))
    return {k: kept[k] for k in order[:MAX_ENTRIES]}


def _under_any(location: str, produced: set[str]) -> bool:
    return location in produced or any(location.startswith(p.rstrip("/") + "/") for p in produced)


def _input(name: str, entry: Mapping[str, Any]) -> dict[str, str]:
    found = {f"{INPUT}{name}:sha256": sha256_value(entry["sha256"])}
    snapshot = entry.get("snapshot") or {}
    for field in ("rows", "from", "to"):
        if snapshot.get(field) is not None:
            found[f"{INPUT}{name}:{field}"] = str(snapshot[field])
    return found


def identity(customer: Mapping[str, str]) -> dict[str, str]:
    """What makes two versions the same: their artifact and inputs."""
    return {k: v for k, v in customer.items() if k == ARTIFACT or k.startswith(INPUT)}


def matching_version(versions: Iterable[Mapping[str, Any]], customer: Mapping[str, str]) -> Any:
    """The earliest version whose artifact and inputs are `customer`'s, or None."""
    wanted = identity(customer)
    for version in versions:
        if identity(version.get("CustomerMetadataProperties") or {}) == wanted:
            return version
    return None


def git_metadata(folder: Path) -> dict[str, str]:
    """`MetadataProperties` of the project's git checkout (commit, repository), or none."""
    try:
        repository = git.Repository.around(folder)
        commit = repository.commit("HEAD")
        origin = repository.origin()
    except git.GitError:
        return {}  # not in git, or no commit yet: the version says nothing of it
    return {"CommitId": commit, "Repository": origin or str(repository.root)}
