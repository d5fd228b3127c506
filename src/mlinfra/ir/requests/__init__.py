"""Lowering each spec component, once, to the SageMaker API requests that create it.

One module per component kind builds its requests as boto3 takes them (`CreateModel`'s
`PrimaryContainer`, `CreateEndpointConfig`'s `ProductionVariants`...), from what the spec
says and from the locations its target gives (a local folder or an S3 URI, a registry lookup
or an ARN). The local target sends them to the emulator as they are (`ir/local/`); the
SageMaker target adds what only AWS has (roles, keys, VPCs) and maps them to `pulumi_aws`
arguments through one table-driven translator (`ir/sagemaker/translate.py`).
"""
