"""Prepare step (processing): clean, de-duplicate and split customer records.

Reads every ``*.parquet`` and ``*.csv`` under the input directory (recursively:
a feature store's offline store is Parquet, partitioned by time, on SageMaker and
in the local emulator alike; files without the record columns are skipped),
keeps the latest record per ``customer_id`` by ``event_time``, drops the
id/event-time columns and writes seeded, stratified splits with the label
first, then the raw model features::

    <output>/train/train.csv  <output>/validation/validation.csv  <output>/test/test.csv
    columns: churned, tenure_months, monthly_charges, total_charges, contract, support_calls

No preprocessing happens here (no encoding, no normalising of values): the trained
model is a scikit-learn Pipeline that does all of it on the raw features, exactly
as the endpoint receives them, so training and serving share one definition.

Paths (SageMaker processing has no path variables, so they are fixed defaults):
``--input-dir`` or ``$MLINFRA_PROCESSING_INPUT`` (default ``/opt/ml/processing/input``),
``--output-dir`` or ``$MLINFRA_PROCESSING_OUTPUT`` (default ``/opt/ml/processing/output``).

    python prepare.py --input-dir ../data --output-dir /tmp/churn/prepared
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

LABEL = "churned"
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]


REQUIRED = ["customer_id", "event_time", *FEATURES, LABEL]


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)  # needs pyarrow, as the scikit-learn image has it
    return pd.read_csv(path)


def load(input_dir: Path) -> pd.DataFrame:
    """Every record file under input_dir; others (e.g. a baseline CSV) are skipped."""
    frames = []
    paths = sorted([*input_dir.rglob("*.parquet"), *input_dir.rglob("*.csv")])
    for path in paths:
        df = read(path)
        missing = [c for c in REQUIRED if c not in df]
        if missing:
            print(f"prepare: skipping {path}: no {', '.join(missing)}", file=sys.stderr)
        else:
            frames.append(df)
    if not frames:
        raise FileNotFoundError(
            f"no Parquet or CSV file with columns {', '.join(REQUIRED)} under {input_dir}"
        )
    return pd.concat(frames, ignore_index=True)


def clean(df: pd.DataFrame) -> pd.DataFrame:
    df = df.dropna(subset=["customer_id"])
    df = df.assign(_time=pd.to_datetime(df["event_time"], utc=True, errors="coerce"))
    df = df.sort_values(["customer_id", "_time"], kind="stable", na_position="first")
    df = df.drop_duplicates("customer_id", keep="last")
    if "is_deleted" in df:  # SageMaker offline store marks deleted records
        df = df[~df["is_deleted"].astype(str).str.lower().eq("true")]
    df = df.copy()
    for col in NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df[LABEL] = pd.to_numeric(df[LABEL], errors="coerce")
    df = df[df[LABEL].isin([0, 1])].astype({LABEL: int})
    return df[[LABEL, *FEATURES]].reset_index(drop=True)


def split(df: pd.DataFrame, seed: int) -> dict[str, pd.DataFrame]:
    train, rest = train_test_split(df, test_size=0.3, random_state=seed, stratify=df[LABEL])
    validation, test = train_test_split(
        rest, test_size=0.5, random_state=seed, stratify=rest[LABEL]
    )
    return {"train": train, "validation": validation, "test": test}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Clean, de-duplicate and split churn data.")
    parser.add_argument(
        "--input-dir",
        type=Path,
        default=Path(os.environ.get("MLINFRA_PROCESSING_INPUT", "/opt/ml/processing/input")),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(os.environ.get("MLINFRA_PROCESSING_OUTPUT", "/opt/ml/processing/output")),
    )
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args(argv)

    if not args.input_dir.is_dir():
        print(f"prepare: error: input directory not found: {args.input_dir}", file=sys.stderr)
        return 2
    try:
        data = clean(load(args.input_dir))
    except FileNotFoundError as exc:
        print(f"prepare: error: {exc}", file=sys.stderr)
        return 2
    if len(data) < 20 or data[LABEL].nunique() < 2:
        print(
            f"prepare: error: too little labelled data to split: {len(data)} rows", file=sys.stderr
        )
        return 2

    for name, part in split(data, args.seed).items():
        out = args.output_dir / name
        out.mkdir(parents=True, exist_ok=True)
        part.to_csv(out / f"{name}.csv", index=False)
        print(f"prepare: {name}: {len(part)} rows, churn rate {part[LABEL].mean():.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
