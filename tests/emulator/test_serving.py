"""Model serving: endpoints backed by worker processes, as the local emulator runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from crashy_model import CrashyModel
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator.serving import Capture, EndpointPool, ServingError, Variant

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
CHURN_FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A numpy classifier dir, a DataFrame classifier as model.tar.gz, and crashy models."""
    root = tmp_path_factory.mktemp("models")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)

    (root / "toy").mkdir()
    joblib.dump(LogisticRegression().fit(x, y), root / "toy" / "model.joblib")

    staged = root / "staged"
    staged.mkdir()
    frame = pd.DataFrame(x, columns=["a", "b"])
    joblib.dump(LogisticRegression().fit(frame, y), staged / "model.joblib")
    (staged / "features.json").write_text(json.dumps(["a", "b"]))
    with tarfile.open(root / "model.tar.gz", "w:gz") as tar:
        for name in ("model.joblib", "features.json"):
            tar.add(staged / name, arcname=name)

    for name, factor in (("crashy", 2.0), ("crashy3", 3.0)):
        (root / name).mkdir()
        joblib.dump(CrashyModel(factor), root / name / "model.joblib")
    return {
        "toy": root / "toy",
        "tar": root / "model.tar.gz",
        "crashy": root / "crashy" / "model.joblib",
        "crashy3": root / "crashy3",
    }


@pytest.fixture(scope="module")
def churn_model(tmp_path_factory) -> Path:
    """The churn example's model, trained by its own train.py as SageMaker would run it."""
    root = tmp_path_factory.mktemp("churn")
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(CHURN / "data"),  # customers.csv and baseline.csv...
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output"),
    }
    # ...so train on a channel holding customers.csv alone.
    (root / "train").mkdir()
    (root / "train" / "customers.csv").symlink_to(CHURN / "data" / "customers.csv")
    env["SM_CHANNEL_TRAIN"] = str(root / "train")
    args = ["--n_estimators", "30", "--max_depth", "6"]
    subprocess.run(
        [sys.executable, str(CHURN / "pipelines" / "train.py"), *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root / "model"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with EndpointPool(tmp_path_factory.mktemp("pool"), timeout=2.0, seed=7) as pool:
        yield pool


@pytest.fixture(scope="module")
def toy(pool, models, tmp_path_factory) -> tuple[str, Path]:
    """The numpy classifier, capturing every request; returns its name and capture folder."""
    captured = tmp_path_factory.mktemp("capture")
    pool.deploy(
        "toy", [Variant("AllTraffic", models["toy"], 1.0)], Capture(captured, 100, True, True)
    )
    return "toy", captured


@pytest.fixture(scope="module")
def crashy(pool, models) -> str:
    pool.deploy("crashy", [Variant("AllTraffic", models["crashy"], 1.0)], None)
    return "crashy"


def csv_values(body: bytes) -> list[float]:
    return [float(line) for line in body.decode().splitlines()]


# --- requests and responses -------------------------------------------------------------


def test_csv_and_json_requests_return_positive_class_probabilities(pool, toy):

    csv_answer = pool.invoke("toy", b"1,2\n-3,-4\n", "text/csv")
    assert csv_answer.content_type == "text/csv" and csv_answer.variant == "AllTraffic"
    high, low = csv_values(csv_answer.body)
    assert 0.5 < high <= 1 and 0 <= low < 0.5

    json_answer = pool.invoke("toy", b'{"instances": [[1, 2], [-3, -4]]}', "application/json")
    assert json_answer.content_type == "application/json"
    assert json.loads(json_answer.body)["predictions"] == pytest.approx([high, low])

    as_json = pool.invoke("toy", b"1,2\n", "text/csv", accept="application/json")
    assert json.loads(as_json.body) == {"predictions": [pytest.approx(high)]}


def test_model_tar_gz_is_extracted_and_features_json_orders_columns(pool, models):
    pool.deploy("tar", [Variant("AllTraffic", models["tar"], 1.0)], None)

    rows = pool.invoke("tar", b"a,b\n1,2\n-3,-4\n", "text/csv")  # header matching features
    records = pool.invoke("tar", b'[{"b": 2, "a": 1}, {"b": -4, "a": -3}]', "application/json")
    assert csv_values(rows.body) == pytest.approx(json.loads(records.body)["predictions"])
    assert csv_values(rows.body)[0] > 0.5 > csv_values(rows.body)[1]


def test_unsafe_model_archive_is_refused(pool, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../escaped")
    with pytest.raises(ServingError) as err:
        pool.deploy("evil", [Variant("AllTraffic", evil, 1.0)], None)
    assert err.value.code == "ValidationException" and "unsafe member" in err.value.message
    assert not (pool.root / "models" / "escaped").exists()


def test_churn_model_scores_raw_baseline_rows(pool, churn_model):
    pool.deploy("churn", [Variant("AllTraffic", churn_model, 1.0)], None)
    # The inputs only: the baseline's prediction column is the model's output.
    baseline = pd.read_csv(CHURN / "data" / "baseline.csv").drop(columns="prediction").head(50)

    for body in (baseline.to_csv(index=False, header=False), baseline.to_csv(index=False)):
        proba = csv_values(pool.invoke("churn", body.encode(), "text/csv").body)
        assert len(proba) == 50 and all(0 <= p <= 1 for p in proba)

    records = json.dumps({"instances": baseline.to_dict(orient="records")}).encode()
    answer = pool.invoke("churn", records, "application/json")
    assert json.loads(answer.body)["predictions"] == pytest.approx(proba)


# --- routing ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def canary(pool, models) -> str:
    variants = [Variant("stable", models["crashy"], 0.9), Variant("canary", models["crashy"], 0.1)]
    pool.deploy("canary", variants, None)
    return "canary"


def test_canary_weights_split_traffic(pool, canary):
    served = [pool.invoke(canary, b"1,2\n", "text/csv").variant for _ in range(2000)]
    assert served.count("canary") + served.count("stable") == 2000
    assert 0.87 <= served.count("stable") / 2000 <= 0.93


def test_target_variant_picks_the_variant(pool, canary):
    served = {
        pool.invoke(canary, b"1,2\n", "text/csv", target_variant="canary").variant
        for _ in range(50)
    }
    assert served == {"canary"}
    with pytest.raises(ServingError) as err:
        pool.invoke(canary, b"1,2\n", "text/csv", target_variant="nope")
    assert err.value.code == "ValidationException"


def test_unknown_endpoint_is_a_validation_exception(pool):
    with pytest.raises(ServingError) as err:
        pool.invoke("missing", b"1,2\n", "text/csv")
    assert (err.value.code, err.value.status) == ("ValidationException", 400)
    assert err.value.message == "Endpoint missing of account 123456789012 not found."


# --- data capture -----------------------------------------------------------------------


def test_capture_writes_sagemaker_records_at_full_sampling(pool, toy):
    name, captured = toy
    answers = [pool.invoke(name, b"1,2\n", "text/csv", inference_id=f"cap-{i}") for i in range(3)]
    pool.invoke(name, b'{"instances": [[1, 2]]}', "application/json")

    files = sorted(captured.rglob("*.jsonl"))
    assert len(files) == 1
    relative = files[0].relative_to(captured).as_posix()
    assert re.fullmatch(r"toy/AllTraffic/\d{4}/\d{2}/\d{2}/\d{2}/[\w-]+\.jsonl", relative)
    everything = [json.loads(line) for line in files[0].read_text().splitlines()]
    ours = [r for r in everything if r["eventMetadata"].get("inferenceId", "").startswith("cap-")]
    assert len(ours) == 3

    first = ours[0]
    assert set(first) == {"captureData", "eventMetadata", "eventVersion"}
    assert first["eventVersion"] == "0"
    assert first["captureData"] == {
        "endpointInput": {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "1,2\n",
            "encoding": "CSV",
        },
        "endpointOutput": {
            "observedContentType": "text/csv",
            "mode": "OUTPUT",
            "data": answers[0].body.decode(),
            "encoding": "CSV",
        },
    }
    metadata = first["eventMetadata"]
    assert set(metadata) == {"eventId", "inferenceTime", "inferenceId"}
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["eventId"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", metadata["inferenceTime"])
    assert metadata["inferenceId"] == "cap-0"
    assert len({r["eventMetadata"]["eventId"] for r in everything}) == len(everything)
    last = everything[-1]
    assert last["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert set(last["eventMetadata"]) == {"eventId", "inferenceTime"}


def test_capture_samples_at_the_configured_percentage(pool, models, tmp_path):
    capture = Capture(tmp_path, 50, capture_input=True, capture_output=False)
    pool.deploy("sampled", [Variant("AllTraffic", models["crashy"], 1.0)], capture)
    for _ in range(400):
        pool.invoke("sampled", b"1,2\n", "text/csv")

    lines = [json.loads(x) for f in tmp_path.rglob("*.jsonl") for x in f.read_text().splitlines()]
    assert 160 <= len(lines) <= 240
    assert all(set(r["captureData"]) == {"endpointInput"} for r in lines)


# --- failures ---------------------------------------------------------------------------


def test_model_error_carries_the_models_message_and_the_endpoint_keeps_serving(pool, crashy):
    with pytest.raises(ServingError) as err:
        pool.invoke(crashy, b"-1,0\n", "text/csv")
    assert (err.value.code, err.value.status) == ("ModelError", 424)
    assert "tenure must not be negative" in err.value.message
    assert err.value.message.startswith("Received server error (500) from primary")
    assert csv_values(pool.invoke(crashy, b"4,0\n", "text/csv").body) == [8.0]


def test_crashed_worker_reports_model_error_and_restarts_on_next_request(pool, crashy):
    pid = pool.status(crashy)["variants"]["AllTraffic"]["pid"]
    with pytest.raises(ServingError) as err:
        pool.invoke(crashy, b"-2,0\n", "text/csv")
    assert err.value.code == "ModelError" and "exit code 3" in err.value.message
    failed = pool.status(crashy)["variants"]["AllTraffic"]
    assert failed["state"] == "Failed" and "exited with code 3" in failed["last_error"]

    assert csv_values(pool.invoke(crashy, b"4,0\n", "text/csv").body) == [8.0]
    recovered = pool.status(crashy)["variants"]["AllTraffic"]
    assert recovered["state"] == "InService" and recovered["restarts"] >= 1
    assert recovered["pid"] != pid


def test_hung_prediction_times_out_and_the_worker_recovers(pool, crashy):
    started = time.monotonic()
    with pytest.raises(ServingError) as err:
        pool.invoke(crashy, b"-3,0\n", "text/csv")
    assert time.monotonic() - started < 5
    assert err.value.code == "ModelError" and "timed out" in err.value.message
    assert csv_values(pool.invoke(crashy, b"4,0\n", "text/csv").body) == [8.0]


def test_bad_request_is_a_client_model_error(pool, crashy):
    with pytest.raises(ServingError) as err:
        pool.invoke(crashy, b"\x00", "application/x-npy")
    assert err.value.code == "ModelError" and "(415)" in err.value.message


# --- lifecycle --------------------------------------------------------------------------


def test_redeploy_swaps_models_without_failed_calls(pool, models):
    pool.deploy("swap", [Variant("AllTraffic", models["crashy"], 1.0)], None)
    old_pid = pool.status("swap")["variants"]["AllTraffic"]["pid"]
    answers: list[float] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                answers.extend(csv_values(pool.invoke("swap", b"1,0\n", "text/csv").body))
            except Exception as exc:  # the test asserts there are none
                errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    pool.deploy("swap", [Variant("AllTraffic", models["crashy3"], 1.0)], None)
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(answers) == {2.0, 3.0} and answers[-1] == 3.0
    assert not _alive(old_pid)


def test_failed_redeploy_keeps_the_previous_deployment(pool, crashy, tmp_path):
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ServingError) as err:
        pool.deploy(crashy, [Variant("AllTraffic", tmp_path, 1.0)], None)
    assert err.value.code == "ValidationException"
    assert "could not load its model" in err.value.message
    assert csv_values(pool.invoke(crashy, b"4,0\n", "text/csv").body) == [8.0]


def test_close_leaves_no_child_processes(models, tmp_path):
    with EndpointPool(tmp_path) as pool:
        pool.deploy("closing", [Variant("a", models["crashy"], 1.0, instance_count=2)], None)
        pids = pool.status("closing")["variants"]["a"]["pids"]
        assert len(set(pids)) == 2 and all(_alive(p) for p in pids)
        served = {pool.invoke("closing", b"1,2\n", "text/csv").variant for _ in range(4)}
        assert served == {"a"}
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
