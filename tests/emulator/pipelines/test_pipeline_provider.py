"""`local.Pipeline` resources, created and changed through the local provider as `apply` does."""

from __future__ import annotations

from pipeline_project import PIPELINE, pipeline_request, write_project

from mlinfra.engines.providers.local import LocalProvider, diff


def test_a_pipeline_is_created_then_its_definition_updated_in_place(access, tmp_path):
    provider = LocalProvider.for_access(access)
    old = pipeline_request(write_project(tmp_path))
    created = provider.create("local.Pipeline", old)
    assert created["name"] == PIPELINE
    assert created["arn"].endswith(f":pipeline/{PIPELINE}")

    new = dict(old, PipelineDefinition=old["PipelineDefinition"].replace('"0.5"', '"0.25"'))
    assert not diff("local.Pipeline", old, new).replace
    provider.update("local.Pipeline", old, new)
    found = provider.read("local.Pipeline", PIPELINE)
    assert found["PipelineDefinition"] == new["PipelineDefinition"]

    provider.delete("local.Pipeline", new)
    assert provider.read("local.Pipeline", PIPELINE) is None
