"""The rows of a feature group's offline store that a batch transform scores: the latest of
each record, as CSV.

An offline store keeps every row ever written (each update, each deletion), with SageMaker's
`write_time`, `api_invocation_time` and `is_deleted` beside the features. Scoring "the
customers" means scoring each record once, as it stands: the row with the latest event time
(the latest written among equal ones), unless that row deletes the record. The rows are
written in the group's feature order without a header (a transform job would score a header
line as a record), ordered by record identifier, so that two exports of the same rows are the
same file; a missing value is an empty field.

The emulator calls `export_latest_rows` on its offline table. On SageMaker this file runs
as it is, as a Processing job in the scikit-learn image (pandas, and pyarrow for Parquet):
it reads every Parquet file under its input folder and writes `<output>/rows/<group>.csv`.
So it imports nothing of mlinfra.

    MLINFRA_EXPORT_GROUP=customers MLINFRA_EXPORT_FEATURES=customer_id,event_time,... \\
    MLINFRA_EXPORT_RECORD_ID=customer_id MLINFRA_EXPORT_EVENT_TIME=event_time \\
    MLINFRA_PROCESSING_INPUT=in MLINFRA_PROCESSING_OUTPUT=out python3 offline_rows.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

WRITE_TIME = "write_time"
IS_DELETED = "is_deleted"
ROWS_FOLDER = "rows"  # the export's output: <output>/rows/<group>.csv


def latest_rows(frame: Any, record_id: str, event_time: str) -> Any:
    """The latest row of each record of offline rows `frame` (a pandas DataFrame) that is
    not a deletion, ordered by record identifier."""
    if not len(frame):
        return frame
    keys = [event_time, WRITE_TIME] if WRITE_TIME in frame.columns else [event_time]
    frame = frame.sort_values(keys, kind="stable").drop_duplicates(record_id, keep="last")
    if IS_DELETED in frame.columns:
        frame = frame[~frame[IS_DELETED].fillna(False).astype(bool)]
    return frame.sort_values(record_id, kind="stable")


def write_rows(frame: Any, features: list[str], target: Path) -> None:
    """`frame`'s `features` as CSV without a header, written aside and then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    frame.to_csv(partial, columns=features, header=False, index=False)
    partial.replace(target)


def export_latest_rows(
    table: Any, features: list[str], record_id: str, event_time: str, target: Path
) -> dict[str, Any]:
    """Write the latest row of each record of offline `table` (a pyarrow Table) to CSV file
    `target`; what was exported: `{"rows": records written, "read": offline rows read}`."""
    frame = table.to_pandas()
    latest = latest_rows(frame, record_id, event_time)
    write_rows(latest, features, target)
    return {"rows": len(latest), "read": len(frame)}


def main() -> int:
    """The Processing job: every Parquet file under the input folder, exported."""
    import pandas as pd  # the job's image has it; importing this module must not need it

    group = os.environ["MLINFRA_EXPORT_GROUP"]
    features = os.environ["MLINFRA_EXPORT_FEATURES"].split(",")
    record_id = os.environ["MLINFRA_EXPORT_RECORD_ID"]
    event_time = os.environ["MLINFRA_EXPORT_EVENT_TIME"]
    source = Path(os.environ["MLINFRA_PROCESSING_INPUT"])
    target = Path(os.environ["MLINFRA_PROCESSING_OUTPUT"]) / ROWS_FOLDER / f"{group}.csv"
    files = sorted(source.rglob("*.parquet"))
    frames = [pd.read_parquet(path) for path in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=features)
    latest = latest_rows(frame, record_id, event_time)
    write_rows(latest, features, target)
    print(f"exported {len(latest)} records (the latest row of each, of {len(frame)} rows in "
          f"{len(files)} Parquet files) of feature group {group} to {target}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
