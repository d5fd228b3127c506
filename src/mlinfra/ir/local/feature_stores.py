"""Feature stores: a feature group in the emulator's feature store.

The emulator keeps the online store in SQLite and appends the offline store as Parquet
partitioned by event date, under `.mlinfra/emulator/featurestore/` beside the spec, whatever
location the request names; the request names that folder so `describe_feature_group` tells
the truth. There is no role and no key: nothing leaves the machine.
"""

from __future__ import annotations

from mlinfra.ir.graph import Resource
from mlinfra.ir.local.api import FEATURE_GROUP
from mlinfra.ir.requests.feature_stores import create_feature_group
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import FeatureStore

OFFLINE_FOLDER = ".mlinfra/emulator/featurestore/offline"


def lower_feature_store(ctx: LoweringContext, component: FeatureStore) -> list[Resource]:
    offline = f"file:{OFFLINE_FOLDER}/{ctx.name(component, 'feature_group')}"
    request = create_feature_group(ctx, component, offline)
    return [ctx.resource(component.address, FEATURE_GROUP, request, component.key_range)]
