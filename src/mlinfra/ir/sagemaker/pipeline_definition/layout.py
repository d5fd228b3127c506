"""Where a job's data and code sit in its container, as the example scripts expect.

A processing step reads its inputs under `INPUT_DIR/<name>`, its script under `CODE_DIR`, and
writes its output from `OUTPUT_DIR`; a condition reads a processing step's metrics from
`PROPERTY_FILE_PATH` in that output.
"""

from __future__ import annotations

INPUT_DIR = "/opt/ml/processing/input"
CODE_DIR = f"{INPUT_DIR}/code"
OUTPUT_DIR = "/opt/ml/processing/output"
PROPERTY_FILE_PATH = "evaluation/evaluation.json"
# Script mode under network isolation: the code arrives as a channel, not from S3 (what the
# SageMaker Python SDK does), and serving finds it inside the model artifact.
CODE_CHANNEL = "code"
ISOLATED_SUBMIT_DIRECTORY = "/opt/ml/input/data/code/sourcedir.tar.gz"
ISOLATED_SERVING_DIRECTORY = "/opt/ml/model/code"
