"""Train step (SageMaker script mode): fit the churn model, and serve it.

Training reads the CSVs of the ``train`` channel (and of ``validation`` if
given), as written by prepare.py: label ``churned`` plus the raw features. The
model is a scikit-learn Pipeline that takes raw rows, in this order::

    tenure_months, monthly_charges, total_charges, contract, support_calls

(``contract`` trimmed, lower-cased and one-hot encoded with unknown categories
ignored, median-imputed numerics, then a RandomForestClassifier). All the
preprocessing is in that Pipeline, so training, evaluation and serving run the one
definition: there is no training/serving skew to keep in step by hand. The serving
hooks below only decode requests into those raw columns. It is saved as ``model.joblib``, with the
feature order in ``features.json`` (a JSON list), in ``$SM_MODEL_DIR``, with a
copy of this script in ``code/`` (under network isolation the serving container
cannot fetch code, so it loads these hooks from the model); metrics go to
``$SM_OUTPUT_DATA_DIR/metrics.json``.

Hyperparameters come from ``$SM_HPS`` (JSON) and from command-line arguments,
which win (SageMaker passes both): ``--n_estimators`` (200), ``--max_depth`` (8).

Paths (SageMaker defaults): ``--train``/``$SM_CHANNEL_TRAIN`` (/opt/ml/input/data/train),
``--validation``/``$SM_CHANNEL_VALIDATION`` (optional), ``--model-dir``/``$SM_MODEL_DIR``
(/opt/ml/model), ``--output-data-dir``/``$SM_OUTPUT_DATA_DIR`` (/opt/ml/output/data).

    SM_CHANNEL_TRAIN=/tmp/churn/prepared/train SM_MODEL_DIR=/tmp/churn/model \\
    SM_OUTPUT_DATA_DIR=/tmp/churn/output python train.py --n_estimators 200 --max_depth 8

Serving: the SageMaker scikit-learn container imports this module and calls
``model_fn``, ``input_fn``, ``predict_fn`` and ``output_fn``. Requests are
``text/csv`` rows of the features above (a header row is optional) or JSON
(``{"instances": [...]}``, a list of rows or records, or one record); the
response is the churn probability per row, as CSV lines or ``{"predictions": [...]}``.

Kept compatible with the spec's framework_version 1.2-1 container (scikit-learn
1.2, pandas 1.1, Python 3.8).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

LABEL = "churned"
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]
CATEGORICAL = ["contract"]
NUMERIC = [f for f in FEATURES if f not in CATEGORICAL]
DEFAULTS = {"n_estimators": 200, "max_depth": 8}


def read_channel(path: Path) -> pd.DataFrame:
    files = sorted(path.rglob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no *.csv files in {path}")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def categorical() -> Pipeline:
    """Text categories as the model sees them: trimmed, lower-cased, one-hot.

    Built from numpy's functions only, so the pickled model loads anywhere without this
    module (a function defined here would pickle as `__main__.<name>` under training).
    """
    return Pipeline(
        [
            ("missing", SimpleImputer(strategy="constant", fill_value="")),
            ("text", FunctionTransformer(np.asarray, kw_args={"dtype": "U"})),
            ("strip", FunctionTransformer(np.char.strip)),
            ("lower", FunctionTransformer(np.char.lower)),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )


def build_model(n_estimators: int, max_depth: int | None) -> Pipeline:
    features = ColumnTransformer(
        [
            ("contract", categorical(), CATEGORICAL),
            ("numeric", SimpleImputer(strategy="median"), NUMERIC),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, random_state=42, n_jobs=-1
    )
    return Pipeline([("features", features), ("model", forest)])


def score(model: Pipeline, df: pd.DataFrame) -> dict[str, float]:
    proba = model.predict_proba(df[FEATURES])[:, 1]
    metrics = {"accuracy": float(accuracy_score(df[LABEL], proba >= 0.5))}
    if df[LABEL].nunique() > 1:
        metrics["auc"] = float(roc_auc_score(df[LABEL], proba))
    return metrics


def _depth(value: object) -> int | None:
    text = str(value).strip().lower()
    return None if text in ("", "none", "null", "0") else int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    hps = {**DEFAULTS, **json.loads(os.environ.get("SM_HPS") or "{}")}
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Train the churn model.")
    parser.add_argument("--n_estimators", "--n-estimators", type=int, default=hps["n_estimators"])
    parser.add_argument("--max_depth", "--max-depth", type=_depth, default=hps["max_depth"])
    parser.add_argument("--train", default=env("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--validation", default=env("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--model-dir", default=env("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument(
        "--output-data-dir", default=env("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")
    )
    args, _ = parser.parse_known_args(argv)  # tolerate extra SageMaker arguments
    args.n_estimators = int(args.n_estimators)
    args.max_depth = _depth(args.max_depth)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    channels = {"train": args.train, "validation": args.validation}
    data = {}
    for name, path in channels.items():
        if path is None:
            continue
        if not Path(path).is_dir():
            print(f"train: error: {name} channel directory not found: {path}", file=sys.stderr)
            return 2
        try:
            data[name] = read_channel(Path(path))
        except FileNotFoundError as exc:
            print(f"train: error: {exc}", file=sys.stderr)
            return 2

    model = build_model(args.n_estimators, args.max_depth)
    model.fit(data["train"][FEATURES], data["train"][LABEL])

    model_dir, output_dir = Path(args.model_dir), Path(args.output_data_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    (model_dir / "features.json").write_text(json.dumps(FEATURES) + "\n")
    (model_dir / "code").mkdir(exist_ok=True)
    shutil.copy2(__file__, model_dir / "code" / Path(__file__).name)

    metrics = {name: score(model, df) for name, df in data.items()}
    hyperparameters = {"n_estimators": args.n_estimators, "max_depth": args.max_depth}
    report = {"hyperparameters": hyperparameters, "features": FEATURES, **metrics}
    (output_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    for name, values in metrics.items():  # one line per metric, for metric_definitions
        for key, value in values.items():
            print(f"{name}:{key}={value:.4f}")
    return 0


# --- SageMaker scikit-learn serving hooks -----------------------------------------------


def model_fn(model_dir: str) -> Pipeline:
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body: str | bytes, request_content_type: str) -> pd.DataFrame:
    if isinstance(request_body, bytes):
        request_body = request_body.decode("utf-8")
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    if content_type == "text/csv":
        rows = pd.read_csv(io.StringIO(request_body), header=None, dtype=str)
        if [str(v).strip() for v in rows.iloc[0]] == FEATURES:
            rows = rows.iloc[1:]
        if rows.shape[1] != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} CSV columns: {', '.join(FEATURES)}")
        rows.columns = FEATURES
    elif content_type == "application/json":
        payload = json.loads(request_body)
        if isinstance(payload, dict):
            payload = payload.get("instances", [payload])
        if payload and isinstance(payload[0], dict):
            rows = pd.DataFrame(payload).reindex(columns=FEATURES)
        else:
            rows = pd.DataFrame(payload, columns=FEATURES)
    else:
        raise ValueError(f"unsupported content type: {request_content_type}")
    rows = rows.reset_index(drop=True)
    for col in NUMERIC:
        rows[col] = pd.to_numeric(rows[col], errors="coerce")
    for col in CATEGORICAL:  # JSON null and an empty CSV field alike: missing
        rows[col] = rows[col].astype(object).where(rows[col].notna(), np.nan)
    return rows


def predict_fn(input_data: pd.DataFrame, model: Pipeline):
    return model.predict_proba(input_data[FEATURES])[:, 1]


def output_fn(prediction, accept: str | None):
    if "json" in (accept or ""):
        return json.dumps({"predictions": [float(p) for p in prediction]}), "application/json"
    return "".join(f"{float(p):.6f}\n" for p in prediction), "text/csv"


if __name__ == "__main__":
    sys.exit(main())
