"""Prediction drift: a baseline's `prediction` column against the captured responses' values,
analysed as any feature is, with its violations named as the prediction's."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from capture_events import capture_event

from mlinfra.monitoring import MonitoringError
from mlinfra.monitoring.analysis import NO_PREDICTION, analyse, analyse_capture
from mlinfra.monitoring.baseline import suggest_baseline
from mlinfra.monitoring.capture import MALFORMED, read_prediction_values
from mlinfra.monitoring.job import main
from mlinfra.monitoring.processing import main as processing_main
from mlinfra.monitoring.report import load_result, render_html, summary

ROWS = 2000


def _baseline_data(seed: int = 0) -> pd.DataFrame:
    """Inputs and the model's output for them: a churn-like probability, mostly low."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, ROWS).astype(str),
            "charges": rng.uniform(20, 120, ROWS).round(2).astype(str),
            "prediction": rng.beta(2, 6, ROWS).round(6).astype(str),
        }
    )


def _capture(folder: Path, inputs: pd.DataFrame, outputs: list[str], batch: int = 20) -> Path:
    """Requests in CSV batches, each with its response: one prediction a line."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for start in range(0, len(inputs), batch):
        rows = inputs.iloc[start : start + batch]
        request = "\n".join(",".join(row) for row in rows.itertuples(index=False))
        response = "".join(f"{value}\n" for value in outputs[start : start + batch])
        lines.append(capture_event(request, output=response))
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _prediction(analysis) -> dict:
    return next(f for f in analysis.drift["features"] if f["name"] == "prediction")


@pytest.fixture(scope="module")
def baseline():
    return suggest_baseline(_baseline_data())


def test_predictions_like_the_baselines_do_not_drift(tmp_path: Path, baseline):
    served = _baseline_data(seed=1)
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], list(served.prediction))
    run = analyse_capture(baseline, folder)
    assert run.predictions is True and run.records == ROWS and run.malformed == 0
    assert run.analysis.violations == []
    prediction = _prediction(run.analysis)
    assert prediction["role"] == "prediction"
    assert prediction["drifted"] is False and prediction["psi"] < 0.05
    assert sum(prediction["current"]) == pytest.approx(1)
    assert run.analysis.drift["notes"] == []


def test_shifted_predictions_are_a_prediction_drift_violation(tmp_path: Path, baseline):
    served = _baseline_data(seed=2)
    # The same customers, but the model now scores them far higher: the inputs do not drift.
    higher = [f"{min(float(p) + 0.4, 1):.6f}" for p in served.prediction]
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], higher)
    analysis = analyse_capture(baseline, folder).analysis
    [violation] = analysis.violations
    assert violation["feature_name"] == "prediction"
    assert violation["constraint_check_type"] == "baseline_drift_check"
    assert violation["description"].startswith("Prediction drift: Population stability index")
    prediction = _prediction(analysis)
    assert prediction["drifted"] is True and prediction["psi"] > 1
    assert not any(f["drifted"] for f in analysis.drift["features"] if f["name"] != "prediction")


def test_the_same_threshold_applies_to_the_prediction_as_to_the_features(tmp_path: Path):
    loose = suggest_baseline(_baseline_data(), drift_psi=50)
    served = _baseline_data(seed=2)
    higher = [f"{min(float(p) + 0.4, 1):.6f}" for p in served.prediction]
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], higher)
    analysis = analyse_capture(loose, folder).analysis
    assert analysis.violations == []
    assert _prediction(analysis)["threshold"] == 50 and _prediction(analysis)["psi"] > 1


def test_without_a_prediction_column_the_run_says_so_once(tmp_path: Path, capsys):
    data = _baseline_data().drop(columns="prediction")
    (tmp_path / "data.csv").write_text(data.to_csv(index=False))
    assert (
        main(["baseline", "--dataset", str(tmp_path / "data.csv"), "--output", str(tmp_path / "b")])
        == 0
    )  # noqa: E501
    folder = _capture(tmp_path / "capture", data, ["0.5"] * ROWS)
    code = main(
        ["analyse", "--baseline", str(tmp_path / "b"), "--capture", str(folder),
         "--features-from-baseline", "--output", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert out.count(NO_PREDICTION) == 1
    drift = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert drift["notes"] == [NO_PREDICTION]
    assert [f["name"] for f in drift["features"]] == ["tenure", "charges"]
    assert load_result(tmp_path / "out").notes == (NO_PREDICTION,)


def test_the_requests_are_read_without_the_prediction_column(tmp_path: Path, baseline):
    served = _baseline_data(seed=1)
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], list(served.prediction))
    analysis = analyse_capture(baseline, folder).analysis
    # Had "prediction" been read from the requests, it would be missing from every one.
    assert not any(
        v["constraint_check_type"] == "missing_column_check" for v in analysis.violations
    )
    assert _prediction(analysis)["missing_percent"] == 0


def test_malformed_responses_are_skipped_and_counted(tmp_path: Path, baseline):
    served = _baseline_data(seed=1).iloc[:400]
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], list(served.prediction))
    bad = [
        capture_event("1,2", output="{not json", output_encoding="JSON"),
        capture_event("1,2", output='{"predictions": [{"score": 0.2}]}', output_encoding="JSON"),
        capture_event("1,2", output="%%%", output_encoding="BASE64"),
        capture_event("1,2", output=""),
        capture_event("1,2", output="[true, false]", output_encoding="JSON"),
    ]
    with (folder / "capture.jsonl").open("a") as handle:
        handle.write("\n".join(bad) + "\n")
    run = analyse_capture(baseline, folder)
    assert run.malformed == len(bad)
    assert run.records == 400 + len(bad)
    prediction = _prediction(run.analysis)
    assert prediction["missing_percent"] == 0  # the skipped responses are not in the analysis
    assert sum(prediction["current"]) == pytest.approx(1)


def test_responses_that_are_not_numbers_fail_the_predictions_type_check(tmp_path: Path, baseline):
    served = _baseline_data(seed=1).iloc[:400]
    outputs = [
        "churn" if index % 4 == 0 else value for index, value in enumerate(served.prediction)
    ]
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], outputs)
    analysis = analyse_capture(baseline, folder).analysis
    checks = {(v["feature_name"], v["constraint_check_type"]): v for v in analysis.violations}
    violation = checks[("prediction", "data_type_check")]
    assert violation["description"].startswith("Predictions: ")
    assert _prediction(analysis)["type_mismatches"] == 100


def test_no_readable_response_at_all_is_one_violation_saying_so(tmp_path: Path, baseline):
    served = _baseline_data(seed=1).iloc[:100]
    unreadable = '{"predictions": [{"score": 0.2}]}'  # no one value a row
    events = [
        capture_event(",".join(row), output=unreadable, output_encoding="JSON")
        for row in served[["tenure", "charges"]].itertuples(index=False)
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(events) + "\n")
    run = analyse_capture(baseline, tmp_path)
    assert run.malformed == 100 and run.records == 100
    [violation] = [v for v in run.analysis.violations if v["feature_name"] == "prediction"]
    assert violation["constraint_check_type"] == "missing_column_check"
    assert violation["description"].startswith("Predictions: No prediction could be read")
    assert _prediction(run.analysis)["psi"] is None


def test_no_requests_still_fail_the_run_whatever_the_responses(baseline):
    empty = pd.DataFrame({"tenure": [], "charges": []}, dtype=str)
    with pytest.raises(MonitoringError, match="no data to analyse"):
        analyse(baseline, empty, pd.Series(["0.1"], dtype=str))


def test_every_value_of_every_response_format_is_read(tmp_path: Path):
    encoded = base64.b64encode(b'{"predictions": [0.7, 0.8]}').decode()
    lines = [
        capture_event("x", output="0.1\n0.2\n"),  # a CSV batch: one a line
        capture_event("x", output="0.3,extra"),  # the first column
        capture_event("x", output='{"predictions": [0.4, [0.5]]}', output_encoding="JSON"),
        capture_event("x", output="0.6", output_encoding="JSON"),
        capture_event(
            "x", output=encoded, output_encoding="BASE64", output_type="application/json"
        ),  # noqa: E501
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    values = read_prediction_values(tmp_path)
    assert list(values) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"]
    assert values.attrs[MALFORMED] == 0


def test_the_report_shows_the_prediction_and_names_its_drift(tmp_path: Path, baseline):
    served = _baseline_data(seed=2)
    higher = [f"{min(float(p) + 0.4, 1):.6f}" for p in served.prediction]
    folder = _capture(tmp_path / "capture", served[["tenure", "charges"]], higher)
    analyse_capture(baseline, folder).analysis.write(tmp_path / "out")
    result = load_result(tmp_path / "out")
    [prediction] = [f for f in result.features if f.is_prediction]
    assert prediction.drifted and prediction.name == "prediction"
    assert "prediction drift" in summary(result)
    page = render_html(result, title="churn")
    assert "badge prediction" in page and "the captured predictions against the baseline" in page
    assert "Prediction drift: Population stability index" in page


# --- the SageMaker monitor job, against moto's S3 ----------------------------------------------

BUCKET = "churn-dev-monitoring"
CAPTURE_PREFIX = "capture/churn-dev-churn-api/churn-dev-churn-api/"


def _job_arguments(tmp_path: Path) -> list[str]:
    return [
        "--capture", f"s3://{BUCKET}/{CAPTURE_PREFIX}",
        "--baseline-dataset", f"s3://{BUCKET}/baseline/baseline.csv",
        "--baseline-results", f"s3://{BUCKET}/baseline-results/",
        "--reports", f"s3://{BUCKET}/reports/",
        "--until", "2026-01-01T12:20:00Z",
        "--period-hours", "24",
        "--monitor", "churn-dev-churn-drift",
        "--endpoint", "churn-dev-churn-api",
        "--metrics-file", str(tmp_path / "metrics.json"),
    ]  # fmt: skip


def _put_account(s3, tmp_path: Path, baseline_data: pd.DataFrame, outputs: list[str]) -> None:
    """The baseline data set and a day's capture (the requests in CSV batches) in moto's S3."""
    s3.create_bucket(Bucket=BUCKET)
    dataset = baseline_data.to_csv(index=False).encode()
    s3.put_object(Bucket=BUCKET, Key="baseline/baseline.csv", Body=dataset)
    served = _baseline_data(seed=3)
    local = _capture(tmp_path / "served", served[["tenure", "charges"]], outputs)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{CAPTURE_PREFIX}AllTraffic/2026/01/01/12/capture.jsonl",
        Body=(local / "capture.jsonl").read_bytes(),
    )


def _report(s3, name: str) -> dict:
    key = f"reports/20260101T120000Z/{name}"
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_the_sagemaker_job_reports_prediction_drift(tmp_path: Path, aws, capsys):
    served = _baseline_data(seed=3)
    higher = [f"{min(float(p) + 0.4, 1):.6f}" for p in served.prediction]
    _put_account(aws["s3"], tmp_path, _baseline_data(), higher)

    assert processing_main(_job_arguments(tmp_path)) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"{ROWS} records" in out and NO_PREDICTION not in out
    violations = _report(aws["s3"], "constraint_violations.json")["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("prediction", "baseline_drift_check")
    ]
    assert violations[0]["description"].startswith("Prediction drift: ")
    drift = _report(aws["s3"], "drift.json")
    [prediction] = [f for f in drift["features"] if f.get("role") == "prediction"]
    assert prediction["drifted"] is True
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    psi = [
        m["Value"]
        for m in metrics
        if m["MetricName"] == "psi"
        and {"Name": "Feature", "Value": "prediction"} in m["Dimensions"]
    ]
    assert psi == [prediction["psi"]]


def test_the_sagemaker_job_without_a_prediction_column_says_so_once(tmp_path: Path, aws, capsys):
    served = _baseline_data(seed=3)
    _put_account(
        aws["s3"], tmp_path, _baseline_data().drop(columns="prediction"), list(served.prediction)
    )

    assert processing_main(_job_arguments(tmp_path)) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.count(NO_PREDICTION) == 1
    assert _report(aws["s3"], "constraint_violations.json")["violations"] == []
    assert _report(aws["s3"], "drift.json")["notes"] == [NO_PREDICTION]
