"""Orchestrator contract: agents, tasks, API keys and the pipeline's task states."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field

from nova_contracts.base import (
    Identifier,
    Metadata,
    RequestModel,
    ResponseModel,
    UpdateRequestModel,
)
from nova_contracts.llm import MAX_MESSAGES, Message, ToolCall, ToolName
from nova_contracts.memory import MemoryTier

AgentName = Annotated[str, Field(min_length=1, max_length=100)]
SystemPrompt = Annotated[str, Field(max_length=100_000)]
AgentTools = Annotated[list[ToolName], Field(max_length=200)]
MemoryTiers = Annotated[list[MemoryTier], Field(max_length=len(MemoryTier))]
FallbackModels = Annotated[list[Identifier], Field(max_length=10)]
# Some models take a million tokens of context; 256 leaves room for a system prompt and one turn.
ContextTokens = Annotated[int, Field(ge=256, le=2_000_000)]


class AgentStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ERROR = "error"


class AgentConfig(RequestModel):
    """How an agent behaves; `model=None` means the orchestrator's configured default chat model."""

    name: AgentName
    system_prompt: SystemPrompt = ""
    model: Identifier | None = None
    tools: AgentTools = Field(default_factory=list)
    memory_tiers: MemoryTiers = Field(default_factory=lambda: [MemoryTier.EPISODIC, MemoryTier.SEMANTIC])
    max_context_tokens: ContextTokens = 8192
    fallback_models: FallbackModels = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)

    def updated(self, patch: "UpdateAgentRequest") -> "AgentConfig":
        """This config with the fields the patch sent replaced; an explicit `model: null` resets the model."""
        return self.model_copy(update={name: getattr(patch, name) for name in patch.model_fields_set})


class CreateAgentRequest(RequestModel):
    config: AgentConfig


class UpdateAgentRequest(UpdateRequestModel):
    clearable = frozenset({"model"})

    name: AgentName | None = None
    system_prompt: SystemPrompt | None = None
    model: Identifier | None = None
    tools: AgentTools | None = None
    memory_tiers: MemoryTiers | None = None
    max_context_tokens: ContextTokens | None = None
    fallback_models: FallbackModels | None = None
    metadata: Metadata | None = None


class AgentInfo(ResponseModel):
    id: UUID
    config: AgentConfig
    status: AgentStatus
    created_at: datetime
    last_active: datetime | None = None


class TaskType(StrEnum):
    CHAT = "chat"
    TOOL_USE = "tool_use"
    MEMORY_CONSOLIDATION = "memory_consolidation"


class SubmitTaskRequest(RequestModel):
    agent_id: UUID
    task_type: TaskType = TaskType.CHAT
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    session_id: Identifier | None = None
    metadata: Metadata = Field(default_factory=dict)


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class TaskResult(ResponseModel):
    task_id: UUID
    agent_id: UUID
    status: TaskStatus
    response: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)


class ApiKeyCreate(RequestModel):
    name: AgentName
    rate_limit_rpm: int = Field(default=60, ge=1, le=100_000)
    # Aware only: a naive timestamp would be read in the server's zone and expire hours early or late.
    expires_at: AwareDatetime | None = None


class ApiKeyInfo(ResponseModel):
    """An API key as listed; only `key_prefix` of the secret is ever shown again."""

    id: UUID
    name: str
    key_prefix: str
    rate_limit_rpm: int = Field(ge=1)
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None


class ApiKeyCreated(ApiKeyInfo):
    """The creation response: the only time the raw key leaves the orchestrator."""

    # repr=False keeps the secret out of logs and tracebacks that print the model.
    key: str = Field(repr=False)


class ApiKeyValidation(ResponseModel):
    valid: bool
    key_id: UUID | None = None
    name: str | None = None
    rate_limit_rpm: int | None = Field(default=None, ge=1)


class PipelineTaskState(StrEnum):
    """The pipeline's 11-state machine, plus `clarification_needed` when the context stage pauses."""

    SUBMITTED = "submitted"
    QUEUED = "queued"
    CONTEXT_RUNNING = "context_running"
    TASK_RUNNING = "task_running"
    GUARDRAIL_RUNNING = "guardrail_running"
    REVIEW_RUNNING = "review_running"
    PENDING_HUMAN_REVIEW = "pending_human_review"
    COMPLETING = "completing"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLARIFICATION_NEEDED = "clarification_needed"


# clarification_needed is not terminal: the task resumes from its checkpoint once the user answers.
TERMINAL_STATES: frozenset[PipelineTaskState] = frozenset(
    {PipelineTaskState.COMPLETE, PipelineTaskState.FAILED, PipelineTaskState.CANCELLED}
)
