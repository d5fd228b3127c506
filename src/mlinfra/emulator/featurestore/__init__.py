"""The local emulator's feature store: SageMaker Feature Store semantics on SQLite and Parquet.

`store.FeatureStore` is what the emulator's feature groups service and the Feature Store
Runtime operations work on; `definition` says what a group is, `records` what a record is,
`offline` how the offline store's Parquet files are written. Nothing is imported here, so a
caller that needs only definitions or errors does not load pyarrow.
"""
