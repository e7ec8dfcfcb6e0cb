"""orchestrator: agent lifecycle, task queue, pipeline execution, MCP tool dispatch, DB migrations."""

__version__ = "0.1.0"
