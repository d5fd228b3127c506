"""Pipelines in the local emulator: SageMaker pipeline definitions that really run.

`Pipelines` backs the control plane's pipeline operations (CreatePipeline ...
StopPipelineExecution); `runner` runs an execution's steps as subprocesses in SageMaker's
container conventions; `expressions` reads a definition's steps, values and conditions.
"""

from __future__ import annotations

from mlinfra.emulator.pipelines.service import Pipelines

__all__ = ["Pipelines"]
