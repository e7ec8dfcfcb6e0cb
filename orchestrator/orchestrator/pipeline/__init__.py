"""The agent pipeline: a durable Redis + Postgres task queue, the 12-state machine and the pods' agents."""

from orchestrator.pipeline.runtime import PipelineRuntime, pipeline_runtime
from orchestrator.pipeline.settings import PipelineSettings

__all__ = ["PipelineRuntime", "PipelineSettings", "pipeline_runtime"]
