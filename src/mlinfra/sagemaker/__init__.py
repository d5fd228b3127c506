"""What mlinfra knows of SageMaker itself, and nothing of mlinfra: read by the checks, the
lowering, the plan, the providers and the emulator alike.

- `api`: botocore's API models, each loaded once (`service_data`, `service_model`, shapes);
- `instances`, `regions`, `images`: instance types, regions and framework images;
- `names`: the name rules of each resource; `arns`: partitions, ARNs and the example account
  the emulator answers for;
- `resources`: the resource-type catalogue (API noun, name and ARN fields, what updates in
  place, what a deletion loses); `registry`: which version is the latest approved;
- `pipelines`: pipeline definitions as SageMaker parses them.
"""
