"""Feast's side of featurestore_bench.py: runs in benchmarks/.peers-venv, never in the project's.

`python feast_online.py REPO PARQUET` writes a Feast repo in REPO (local provider, SQLite
online store), applies an entity and a feature view over PARQUET (what `feast apply` does),
materializes it into the online store, and prints one JSON line with the timings. Then it
answers commands on stdin, one JSON line each on stdout, so the caller can interleave Feast's
timings with its own:

- `time KEYS_FILE START COUNT`: calls `get_online_features` (with `.to_dict()`, the values a
  caller uses) for one entity at a time, keys START..START+COUNT of the JSON list in KEYS_FILE;
  answers the latency of each call in microseconds.
- `values KEY`: the features of one key, to check both stores hold the same data.
- `quit`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pyarrow.parquet as pq
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

VIEW = "customer_features"
CONFIG = """\
project: churn_bench
registry: data/registry.db
provider: local
online_store:
  type: sqlite
  path: data/online_store.db
entity_key_serialization_version: 3
"""


# Replies go to the real stdout; whatever Feast prints (materialize's progress) goes to stderr.
_REPLIES = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)


def main() -> None:
    repo, parquet = Path(sys.argv[1]), Path(sys.argv[2])
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "feature_store.yaml").write_text(CONFIG)
    schema = pq.read_schema(parquet)
    features = [n for n in schema.names if n not in ("customer_id", "event_timestamp")]
    fields = [
        Field(name=n, dtype=Float64 if str(schema.field(n).type) == "double" else Int64)
        for n in features
    ]
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
    view = FeatureView(
        name=VIEW,
        entities=[customer],
        ttl=timedelta(days=3650),
        schema=fields,
        online=True,
        source=FileSource(path=str(parquet), timestamp_field="event_timestamp"),
    )
    began = time.perf_counter()
    store = FeatureStore(repo_path=str(repo))
    store.apply([customer, view])
    applied = time.perf_counter()
    store.materialize(
        start_date=datetime(2000, 1, 1, tzinfo=UTC),
        end_date=datetime.now(UTC),
        feature_views=[VIEW],
    )
    materialized = time.perf_counter()
    refs = [f"{VIEW}:{n}" for n in features]
    versions = {p: metadata.version(p) for p in ("feast", "pandas", "pyarrow", "numpy")}
    reply(
        {
            "apply_s": applied - began,
            "materialize_s": materialized - applied,
            "features": features,
            "versions": versions,
        }
    )

    def values(key: str) -> dict:
        found = store.get_online_features(features=refs, entity_rows=[{"customer_id": key}])
        return found.to_dict()

    keys: list[str] = []
    keys_file = None
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "quit":
            return
        if command == "values":
            reply({n: v[0] for n, v in values(rest[0]).items()})
        elif command == "time":
            if rest[0] != keys_file:
                keys_file, keys = rest[0], json.loads(Path(rest[0]).read_text())
            start, count = int(rest[1]), int(rest[2])
            latencies = []
            clock = time.perf_counter
            for key in keys[start : start + count]:
                began = clock()
                values(key)
                latencies.append((clock() - began) * 1e6)
            reply({"latencies_us": latencies})


def reply(document: dict) -> None:
    _REPLIES.write(json.dumps(document, default=str) + "\n")
    _REPLIES.flush()


if __name__ == "__main__":
    main()
