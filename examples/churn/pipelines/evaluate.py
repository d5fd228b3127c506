"""Evaluate step (processing): score the trained model on the test split.

Inputs, under ``--input-dir`` or ``$MLINFRA_PROCESSING_INPUT`` (default
``/opt/ml/processing/input``):

* ``model/``: ``model.joblib`` as train.py saves it, or the ``model.tar.gz``
  a SageMaker training job produces (extracted here);
* ``test/``: CSVs from prepare.py (label ``churned`` plus the raw features).

Output, under ``--output-dir`` or ``$MLINFRA_PROCESSING_OUTPUT`` (default
``/opt/ml/processing/output``): ``evaluation/evaluation.json`` in the SageMaker
property-file style::

    {"metrics": {"accuracy": {"value": 0.86}, "auc": {"value": 0.91},
                 "precision": {"value": ...}, "recall": {"value": ...}, "f1": {"value": ...}}}

A pipeline condition such as ``evaluate.metrics.accuracy >= parameters.min_accuracy``
reads ``metrics.accuracy.value`` from this file (JsonPath ``metrics.accuracy.value``).

    python evaluate.py --input-dir /tmp/churn/eval-input --output-dir /tmp/churn/eval
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

LABEL = "churned"


def load_model(model_dir: Path, scratch: Path):
    if not (model_dir / "model.joblib").is_file():
        archive = model_dir / "model.tar.gz"
        if not archive.is_file():
            raise FileNotFoundError(f"no model.joblib or model.tar.gz in {model_dir}")
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.12+, and 3.8-3.11 security releases
                tar.extractall(scratch, filter="data")
            else:
                tar.extractall(scratch)
        model_dir = scratch
        if not (model_dir / "model.joblib").is_file():
            raise FileNotFoundError(f"no model.joblib inside {archive}")
    return joblib.load(model_dir / "model.joblib")


def read_test(test_dir: Path) -> pd.DataFrame:
    files = sorted(test_dir.rglob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no *.csv files in {test_dir}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def evaluate(model, test: pd.DataFrame) -> dict:
    y = test[LABEL]
    proba = model.predict_proba(test[list(model.feature_names_in_)])[:, 1]
    pred = (proba >= 0.5).astype(int)
    metrics = {
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "f1": f1_score(y, pred, zero_division=0),
    }
    if y.nunique() > 1:
        metrics["auc"] = roc_auc_score(y, proba)
    return {"metrics": {name: {"value": float(v)} for name, v in metrics.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the churn model on the test split.")
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
    args, _ = parser.parse_known_args(argv)

    model_dir, test_dir = args.input_dir / "model", args.input_dir / "test"
    for name, path in (("model", model_dir), ("test", test_dir)):
        if not path.is_dir():
            print(f"evaluate: error: {name} input directory not found: {path}", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory() as scratch:
        try:
            model = load_model(model_dir, Path(scratch))
            test = read_test(test_dir)
        except FileNotFoundError as exc:
            print(f"evaluate: error: {exc}", file=sys.stderr)
            return 2
    report = evaluate(model, test)

    out = args.output_dir / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    summary = ", ".join(f"{k}={v['value']:.4f}" for k, v in report["metrics"].items())
    print(f"evaluate: {len(test)} rows: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
