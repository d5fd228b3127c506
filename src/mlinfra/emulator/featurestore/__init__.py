"""The local emulator's feature store: SageMaker Feature Store semantics on SQLite and Parquet.

`FeatureStore` is what the emulator's server routes Feature Store Runtime requests to.
"""

from __future__ import annotations

from mlinfra.emulator.featurestore.definition import (
    FeatureGroup,
    FeatureGroupDefinition,
    FeatureType,
)
from mlinfra.emulator.featurestore.errors import FeatureStoreError
from mlinfra.emulator.featurestore.store import KEEP, FeatureStore, Record

__all__ = [
    "KEEP",
    "FeatureGroup",
    "FeatureGroupDefinition",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureType",
    "Record",
]
