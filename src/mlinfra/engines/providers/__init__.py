"""The embedded engine's providers: how each local resource is created, read, updated and
deleted in the emulator (`local`), the IR values they take resolved (`values`), and the same
providers as Pulumi dynamic providers for rendered local programs (`dynamic`). What each
resource type is (its API noun, name field, what updates in place) they read from SageMaker's
resource-type catalogue, `mlinfra.sagemaker.resources`."""
