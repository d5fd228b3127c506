"""A deliberately slow way to serve the churn model: the training script's own hooks, with
a second added to every prediction (over the endpoint's `latency_p99_ms: 250` SLO).

`canary.py register --slow` registers a model version served by this script, so that its
canary trips the latency alarm and is rolled back (see the README's canary chapter).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

DELAY_SECONDS = 1.0

# The training script's serving hooks (model_fn, input_fn, output_fn), loaded from its file.
_spec = importlib.util.spec_from_file_location(
    "churn_train", Path(__file__).resolve().parent.parent / "pipelines" / "train.py"
)
_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train)

model_fn = _train.model_fn
input_fn = _train.input_fn
output_fn = _train.output_fn


def predict_fn(input_data, model):
    time.sleep(DELAY_SECONDS)
    return _train.predict_fn(input_data, model)
