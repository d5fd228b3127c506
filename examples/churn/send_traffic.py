"""Send customers to the churn endpoint with boto3, as application code would.

Run after `make run` deployed the model (or `mlinfra apply --env local` after a pipeline
run). The boto3 code is plain: no endpoint URL and no credentials in it. The environment
says where SageMaker is, as it would on AWS: `mlinfra emulator env` prints the emulator's
URL for each SageMaker service, its credentials and the region, so

    eval "$(mlinfra emulator env -f examples/churn/mlinfra.yaml)"
    python examples/churn/send_traffic.py [--customers N] [--batch N] [--drift] [--seed S]

sends customers in batches through `InvokeEndpoint` (alternating the endpoint's two input
formats: CSV rows, and JSON ``{"instances": [{"tenure_months": 12, ...}]}``) and prints what
came back.

Normal traffic comes from the same process as the monitor's baseline. ``--drift`` sends
what a price rise and an upstream bug would: monthly charges up by a third, more
month-to-month contracts and support calls, and `support_calls` missing for one customer in
eight. The endpoint captures a sample of requests (`data_capture.sampling_percent`), which
`mlinfra monitor run churn-drift --env local` then compares with the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import boto3
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # generate_data.py, beside this file

from generate_data import CONTRACTS, FEATURES, generate_baseline  # noqa: E402

ENDPOINT = "churn-local-churn-api"
MISSING_SHARE = 0.125  # of drifted customers without support_calls
# Of drifted customers moved to month-to-month contracts: enough that the contract mix drifts
# past the monitor's PSI threshold of 0.2 every time (0.45 to 0.65 in 400-row samples; a share
# of 0.4 gives about 0.16, which only sampling noise pushes over).
SWITCHED_SHARE = 0.6


def customers(n: int, seed: int, drift: bool) -> list[dict]:
    """`n` customers' features, as records keyed by feature name (None for missing)."""
    frame = generate_baseline(n, seed)
    if drift:
        rng = np.random.default_rng([seed, 2])
        frame["monthly_charges"] = (frame["monthly_charges"] * 1.35).round(2)
        frame["total_charges"] = (frame["total_charges"] * 1.35).round(2)
        switched = rng.random(n) < SWITCHED_SHARE
        frame.loc[switched, "contract"] = CONTRACTS[0]
        frame["support_calls"] = frame["support_calls"] + rng.poisson(1.5, n)
        records = frame.astype(object).to_dict("records")
        for record, missing in zip(records, rng.random(n) < MISSING_SHARE, strict=True):
            if missing:
                record["support_calls"] = None
        return records
    return frame.astype(object).to_dict("records")


def as_csv(batch: list[dict]) -> str:
    rows = (",".join("" if r[f] is None else str(r[f]) for f in FEATURES) for r in batch)
    return "\n".join(rows) + "\n"


def as_json(batch: list[dict]) -> str:
    return json.dumps({"instances": [{f: _plain(r[f]) for f in FEATURES} for r in batch]})


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000, help="how many to send")
    parser.add_argument("--batch", type=int, default=20, help="customers per request")
    parser.add_argument("--drift", action="store_true", help="send drifted customers")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    if args.customers < 1 or args.batch < 1:
        parser.error("--customers and --batch must be at least 1")

    if not os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        # Without it this would call the real SageMaker with whatever credentials are around.
        print(
            "Run it where the emulator's environment is set: "
            'eval "$(mlinfra emulator env -f examples/churn/mlinfra.yaml)"',
            file=sys.stderr,
        )
        return 1
    runtime = boto3.client("sagemaker-runtime")
    sent = customers(args.customers, args.seed, args.drift)
    probabilities: list[float] = []
    requests = 0
    for start in range(0, len(sent), args.batch):
        batch = sent[start : start + args.batch]
        if requests % 2 == 0:
            # Without an Accept, SageMaker's scikit-learn container answers JSON.
            answer = runtime.invoke_endpoint(
                EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv", Body=as_csv(batch)
            )
            probabilities += [float(p) for p in answer["Body"].read().decode().split()]
        else:
            answer = runtime.invoke_endpoint(
                EndpointName=ENDPOINT,
                ContentType="application/json",
                Accept="application/json",
                Body=as_json(batch),
            )
            probabilities += json.loads(answer["Body"].read())["predictions"]
        requests += 1

    kind = "drifted" if args.drift else "normal"
    print(
        f"  sent {len(sent)} {kind} customers in {requests} requests (CSV and JSON, "
        f"{args.batch} per request) to {ENDPOINT}"
    )
    print(f"  mean churn probability: {np.mean(probabilities):.2f}")
    for record, probability in list(zip(sent, probabilities, strict=True))[:3]:
        print(
            f"  e.g. {record['contract']:>14} contract, {record['tenure_months']:>2} months, "
            f"{record['monthly_charges']:>6} a month -> churn probability {probability:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
