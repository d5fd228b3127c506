"""Pipelines in the local emulator: SageMaker pipeline definitions that really run.

`service.Pipelines` is the pipeline operations of the control plane (CreatePipeline ...
StopPipelineExecution); `runner` runs an execution's steps as subprocesses in SageMaker's
container conventions; `expressions` reads a definition's steps, values and conditions.
"""
