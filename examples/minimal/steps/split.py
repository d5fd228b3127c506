"""Processing step `split`: shuffle the parcels and split them into train, validation, test.

Its one input, `data/parcels.csv` in the spec, arrives as the folder `parcels/` under
$MLINFRA_PROCESSING_INPUT (on SageMaker: /opt/ml/processing/input/parcels/parcels.csv).
What it writes under $MLINFRA_PROCESSING_OUTPUT is the step's output: the subfolders
`train/`, `validation/` and `test/` are what the steps after it read as `split.train`,
`split.validation` and `split.test`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def main() -> None:
    inputs = Path(os.environ.get("MLINFRA_PROCESSING_INPUT", "/opt/ml/processing/input"))
    output = Path(os.environ.get("MLINFRA_PROCESSING_OUTPUT", "/opt/ml/processing/output"))
    parcels = pd.read_csv(inputs / "parcels" / "parcels.csv").sample(frac=1, random_state=0)
    cut = [len(parcels) * 6 // 10, len(parcels) * 8 // 10]
    parts = {
        "train": parcels[: cut[0]],
        "validation": parcels[cut[0] : cut[1]],
        "test": parcels[cut[1] :],
    }
    for name, part in parts.items():
        (output / name).mkdir(parents=True, exist_ok=True)
        part.to_csv(output / name / f"{name}.csv", index=False)
        print(f"split: {name}: {len(part)} parcels")


if __name__ == "__main__":
    main()
