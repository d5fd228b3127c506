"""Synthetic customer data for the churn example.

Writes two CSV files:

* ``customers.csv``: the ``customers`` feature store's source, one row per customer
  snapshot with every feature of the spec (``customer_id``, ``event_time``,
  ``tenure_months``, ``monthly_charges``, ``total_charges``, ``contract``,
  ``support_calls``, ``churned``). About 3% of customers also have an older
  snapshot (earlier ``event_time``), as a feature store's offline store keeps
  history; the prepare step keeps the latest record per customer.
* ``baseline.csv``: ~1,000 held-out customers drawn from the same process, with
  the model's input features only (no id, event time or label), in the order
  the endpoint receives them. The data-quality monitor uses it as its baseline.

Churn follows a logistic model: more likely with month-to-month contracts,
short tenure, high monthly charges and many support calls (overall ~25%).

Usage::

    python generate_data.py [--customers N] [--seed S] [--out DIR]

The same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["tenure_months", "monthly_charges", "total_charges", "contract", "support_calls"]
LABEL = "churned"
COLUMNS = ["customer_id", "event_time", *FEATURES, LABEL]
CONTRACTS = ["month-to-month", "one-year", "two-year"]
SNAPSHOT_END = np.datetime64("2025-06-30T00:00:00")
HISTORY_FRACTION = 0.03


def _simulate(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Features and churn label for ``n`` independent customers."""
    contract_idx = rng.choice(3, size=n, p=[0.52, 0.26, 0.22])
    contract = np.array(CONTRACTS)[contract_idx]
    # Longer contracts go with longer-standing customers.
    mean_tenure = np.array([14.0, 32.0, 48.0])[contract_idx]
    tenure = np.clip(np.ceil(rng.gamma(2.0, mean_tenure / 2.0)), 1, 72).astype(int)
    monthly = np.clip(rng.normal(68.0, 24.0, n), 18.25, 118.75).round(2)
    total = np.maximum(tenure * monthly * rng.normal(1.0, 0.04, n), monthly).round(2)
    support_calls = rng.poisson(0.8 + 0.012 * (monthly - 18.0))

    logit = (
        -3.2
        + np.array([2.2, -0.6, -3.2])[contract_idx]
        - 0.08 * (tenure - 24.0)
        + 0.05 * (monthly - 68.0)
        + 0.9 * (support_calls - 1.5)
    )
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "contract": contract,
            "support_calls": support_calls,
            LABEL: churned,
        }
    )


def _timestamps(rng: np.random.Generator, n: int, max_days: int) -> np.ndarray:
    seconds = rng.integers(0, max_days * 86400, size=n)
    return SNAPSHOT_END - seconds.astype("timedelta64[s]")


def _iso(times: np.ndarray) -> list[str]:
    return [str(t) + "Z" for t in times.astype("datetime64[s]")]


def generate(n_customers: int = 5000, seed: int = 7) -> pd.DataFrame:
    """The ``customers`` feature-store frame (columns ``COLUMNS``)."""
    rng = np.random.default_rng(seed)
    df = _simulate(rng, n_customers)
    df.insert(0, "customer_id", [f"C{i:06d}" for i in range(1, n_customers + 1)])
    latest = _timestamps(rng, n_customers, max_days=30)
    df.insert(1, "event_time", _iso(latest))

    # Older snapshots of a few customers: earlier tenure, not (yet) churned.
    hist = df.sample(frac=HISTORY_FRACTION, random_state=rng).copy()
    months_back = rng.integers(1, 7, size=len(hist))
    hist["tenure_months"] = np.maximum(hist["tenure_months"].to_numpy() - months_back, 1)
    hist["total_charges"] = (hist["tenure_months"] * hist["monthly_charges"]).round(2)
    hist["support_calls"] = rng.binomial(hist["support_calls"].to_numpy(), 0.5)
    hist[LABEL] = 0
    earlier = latest[df.index.get_indexer(hist.index)] - (months_back * 30).astype("timedelta64[D]")
    hist["event_time"] = _iso(earlier)

    out = pd.concat([df, hist]).sort_values(["event_time", "customer_id"], kind="stable")
    return out[COLUMNS].reset_index(drop=True)


def generate_baseline(n_rows: int = 1000, seed: int = 7) -> pd.DataFrame:
    """Held-out customers from the same process: input features only."""
    rng = np.random.default_rng([seed, 1])  # a stream independent of generate()'s
    return _simulate(rng, n_rows)[FEATURES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--baseline-rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    customers = generate(args.customers, args.seed)
    baseline = generate_baseline(args.baseline_rows, args.seed)
    customers.to_csv(args.out / "customers.csv", index=False, lineterminator="\n")
    baseline.to_csv(args.out / "baseline.csv", index=False, lineterminator="\n")
    print(
        f"wrote {len(customers)} rows ({customers['customer_id'].nunique()} customers, "
        f"churn rate {customers[LABEL].mean():.1%}) and {len(baseline)} baseline rows "
        f"to {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
