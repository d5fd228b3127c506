"""Training step `fit`, and the inference script of the model it trains.

Training (script mode): the channels `train` and `validation` are the folders
$SM_CHANNEL_TRAIN and $SM_CHANNEL_VALIDATION, because this step runs after exactly one
processing step (`split`) and names no inputs of its own. The hyperparameter `C` arrives as
the argument `--C 1.0` (and in $SM_HPS). The model goes to $SM_MODEL_DIR, which becomes the
step's `model.tar.gz`. The line `validation_accuracy=0.9500` it prints is the metric the
spec's gate reads as `fit.metrics.validation_accuracy`.

Serving: the registered model version names this script (SAGEMAKER_PROGRAM=train.py), and
the endpoint imports it for `model_fn`, `input_fn`, `predict_fn` and `output_fn`. Importing
must not train, so training sits under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["width", "height"]
LABEL = "large"


def read_channel(folder: str) -> pd.DataFrame:
    return pd.concat(pd.read_csv(path) for path in sorted(Path(folder).glob("*.csv")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, default=1.0)
    args, _ = parser.parse_known_args()  # SageMaker may pass more arguments than these
    train = read_channel(os.environ["SM_CHANNEL_TRAIN"])
    validation = read_channel(os.environ["SM_CHANNEL_VALIDATION"])
    model = LogisticRegression(C=args.C).fit(train[FEATURES], train[LABEL])
    accuracy = model.score(validation[FEATURES], validation[LABEL])
    print(f"validation_accuracy={accuracy:.4f}")

    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    # Under network isolation the serving container loads this script from the model itself.
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy2(__file__, model_dir / "code" / Path(__file__).name)


# --- serving hooks: the endpoint calls these, in this order ---------------------------------


def model_fn(model_dir: str):
    """The model, from the unpacked model.tar.gz."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body: str, content_type: str) -> pd.DataFrame:
    """A request body as rows of width and height: CSV lines, or {"instances": [[w, h], ...]}."""
    if content_type.startswith("text/csv"):
        return pd.read_csv(io.StringIO(body), header=None, names=FEATURES)
    if content_type.startswith("application/json"):
        return pd.DataFrame(json.loads(body)["instances"], columns=FEATURES)
    raise ValueError(f"send text/csv or application/json, not {content_type}")


def predict_fn(rows: pd.DataFrame, model) -> list[float]:
    """The probability that each parcel is large."""
    return [float(p) for p in model.predict_proba(rows[FEATURES])[:, 1]]


def output_fn(prediction: list[float], accept: str):
    """The probabilities as JSON, or one CSV line each; returned with their content type."""
    if accept.startswith("text/csv"):
        return "".join(f"{p:.4f}\n" for p in prediction), "text/csv"
    return json.dumps({"predictions": prediction}), "application/json"


if __name__ == "__main__":
    main()
