"""Add the model's output to the drift monitor's baseline: a `prediction` column.

`churn-drift` (a data_quality monitor) compares the endpoint's captured predictions with its
baseline's `prediction` column (prediction drift), as it compares each input with its column.
This script fills that column honestly: it prepares ``customers.csv`` as the pipeline's prepare
step does (pipelines/prepare.py: latest snapshot per customer, the seeded split), trains the
example's model on the training part with the spec's hyperparameters (pipelines/train.py's
``build_model``; ``train-churn``'s ``n_estimators: 200``, ``max_depth: 8``), and scores each
baseline row through the serving hooks, writing what the endpoint would answer (its CSV
output, six decimals). The baseline's input columns are kept as they are.

Usage::

    python score_baseline.py [--data DIR]

Run it after ``generate_data.py``; the same data gives the same column.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "pipelines"))  # the pipeline's own scripts, as they run

import prepare  # noqa: E402
import train  # noqa: E402

PREDICTION = "prediction"
# train-churn's hyperparameters in mlinfra.yaml, and prepare's default seed.
N_ESTIMATORS = 200
MAX_DEPTH = 8
SEED = 42


def train_model(customers: pd.DataFrame):
    """The example's model, trained as `train-churn` trains it on these customers."""
    training = prepare.split(prepare.clean(customers), SEED)["train"]
    model = train.build_model(N_ESTIMATORS, MAX_DEPTH)
    return model.fit(training[train.FEATURES], training[train.LABEL])


def score(model, rows: pd.DataFrame) -> pd.Series:
    """The served model's answer for each row, as the endpoint's CSV output has it."""
    inputs = rows[train.FEATURES].to_csv(index=False, header=False)
    proba = train.predict_fn(train.input_fn(inputs, "text/csv"), model)
    text, _ = train.output_fn(proba, "text/csv")
    return pd.read_csv(io.StringIO(text), header=None, dtype=str)[0].rename(PREDICTION)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Add the model's predictions to baseline.csv.")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args(argv)
    path = args.data / "baseline.csv"
    baseline = pd.read_csv(path, dtype=str, keep_default_na=False)
    inputs = baseline.drop(columns=[PREDICTION], errors="ignore")
    customers = pd.read_csv(args.data / "customers.csv")
    scored = inputs.assign(**{PREDICTION: score(train_model(customers), inputs).to_numpy()})
    scored.to_csv(path, index=False, lineterminator="\n")
    print(f"score_baseline: {len(scored)} rows of {path} scored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
