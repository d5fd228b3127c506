"""Serve customers and let their ground truth arrive: labelled traffic for the churn endpoint's
model-quality monitor (`churn-quality`).

    eval "$(mlinfra emulator env -f examples/churn/mlinfra.yaml)"
    python examples/churn/label_traffic.py --share 0.96 [--customers 200] [--seed S]

Each customer is one InvokeEndpoint request with an InferenceId of its own (labels are matched
to predictions by it, as SageMaker's ground-truth merge does). The labels are then written
where the monitor reads them, in SageMaker's ground-truth format (JSON Lines under
`ground-truth/yyyy/mm/dd/hh/` beside the spec)::

    {"groundTruthData": {"data": "1", "encoding": "CSV"},
     "eventMetadata": {"eventId": "<inference id>"}, "eventVersion": "0"}

The ground truth is simulated, and chosen: the script decides how many of the new predictions
turn out right so that the accuracy over every labelled prediction of the monitor's window
(`--window-seconds`, the spec's `window: 1h`) is `--share` times the accuracy the serving
version was evaluated with at registration (the monitor's relative lines are shares of the
same number). So `--share 1` is a model as good as its evaluation, `0.96` one between the
alert line (97%) and the rollback line (95%), `0.9` one below both. It keeps what it sent in
`.mlinfra/labelled-traffic.jsonl` beside the spec, to count the window's earlier predictions,
and sends more customers than `--customers` when fewer cannot reach the share.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import boto3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # send_traffic.py, beside this file

from send_traffic import ENDPOINT, as_csv, customers  # noqa: E402

GROUND_TRUTH = HERE / "ground-truth"  # not under data/: a pipeline may read that folder whole
LEDGER = HERE / ".mlinfra" / "labelled-traffic.jsonl"
METRIC = "accuracy"
PROBABILITY_THRESHOLD = 0.5  # a churn probability from this up predicts churn, as the monitor
MAX_CUSTOMERS = 20000


def registered_accuracy(sagemaker) -> float:
    """The accuracy the version the endpoint serves was evaluated with at registration: the
    evaluation report its registration names (ModelMetrics.ModelQuality.Statistics)."""
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    package = sagemaker.describe_model_package(
        ModelPackageName=model["PrimaryContainer"]["ModelPackageName"]
    )
    uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    path = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
    report = json.loads((path if path.is_absolute() else HERE / path).read_text())
    return float(report["metrics"][METRIC]["value"])


def earlier(window_seconds: float, now: float) -> tuple[int, int]:
    """How many labelled predictions the window holds already, and how many were right."""
    if not LEDGER.is_file():
        return 0, 0
    total = right = 0
    for line in LEDGER.read_text().splitlines():
        entry = json.loads(line)
        if entry["time"] > now - window_seconds:
            total += 1
            right += entry["right"]
    return total, right


def how_many(target: float, total: int, right: int, wanted: int) -> tuple[int, int]:
    """(customers to send, how many of them turn out right) so that the window's accuracy is
    `target`: at least `wanted` customers, more when fewer cannot reach it."""
    for n in range(wanted, MAX_CUSTOMERS + 1):
        k = round(target * (total + n)) - right
        if 0 <= k <= n:
            return n, k
    raise SystemExit(f"cannot reach accuracy {target:.4f} with up to {MAX_CUSTOMERS} customers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, required=True, help="of the registered accuracy")
    parser.add_argument("--customers", type=int, default=200, help="at least this many")
    parser.add_argument("--window-seconds", type=float, default=3600)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args(argv)
    if args.share <= 0 or args.customers < 1:
        parser.error("--share must be above 0, and --customers at least 1")
    if not os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        print(
            "Run it where the emulator's environment is set: "
            'eval "$(mlinfra emulator env -f examples/churn/mlinfra.yaml)"',
            file=sys.stderr,
        )
        return 1
    runtime, sagemaker = boto3.client("sagemaker-runtime"), boto3.client("sagemaker")
    reference = registered_accuracy(sagemaker)
    target = min(1.0, args.share * reference)
    now = time.time()
    total, right = earlier(args.window_seconds, now)
    n, k = how_many(target, total, right, args.customers)

    seed = args.seed + int(now) % 100000  # new customers each time
    labels, ledger = [], []
    for i, customer in enumerate(customers(n, seed, drift=False)):
        inference_id = str(uuid.uuid4())
        answer = runtime.invoke_endpoint(
            EndpointName=ENDPOINT,
            ContentType="text/csv",
            Accept="text/csv",
            Body=as_csv([customer]),
            InferenceId=inference_id,
        )
        predicted = int(float(answer["Body"].read().decode()) >= PROBABILITY_THRESHOLD)
        is_right = i < k
        label = predicted if is_right else 1 - predicted
        labels.append(
            json.dumps(
                {
                    "groundTruthData": {"data": str(label), "encoding": "CSV"},
                    "eventMetadata": {"eventId": inference_id},
                    "eventVersion": "0",
                }
            )
        )
        ledger.append(json.dumps({"id": inference_id, "time": time.time(), "right": int(is_right)}))

    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    folder = GROUND_TRUTH / hour
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"labels-{uuid.uuid4().hex[:12]}.jsonl").write_text("\n".join(labels) + "\n")
    LEDGER.parent.mkdir(parents=True, exist_ok=True)
    with LEDGER.open("a") as stream:
        stream.write("\n".join(ledger) + "\n")

    accuracy = (right + k) / (total + n)
    print(
        f"  sent {n} customers to {ENDPOINT}, one request each with its InferenceId; their "
        f"labels arrived under {GROUND_TRUTH.relative_to(HERE.parents[1])}/{hour}/"
    )
    print(
        f"  the model was right on {k} of them: over the {total + n} labelled predictions of "
        f"the last {args.window_seconds / 60:g} minutes its accuracy is {accuracy:.4f}, "
        f"{accuracy / reference:.1%} of the {reference:.4f} it was registered with"
    )
    if math.isclose(accuracy / reference, args.share, abs_tol=0.005):
        return 0
    print(f"  (asked for {args.share:.1%}: the nearest a whole number of labels gets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
