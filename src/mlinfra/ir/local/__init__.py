"""Lowering for `target: local`: resources of mlinfra's local emulator.

Each resource's properties are the request of the SageMaker API call that creates it, as
boto3 takes it (`CreateModel`'s `ModelName`, `PrimaryContainer`...), because the emulator
speaks that API: the providers in `mlinfra.engines.providers.local` send them as they are, and the
botocore service model checks them on the way. Names follow the same convention as the
SageMaker target (`{project}-{env}-{component}`), so code written against one runs against
the other.
"""
