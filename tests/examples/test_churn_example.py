"""The churn example: data generator and the prepare -> train -> evaluate scripts."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]
COLUMNS = ["customer_id", "event_time", *FEATURES, "churned"]


def _load(relpath: str):
    path = CHURN / relpath
    spec = importlib.util.spec_from_file_location(f"churn_example_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load("generate_data.py")
prepare = _load("pipelines/prepare.py")
train = _load("pipelines/train.py")
evaluate = _load("pipelines/evaluate.py")


# --- generator ------------------------------------------------------------------------


def test_generator_is_deterministic():
    pd.testing.assert_frame_equal(gen.generate(300, 7), gen.generate(300, 7))
    assert not gen.generate(300, 7).equals(gen.generate(300, 8))


def test_generator_cli_writes_byte_identical_files(tmp_path):
    for out in ("a", "b"):
        args = ["--customers", "200", "--baseline-rows", "50", "--seed", "3"]
        assert gen.main([*args, "--out", str(tmp_path / out)]) == 0
    for name in ("customers.csv", "baseline.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    baseline = pd.read_csv(tmp_path / "a" / "baseline.csv")
    assert list(baseline.columns) == FEATURES and len(baseline) == 50


def test_generator_columns_and_churn_signal():
    df = gen.generate(3000, 7)
    assert list(df.columns) == COLUMNS
    assert df["customer_id"].nunique() == 3000
    assert pd.to_datetime(df["event_time"], utc=True).notna().all()
    assert set(df["contract"]) == {"month-to-month", "one-year", "two-year"}
    assert set(df["churned"]) == {0, 1}

    latest = df.sort_values("event_time").drop_duplicates("customer_id", keep="last")
    assert 0.18 <= latest["churned"].mean() <= 0.32
    by_contract = latest.groupby("contract")["churned"].mean()
    assert by_contract["month-to-month"] > by_contract["one-year"] > by_contract["two-year"]
    churners, stayers = latest[latest["churned"] == 1], latest[latest["churned"] == 0]
    assert churners["tenure_months"].mean() < stayers["tenure_months"].mean()
    assert churners["support_calls"].mean() > stayers["support_calls"].mean()
    ratio = latest["total_charges"] / (latest["tenure_months"] * latest["monthly_charges"])
    assert 0.9 < ratio.median() < 1.1


def test_committed_data_matches_the_generator():
    customers = pd.read_csv(CHURN / "data" / "customers.csv")
    baseline = pd.read_csv(CHURN / "data" / "baseline.csv")
    assert list(customers.columns) == COLUMNS and customers["customer_id"].nunique() == 5000
    assert list(baseline.columns) == [*FEATURES, "prediction"] and len(baseline) == 1000


def test_the_baselines_predictions_are_the_example_models(tmp_path):
    """score_baseline.py, run again on the committed data, writes the committed file."""
    for name in ("customers.csv", "baseline.csv"):
        (tmp_path / name).write_bytes((CHURN / "data" / name).read_bytes())
    assert _load("score_baseline.py").main(["--data", str(tmp_path)]) == 0
    committed = (CHURN / "data" / "baseline.csv").read_bytes()
    assert (tmp_path / "baseline.csv").read_bytes() == committed
    predictions = pd.read_csv(tmp_path / "baseline.csv")["prediction"]
    assert predictions.between(0, 1).all() and predictions.nunique() > 100


# --- pipeline scripts -------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """prepare -> train -> evaluate on 800 customers, wired through the env conventions."""
    root = tmp_path_factory.mktemp("churn")
    customers = gen.generate(800, 11)
    # A partitioned offline store: two files in nested folders, history rows across both.
    for i, part in enumerate((customers.iloc[::2], customers.iloc[1::2])):
        folder = root / "input" / "customers" / f"part={i}"
        folder.mkdir(parents=True)
        part.to_csv(folder / "data.csv", index=False)
    gen.generate_baseline(50, 11).to_csv(root / "input" / "baseline.csv", index=False)  # skipped

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLINFRA_PROCESSING_INPUT", str(root / "input"))
        mp.setenv("MLINFRA_PROCESSING_OUTPUT", str(root / "prepared"))
        assert prepare.main([]) == 0

        mp.setenv("SM_CHANNEL_TRAIN", str(root / "prepared" / "train"))
        mp.setenv("SM_CHANNEL_VALIDATION", str(root / "prepared" / "validation"))
        mp.setenv("SM_MODEL_DIR", str(root / "model"))
        mp.setenv("SM_OUTPUT_DATA_DIR", str(root / "output"))
        mp.setenv("SM_HPS", json.dumps({"n_estimators": 100, "max_depth": 4}))
        assert train.main(["--n_estimators", "200", "--max_depth", "8"]) == 0

        (root / "eval-input").mkdir()
        (root / "eval-input" / "model").symlink_to(root / "model")
        (root / "eval-input" / "test").symlink_to(root / "prepared" / "test")
        mp.setenv("MLINFRA_PROCESSING_INPUT", str(root / "eval-input"))
        mp.setenv("MLINFRA_PROCESSING_OUTPUT", str(root / "eval"))
        assert evaluate.main([]) == 0
    return root


def test_prepare_dedupes_and_splits(run):
    parts = {
        n: pd.read_csv(run / "prepared" / n / f"{n}.csv") for n in ("train", "validation", "test")
    }
    for df in parts.values():
        assert list(df.columns) == ["churned", *FEATURES]
    assert sum(len(df) for df in parts.values()) == 800  # one row per customer
    assert len(parts["train"]) == 560


def test_prepare_keeps_the_latest_record_per_customer():
    rows = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C1"],
            "event_time": ["2025-06-01T00:00:00Z", "2025-06-01T00:00:00Z", "2025-01-01T00:00:00Z"],
            "tenure_months": [12, 3, 7],
            "monthly_charges": [50.0, 90.0, 50.0],
            "total_charges": [600.0, 270.0, 350.0],
            "contract": [" One-Year", "month-to-month", "one-year"],
            "support_calls": [1, 4, 0],
            "churned": [1, 0, 0],
        }
    )
    clean = prepare.clean(rows)
    assert list(clean.columns) == ["churned", *FEATURES]
    assert clean.to_dict("records")[0] == {
        "churned": 1,
        "tenure_months": 12,
        "monthly_charges": 50.0,
        "total_charges": 600.0,
        "contract": " One-Year",  # as recorded: the model normalises it, in training and serving
        "support_calls": 1,
    }
    assert len(clean) == 2


def test_train_writes_model_features_and_metrics(run):
    assert (run / "model" / "model.joblib").is_file()
    assert json.loads((run / "model" / "features.json").read_text()) == FEATURES
    metrics = json.loads((run / "output" / "metrics.json").read_text())
    assert metrics["hyperparameters"] == {"n_estimators": 200, "max_depth": 8}  # argv wins
    assert {"train", "validation"} <= metrics.keys()


def test_evaluation_beats_the_majority_class(run):
    report = json.loads((run / "eval" / "evaluation" / "evaluation.json").read_text())
    metrics = {name: v["value"] for name, v in report["metrics"].items()}
    assert set(metrics) == {"accuracy", "auc", "precision", "recall", "f1"}
    test = pd.read_csv(run / "prepared" / "test" / "test.csv")
    majority = max(test["churned"].mean(), 1 - test["churned"].mean())
    assert metrics["accuracy"] >= 0.75
    assert metrics["accuracy"] >= majority + 0.05
    assert metrics["auc"] >= 0.8


def test_evaluate_extracts_model_tar_gz(run, tmp_path):
    (tmp_path / "in" / "model").mkdir(parents=True)
    with tarfile.open(tmp_path / "in" / "model" / "model.tar.gz", "w:gz") as tar:
        for name in ("model.joblib", "features.json"):
            tar.add(run / "model" / name, arcname=name)
    (tmp_path / "in" / "test").symlink_to(run / "prepared" / "test")
    assert evaluate.main(["--input-dir", str(tmp_path / "in"), "--output-dir", str(tmp_path)]) == 0
    from_tar = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    direct = json.loads((run / "eval" / "evaluation" / "evaluation.json").read_text())
    assert from_tar == direct


def test_serving_hooks_score_baseline_rows(run):
    model = train.model_fn(str(run / "model"))
    baseline = pd.read_csv(CHURN / "data" / "baseline.csv")[FEATURES].head(20)
    with_header = baseline.to_csv(index=False)
    without_header = baseline.to_csv(index=False, header=False).encode()
    for body in (with_header, without_header):
        data = train.input_fn(body, "text/csv")
        proba = train.predict_fn(data, model)
        assert len(proba) == 20 and ((proba >= 0) & (proba <= 1)).all()
        text, content_type = train.output_fn(proba, "text/csv")
        assert content_type == "text/csv" and len(text.splitlines()) == 20

    records = json.dumps({"instances": baseline.to_dict(orient="records")})
    proba_json = train.predict_fn(train.input_fn(records, "application/json"), model)
    assert proba_json == pytest.approx(proba)
    body, content_type = train.output_fn(proba_json, "application/json")
    assert content_type == "application/json" and len(json.loads(body)["predictions"]) == 20
    # Month-to-month, new, expensive, many calls: riskier than a long two-year customer.
    rows = "2,105.0,210.0,Month-to-Month,5\n60,25.0,1500.0,two-year,0\n"
    risky, safe = train.predict_fn(train.input_fn(rows, "text/csv"), model)
    assert risky > 0.5 > safe
    with pytest.raises(ValueError):
        train.input_fn(b"x", "application/x-npy")


@pytest.mark.parametrize(
    "script, args",
    [
        ("pipelines/prepare.py", ["--input-dir", "{missing}", "--output-dir", "{tmp}"]),
        ("pipelines/train.py", ["--train", "{missing}", "--model-dir", "{tmp}"]),
        ("pipelines/evaluate.py", ["--input-dir", "{missing}", "--output-dir", "{tmp}"]),
    ],
)
def test_missing_input_exits_2_without_traceback(tmp_path, script, args):
    missing = tmp_path / "does-not-exist"
    argv = [a.format(missing=missing, tmp=tmp_path / "out") for a in args]
    proc = subprocess.run(
        [sys.executable, str(CHURN / script), *argv], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_model_itself_normalises_what_serving_and_training_send(run):
    # One preprocessing definition: the pickled Pipeline trims and lower-cases categories,
    # so raw values give the same probability however they are written or sent.
    model = train.model_fn(str(run / "model"))
    row = {"tenure_months": 3, "monthly_charges": 99.0, "total_charges": 300.0,
           "support_calls": 4}  # fmt: skip
    frame = pd.DataFrame(
        [{**row, "contract": c} for c in ("month-to-month", " Month-To-Month ", "MONTH-TO-MONTH")]
    )
    proba = model.predict_proba(frame[train.FEATURES])[:, 1]
    assert proba[0] == pytest.approx(proba[1]) == pytest.approx(proba[2])
    missing = json.dumps({"instances": [{**row, "contract": None}]})
    decoded = train.input_fn(missing, "application/json")
    assert decoded["contract"].isna().all()
    assert 0 <= train.predict_fn(decoded, model)[0] <= 1


# --- the traffic make run sends ---------------------------------------------------------------


def test_drifted_traffic_always_trips_the_monitor_and_ordinary_traffic_never_does():
    # What `make run` shows depends on it: the endpoint captures 20 % of requests at random,
    # so every sample must tell the same story.
    from mlinfra.monitoring.analysis import analyse
    from mlinfra.monitoring.baseline import read_dataset, suggest_baseline

    traffic = _load("send_traffic.py")
    scoring = _load("score_baseline.py")
    model = scoring.train_model(pd.read_csv(CHURN / "data" / "customers.csv"))
    baseline = suggest_baseline(read_dataset(CHURN / "data" / "baseline.csv"))
    as_sent = {
        drift: pd.DataFrame(traffic.customers(2000, 11, drift)).astype(str).replace("None", None)
        for drift in (False, True)
    }
    for sample in range(5):
        sent = as_sent[False].sample(frac=0.2, random_state=sample)
        normal = analyse(baseline, sent, scoring.score(model, sent.fillna("")))
        assert normal.violations == []
        sent = as_sent[True].sample(frac=0.2, random_state=sample)
        drifted = analyse(baseline, sent, scoring.score(model, sent.fillna("")))
        found = {(v["feature_name"], v["constraint_check_type"]) for v in drifted.violations}
        assert found == {
            ("monthly_charges", "baseline_drift_check"),
            ("contract", "baseline_drift_check"),
            ("support_calls", "baseline_drift_check"),
            ("support_calls", "completeness_check"),
            ("prediction", "baseline_drift_check"),  # the model answers them as riskier
        }
