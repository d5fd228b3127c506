"""Model serving for the local emulator: endpoints whose variants run in worker processes.

The emulator's server calls this library to back SageMaker's CreateEndpoint,
UpdateEndpoint, DeleteEndpoint and InvokeEndpoint::

    with EndpointPool(root) as pool:
        pool.deploy("churn-api", [Variant("AllTraffic", "model.tar.gz", 1.0)], capture=None)
        pool.invoke("churn-api", b"12,70.5,846.0,month-to-month,3\\n", "text/csv")

A variant whose container environment names an inference script (``SAGEMAKER_PROGRAM``,
resolved by ``program_of``) is served by that script's ``model_fn``/``input_fn``/
``predict_fn``/``output_fn`` or ``transform_fn``, as SageMaker's scikit-learn container
serves it; otherwise by the emulator's default scikit-learn handler.
"""

from __future__ import annotations

from mlinfra.emulator.serving.capture import Capture
from mlinfra.emulator.serving.errors import ServingError
from mlinfra.emulator.serving.pool import DEFAULT_TIMEOUT, EndpointPool, Invocation, Variant
from mlinfra.emulator.serving.program import Program, program_of

__all__ = [
    "DEFAULT_TIMEOUT",
    "Capture",
    "EndpointPool",
    "Invocation",
    "Program",
    "ServingError",
    "Variant",
    "program_of",
]
