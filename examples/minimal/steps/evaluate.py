"""Processing step `evaluate`: score the trained model on the test split.

It runs after exactly one training step (`fit`) and names no inputs, so it gets two: `model/`,
holding the training step's `model.tar.gz`, and `test/`, the `test` subfolder of the output
of the processing step that training read (`split`). It writes `evaluation/evaluation.json`
in its output, where the gate's `evaluate.metrics.auc` reads `metrics.auc.value`.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

FEATURES = ["width", "height"]
LABEL = "large"


def main() -> None:
    inputs = Path(os.environ.get("MLINFRA_PROCESSING_INPUT", "/opt/ml/processing/input"))
    output = Path(os.environ.get("MLINFRA_PROCESSING_OUTPUT", "/opt/ml/processing/output"))
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(inputs / "model" / "model.tar.gz") as archive:
            if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.8-3.11 security releases
                archive.extractall(unpacked, filter="data")
            else:  # the scikit-learn image's older Python
                archive.extractall(unpacked)
        model = joblib.load(Path(unpacked) / "model.joblib")
    test = pd.concat(pd.read_csv(path) for path in sorted((inputs / "test").glob("*.csv")))
    scores = model.predict_proba(test[FEATURES])[:, 1]
    metrics = {
        "auc": roc_auc_score(test[LABEL], scores),
        "accuracy": accuracy_score(test[LABEL], scores >= 0.5),
    }
    report = {"metrics": {name: {"value": float(value)} for name, value in metrics.items()}}
    (output / "evaluation").mkdir(parents=True, exist_ok=True)
    (output / "evaluation" / "evaluation.json").write_text(json.dumps(report, indent=2))
    print("evaluate: " + ", ".join(f"{name}={value:.4f}" for name, value in metrics.items()))


if __name__ == "__main__":
    main()
