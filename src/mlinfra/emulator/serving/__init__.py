"""Model serving for the local emulator: endpoints whose variants run in worker processes.

The emulator's server calls this library to back SageMaker's CreateEndpoint,
UpdateEndpoint, DeleteEndpoint and InvokeEndpoint::

    with EndpointPool(root) as pool:
        pool.deploy("churn-api", [Variant("AllTraffic", "model.tar.gz", 1.0)], capture=None)
        pool.invoke("churn-api", b"12,70.5,846.0,month-to-month,3\\n", "text/csv")
"""

from __future__ import annotations

from mlinfra.emulator.serving.capture import Capture
from mlinfra.emulator.serving.errors import ACCOUNT_ID, ServingError
from mlinfra.emulator.serving.pool import DEFAULT_TIMEOUT, EndpointPool, Invocation, Variant

__all__ = [
    "ACCOUNT_ID",
    "DEFAULT_TIMEOUT",
    "Capture",
    "EndpointPool",
    "Invocation",
    "ServingError",
    "Variant",
]
