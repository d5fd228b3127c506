"""mlinfra's compliance rules, one module per area; importing this registers them all."""

from mlinfra.audit.rules import (  # noqa: F401 - imported to register their rules
    endpoints,
    feature_stores,
    identity,
    jobs,
    models,
    operations,
    storage,
)
