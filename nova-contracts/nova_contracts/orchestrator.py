"""Orchestrator contract: agents, tasks, API keys and the pipeline's task states."""

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AliasChoices, AwareDatetime, Field, computed_field, model_validator

from nova_contracts.base import (
    Identifier,
    Metadata,
    RequestModel,
    ResponseModel,
    ShortText,
    UpdateRequestModel,
)
from nova_contracts.llm import MAX_MESSAGES, Message, ToolCall, ToolName
from nova_contracts.memory import MemoryTier

AgentName = Annotated[str, Field(min_length=1, max_length=100)]
SystemPrompt = Annotated[str, Field(max_length=100_000)]
AgentTools = Annotated[list[ToolName], Field(max_length=200)]
MemoryTiers = Annotated[list[MemoryTier], Field(max_length=len(MemoryTier))]
FallbackModels = Annotated[list[Identifier], Field(max_length=10)]
# Names of skills and rules; also how a pod agent names the skills it includes.
SkillName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\- ]+$")]
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

    # A default, as in the earlier implementation, whose documented create request names only the model.
    name: AgentName = "agent"
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
    # Exactly one agent is primary: the one dashboard chat and the OpenAI-compatible endpoint talk to.
    primary: bool = False
    # Who created it: "admin", "key:<api key id>" or "local" (the anonymous local caller); it sees and
    # changes the agent, and so does the admin.
    owner: str = "admin"


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


class ToolCallRecord(ResponseModel):
    """One tool call of an agent turn with its (possibly truncated) result, in the order it ran."""

    round: int = Field(ge=1)
    call: ToolCall
    result: str = ""
    is_error: bool = False
    duration_ms: int = Field(default=0, ge=0)


class TaskResult(ResponseModel):
    task_id: UUID
    agent_id: UUID
    status: TaskStatus
    response: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    # The same calls with their results; `tool_calls` stays for clients that only need what was asked.
    steps: list[ToolCallRecord] = Field(default_factory=list)
    model: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    # Who ran it ("admin", "key:<api key id>" or "local"); only they and the admin can look it up.
    owner: str = "admin"


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

    @computed_field(repr=False)  # type: ignore[prop-decorator]
    @property
    def raw_key(self) -> str:
        """The same secret under the name the earlier implementation's clients read."""
        return self.key


class ApiKeyInvalidReason(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ApiKeyValidation(ResponseModel):
    """`GET /api/v1/keys/validate`: always 200 for a well-authenticated caller; `reason` says why a key is not valid."""

    valid: bool
    key_id: UUID | None = None
    name: str | None = None
    rate_limit_rpm: int | None = Field(default=None, ge=1)
    reason: ApiKeyInvalidReason | None = None


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


# Identity and platform configuration.


class Identity(ResponseModel):
    """`GET /api/v1/identity` (public): the AI's display name and greeting with `{name}` resolved."""

    name: str
    greeting: str


# Shared runtime configuration lives in Redis DB 1 under this prefix (`nova:config:llm.routing_strategy`).
# The orchestrator owns the values (table `platform_config`) and mirrors every key there on startup and on
# each change, so readers in other services see a change without a restart. Secret values are mirrored
# sealed (`nova_common.secretbox`), never in clear.
CONFIG_REDIS_PREFIX = "nova:config:"
ConfigKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z][a-z0-9_.-]{0,127}$")]

# Provider credentials an admin may enter from the dashboard (`llm.api_key.<slug>`), secret settings.
PROVIDER_KEY_SLUGS = (
    "anthropic",
    "openai",
    "groq",
    "gemini",
    "cerebras",
    "openrouter",
    "github",
    "claude-max",
    "chatgpt",
)


def provider_key_setting(slug: str) -> str:
    return f"llm.api_key.{slug}"


def config_redis_key(key: str) -> str:
    return CONFIG_REDIS_PREFIX + key


def encode_config_value(value: Any) -> str:
    """How a config value is stored in Redis: its JSON text (a string value keeps its quotes)."""
    return json.dumps(value, separators=(",", ":"))


def decode_config_value(raw: str | bytes) -> Any:
    return json.loads(raw)


class ConfigEntry(ResponseModel):
    key: str
    value: Any = None
    description: str | None = None
    is_secret: bool = False
    # False while the key still has its built-in default (no row was ever written).
    is_set: bool = False
    updated_at: datetime | None = None


class ConfigUpdate(RequestModel):
    """`PATCH /api/v1/config/{key}`: any JSON value; well-known keys are validated by the orchestrator."""

    value: Any
    description: Annotated[str, Field(max_length=1000)] | None = None


class AdminSecretChange(RequestModel):
    """`PUT /api/v1/admin/secret`: the admin secret every service accepts from now on."""

    new_secret: Annotated[str, Field(min_length=16, max_length=256)]


class AdminSecretRotated(ResponseModel):
    rotated_at: datetime
    detail: str = "every Nova service accepts the new secret within a few seconds; the old one stops working"


class SandboxTier(StrEnum):
    """What an agent's file, shell and git tools may touch, from none to everything."""

    ISOLATED = "isolated"
    WORKSPACE = "workspace"
    NOVA = "nova"
    HOST = "host"


# Tools.


class ToolInfo(ResponseModel):
    name: str
    description: str = ""
    group: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class ToolGroupInfo(ResponseModel):
    """A permission unit: switching a group off hides and refuses all its tools."""

    name: str
    description: str = ""
    enabled: bool = True
    tools: list[ToolInfo] = Field(default_factory=list)


class ToolPermissions(ResponseModel):
    groups: dict[str, bool]


class ToolPermissionsUpdate(RequestModel):
    groups: Annotated[dict[Annotated[str, Field(max_length=100)], bool], Field(min_length=1, max_length=100)]


# MCP tool servers.

McpServerName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
McpArgs = Annotated[list[Annotated[str, Field(max_length=4000)]], Field(max_length=100)]
McpEnv = Annotated[
    dict[
        Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")],
        Annotated[str, Field(max_length=10_000)],
    ],
    Field(max_length=100),
]
McpUrl = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://")]


class McpTransport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


class McpServerCreate(RequestModel):
    """A server to register: `stdio` needs `command` (and optional `args`/`env`), `http` needs `url`."""

    name: McpServerName
    description: Annotated[str, Field(max_length=2000)] = ""
    transport: McpTransport = McpTransport.STDIO
    command: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    args: McpArgs = Field(default_factory=list)
    env: McpEnv = Field(default_factory=dict)
    url: McpUrl | None = None
    enabled: bool = True
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _transport_has_its_target(self) -> Self:
        if self.transport is McpTransport.STDIO and not self.command:
            raise ValueError("a stdio server needs `command`")
        if self.transport is McpTransport.HTTP and not self.url:
            raise ValueError("an http server needs `url`")
        return self


class McpServerUpdate(UpdateRequestModel):
    clearable = frozenset({"command", "url"})

    description: Annotated[str, Field(max_length=2000)] | None = None
    transport: McpTransport | None = None
    command: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    args: McpArgs | None = None
    env: McpEnv | None = None
    url: McpUrl | None = None
    enabled: bool | None = None
    metadata: Metadata | None = None


class McpServerState(StrEnum):
    DISABLED = "disabled"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ERROR = "error"


class McpToolInfo(ResponseModel):
    """A tool of an MCP server; `name` is what agents call (`mcp__<server>__<tool>`)."""

    name: str
    tool: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class McpServerInfo(ResponseModel):
    id: UUID
    name: str
    description: str = ""
    transport: McpTransport
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    # Only the names: values are often credentials.
    env_keys: list[str] = Field(default_factory=list)
    url: str | None = None
    enabled: bool
    metadata: dict[str, Any] = Field(default_factory=dict)
    state: McpServerState
    error: str | None = None
    connected_at: datetime | None = None
    tools: list[McpToolInfo] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class McpCatalogEntry(ResponseModel):
    """A well-known server the dashboard offers under "add from catalog"; `required_env` must be filled in."""

    name: str
    title: str
    description: str
    category: str
    package: str
    transport: McpTransport = McpTransport.STDIO
    command: str
    args: list[str] = Field(default_factory=list)
    required_env: list[str] = Field(default_factory=list)


# Usage, persisted from the gateway's `nova:usage:events` stream.


class UsageEvent(ResponseModel):
    id: UUID
    provider: str
    model: str
    kind: Literal["completion", "embedding"] = "completion"
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float | None = None
    latency_ms: int = Field(ge=0)
    ttft_ms: int | None = None
    cache_hit: bool = False
    agent_id: str | None = None
    task_id: str | None = None
    api_key_id: UUID | None = None
    api_key_name: str | None = None
    created_at: datetime


class UsageEventReport(RequestModel):
    """A model call made outside llm-gateway, reported by the service that made it (service token).

    `id` makes a retried report idempotent: a second report with the same id is not counted again."""

    id: UUID | None = None
    provider: ShortText
    model: ShortText
    kind: Literal["completion", "embedding"] = "completion"
    input_tokens: int = Field(default=0, ge=0, le=100_000_000)
    output_tokens: int = Field(default=0, ge=0, le=100_000_000)
    # None: the price is unknown (not the same as a free local model's 0).
    cost_usd: float | None = Field(default=None, ge=0, le=1_000_000)
    latency_ms: int = Field(default=0, ge=0, le=2_000_000_000)  # INTEGER column
    ttft_ms: int | None = Field(default=None, ge=0, le=2_000_000_000)
    cache_hit: bool = False
    agent_id: ShortText | None = None
    task_id: ShortText | None = None
    api_key_id: UUID | None = None
    # Aware only: a naive time would be read in the server's zone. None: now.
    created_at: AwareDatetime | None = None


class UsageEventRecorded(ResponseModel):
    id: UUID
    # False when an event with this id was already stored (a retried report).
    recorded: bool


class UsagePeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class UsageByModel(ResponseModel):
    model: str
    provider: str
    requests: int = Field(ge=0)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    # None when no call of this model had a known price.
    cost_usd: float | None = None


class UsageSummary(ResponseModel):
    period: UsagePeriod
    since: datetime
    until: datetime
    requests: int = Field(ge=0)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float | None = None
    by_model: list[UsageByModel] = Field(default_factory=list)


# The pipeline: tasks, their timeline, pods, queue statistics and progress events.

PodName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$")]
Goal = Annotated[str, Field(min_length=1, max_length=100_000)]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)]
RoutingKeywords = Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)]
ReviewComment = Annotated[str, Field(max_length=10_000)]


class PipelineRole(StrEnum):
    """What a pod agent does. `passthrough` makes no model call: a stage that only moves the task along."""

    CONTEXT = "context"
    TASK = "task"
    GUARDRAIL = "guardrail"
    CODE_REVIEW = "code_review"
    DECISION = "decision"
    DOCUMENTATION = "documentation"
    DIAGRAMMING = "diagramming"
    SECURITY_REVIEW = "security_review"
    MEMORY_EXTRACTION = "memory_extraction"
    PASSTHROUGH = "passthrough"


POST_PIPELINE_ROLES: frozenset[PipelineRole] = frozenset(
    {
        PipelineRole.DOCUMENTATION,
        PipelineRole.DIAGRAMMING,
        PipelineRole.SECURITY_REVIEW,
        PipelineRole.MEMORY_EXTRACTION,
    }
)


class OnFailure(StrEnum):
    """What happens when an agent's output is still invalid after the corrective retry (or its call fails)."""

    ABORT = "abort"
    SKIP = "skip"
    ESCALATE = "escalate"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RunCondition(RequestModel):
    """When an agent runs: `always`, `never`, `on_flag`/`not_flag` (a pipeline flag), `has_tag` (a task tag),
    or `and`/`or` over `conditions`. Flags: guardrail_blocked, code_review_passed, code_review_rejected."""

    type: Literal["always", "never", "on_flag", "not_flag", "has_tag", "and", "or"] = "always"
    value: Annotated[str, Field(max_length=100)] | None = None
    conditions: Annotated[list["RunCondition"], Field(max_length=20)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape_matches_type(self) -> Self:
        if self.type in ("on_flag", "not_flag", "has_tag") and not self.value:
            raise ValueError(f"run condition {self.type!r} needs a `value`")
        if self.type in ("and", "or") and not self.conditions:
            raise ValueError(f"run condition {self.type!r} needs `conditions`")
        return self


class PodAgentConfig(RequestModel):
    """One agent of a pod, as sent on create and returned on read."""

    name: AgentName
    role: PipelineRole
    enabled: bool = True
    model: Identifier | None = None
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    max_tokens: int = Field(default=4096, ge=1, le=200_000)
    # The column is REAL: a value too small for it would round to 0 and break its CHECK (> 0).
    timeout_seconds: float = Field(default=120.0, ge=0.1, le=3600)
    max_retries: int = Field(default=1, ge=0, le=10)
    system_prompt: SystemPrompt | None = None
    allowed_tools: AgentTools = Field(default_factory=list)
    on_failure: OnFailure = OnFailure.ABORT
    run_condition: RunCondition = Field(default_factory=RunCondition)
    # A JSON schema replacing the role's built-in output schema; validated the same way.
    output_schema: Annotated[dict[str, Any], Field(max_length=50)] | None = None
    artifact_type: Annotated[str, Field(max_length=50)] | None = None
    position: int = Field(default=0, ge=0, le=1000)
    # Skills (by name) whose instructions are added to this agent's prompt.
    skills: Annotated[list[SkillName], Field(max_length=20)] = Field(default_factory=list)


PodAgents = Annotated[list[PodAgentConfig], Field(max_length=30)]


class PodCreate(RequestModel):
    name: PodName
    description: Annotated[str, Field(max_length=2000)] = ""
    enabled: bool = True
    is_default: bool = False
    default_model: Identifier | None = None
    max_cost_usd: float | None = Field(default=None, ge=0, le=100_000)  # NUMERIC(12, 6)
    max_execution_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)
    require_human_review: bool = False
    escalation_threshold: Severity = Severity.HIGH
    routing_keywords: RoutingKeywords = Field(default_factory=list)
    routing_regex: Annotated[str, Field(max_length=1000)] | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    fallback_pod_id: UUID | None = None
    # `sandbox` is the documented name of the earlier implementation.
    sandbox_tier: SandboxTier = Field(
        default=SandboxTier.WORKSPACE, validation_alias=AliasChoices("sandbox_tier", "sandbox")
    )
    agents: PodAgents = Field(default_factory=list)

    @model_validator(mode="after")
    def _agent_names_unique(self) -> Self:
        names = [a.name for a in self.agents]
        if len(names) != len(set(names)):
            raise ValueError("agent names must be unique within a pod")
        return self


class PodUpdate(UpdateRequestModel):
    """Fields to change; `agents`, when sent, replaces the pod's whole agent list."""

    clearable = frozenset(
        {"default_model", "max_cost_usd", "max_execution_seconds", "routing_regex", "fallback_pod_id"}
    )

    name: PodName | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    enabled: bool | None = None
    is_default: bool | None = None
    default_model: Identifier | None = None
    max_cost_usd: float | None = Field(default=None, ge=0, le=100_000)  # NUMERIC(12, 6)
    max_execution_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)
    require_human_review: bool | None = None
    escalation_threshold: Severity | None = None
    routing_keywords: RoutingKeywords | None = None
    routing_regex: Annotated[str, Field(max_length=1000)] | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    fallback_pod_id: UUID | None = None
    sandbox_tier: SandboxTier | None = Field(
        default=None, validation_alias=AliasChoices("sandbox_tier", "sandbox")
    )
    agents: PodAgents | None = None


class PodInfo(ResponseModel):
    id: UUID
    name: str
    description: str = ""
    enabled: bool
    is_default: bool = False
    default_model: str | None = None
    max_cost_usd: float | None = None
    max_execution_seconds: int | None = None
    require_human_review: bool = False
    escalation_threshold: Severity = Severity.HIGH
    routing_keywords: list[str] = Field(default_factory=list)
    routing_regex: str | None = None
    priority: int = 0
    fallback_pod_id: UUID | None = None
    sandbox_tier: SandboxTier = SandboxTier.WORKSPACE
    agents: list[PodAgentConfig] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class PipelineTaskSubmit(RequestModel):
    """A goal for the pipeline; without `pod_id` it is routed by the pods' keywords, regex and priority."""

    # `user_input` is the documented name of the earlier implementation.
    goal: Goal = Field(validation_alias=AliasChoices("goal", "user_input"))
    pod_id: UUID | None = None
    tags: Tags = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    goal_id: UUID | None = Field(default=None, description="the cortex goal this task is an attempt at")


# Tasks one batch submission may carry: a 1 MiB body holds several hundred typical goals.
MAX_PIPELINE_BATCH = 500


class PipelineTaskBatchSubmit(RequestModel):
    """Several goals for the pipeline, queued together in one transaction: all of them or none."""

    tasks: list[PipelineTaskSubmit] = Field(min_length=1, max_length=MAX_PIPELINE_BATCH)


class PipelineTaskBatchAccepted(ResponseModel):
    """The queued tasks' ids, in the order of the submitted `tasks`."""

    ids: list[UUID]
    status: PipelineTaskState = PipelineTaskState.QUEUED


# `running`: the earlier implementation's filter for a task in any running stage.
RUNNING_FILTER = "running"
PipelineStatusFilter = PipelineTaskState | Literal["running"]


class PipelineTaskInfo(ResponseModel):
    id: UUID
    goal: str
    status: PipelineTaskState
    goal_id: UUID | None = None
    pod_id: UUID | None = None
    pod_name: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    output: str | None = None
    error: str | None = None
    current_stage: str | None = None
    completed_stages: list[str] = Field(default_factory=list)
    clarification_questions: list[str] = Field(default_factory=list)
    attempts: int = Field(default=0, ge=0)
    retries: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime


class PipelineTaskPage(ResponseModel):
    items: list[PipelineTaskInfo]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


class TimelineEntry(ResponseModel):
    """One line of a task's timeline: a state transition (`from_status` → `to_status`), a stage event, a tool
    call a stage made (`tool_call`: tool, arguments and outcome in `detail`) or a note."""

    kind: Literal[
        "transition",
        "stage_started",
        "stage_completed",
        "stage_retry",
        "stage_failed",
        "policy",
        "note",
        "tool_call",
    ]
    from_status: PipelineTaskState | None = None
    to_status: PipelineTaskState | None = None
    stage: str | None = None
    detail: str | None = None
    worker_id: str | None = None
    at: datetime


class PipelineFinding(ResponseModel):
    stage: str
    type: str
    severity: Severity
    description: str
    evidence: str | None = None
    created_at: datetime


class PipelineReview(ResponseModel):
    stage: str
    iteration: int = Field(ge=0)
    verdict: Literal["pass", "needs_refactor", "reject"]
    summary: str = ""
    issues: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime


class PipelineArtifact(ResponseModel):
    stage: str
    artifact_type: str
    name: str
    content: str
    created_at: datetime


class ClarifyRequest(RequestModel):
    answers: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=10_000)]], Field(min_length=1, max_length=20)
    ]


class HumanReviewDecision(RequestModel):
    decision: Literal["approve", "reject"]
    comment: ReviewComment = ""


class QueueStats(ResponseModel):
    depth: int = Field(ge=0)
    processing: int = Field(ge=0)
    running: int = Field(ge=0)
    queued: int = Field(ge=0)
    dead_letter: int = Field(ge=0)
    workers: int = Field(ge=0)
    oldest_queued_age_seconds: float | None = None


class DeadLetterEntry(ResponseModel):
    task_id: UUID
    goal: str
    reason: str
    retries: int = Field(ge=0)
    dead_lettered_at: datetime


class PipelineProgressEvent(ResponseModel):
    """Published on `nova:pipeline:events` (orchestrator Redis DB 2) and served as SSE to the dashboard."""

    task_id: UUID
    status: PipelineTaskState
    previous: PipelineTaskState | None = None
    stage: str | None = None
    detail: str | None = None
    at: datetime


# Pipeline housekeeping, statistics and notifications (the earlier implementation's routes, issue 20).

StatsWindowHours = Annotated[int, Field(ge=1, le=90 * 24)]


class PipelineTasksDeleted(ResponseModel):
    deleted: int = Field(ge=0)


class PipelineStats(ResponseModel):
    """Tasks created within the window, by status, with their outcome and cost; `needs_attention` counts the
    tasks waiting for a person now (clarification or human review), whenever they were created."""

    window_hours: int
    total: int = Field(ge=0)
    by_status: dict[str, int] = Field(default_factory=dict)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)
    cancelled: int = Field(ge=0)
    # completed / (completed + failed); None before any task finished.
    success_rate: float | None = Field(default=None, ge=0, le=1)
    cost_usd: float = Field(ge=0)
    avg_duration_seconds: float | None = None
    needs_attention: int = Field(ge=0)


class StageLatency(ResponseModel):
    """How long one stage took: from the transition (or stage) before it to its `stage_completed` note."""

    stage: str
    count: int = Field(ge=0)
    p50_seconds: float
    p95_seconds: float


class PipelineLatency(ResponseModel):
    window_hours: int
    stages: list[StageLatency] = Field(default_factory=list)
    # Creation to completion of the tasks completed within the window.
    end_to_end: StageLatency | None = None


class PipelineNotificationKind(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    NEEDS_CLARIFICATION = "needs_clarification"
    NEEDS_REVIEW = "needs_review"


NOTIFICATION_OF_STATE: dict[PipelineTaskState, PipelineNotificationKind] = {
    PipelineTaskState.COMPLETE: PipelineNotificationKind.COMPLETED,
    PipelineTaskState.FAILED: PipelineNotificationKind.FAILED,
    PipelineTaskState.CLARIFICATION_NEEDED: PipelineNotificationKind.NEEDS_CLARIFICATION,
    PipelineTaskState.PENDING_HUMAN_REVIEW: PipelineNotificationKind.NEEDS_REVIEW,
}


class PipelineNotification(ResponseModel):
    """One SSE event of `/api/v1/pipeline/notifications/stream`: a task of the caller's that finished or waits
    for a person."""

    kind: PipelineNotificationKind
    task_id: UUID
    status: PipelineTaskState
    goal: str
    detail: str | None = None
    at: datetime


# Skills and rules (admin): instruction snippets pod agents include, constraints every pipeline agent follows.

SkillContent = Annotated[str, Field(min_length=1, max_length=20_000)]
RuleText = Annotated[str, Field(min_length=1, max_length=2000)]
ToolPattern = Annotated[str, Field(min_length=1, max_length=500)]
ArgumentPattern = Annotated[str, Field(min_length=1, max_length=1000)]


class SkillCreate(RequestModel):
    name: SkillName
    description: Annotated[str, Field(max_length=2000)] = ""
    content: SkillContent
    enabled: bool = True


class SkillUpdate(UpdateRequestModel):
    name: SkillName | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    content: SkillContent | None = None
    enabled: bool | None = None


class SkillInfo(ResponseModel):
    id: UUID
    name: str
    description: str = ""
    content: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


class RuleCreate(RequestModel):
    """A constraint in plain language; `tool_pattern` (a regex matched against the whole tool name) and/or
    `argument_pattern` (a regex searched in the call's JSON arguments) make it enforced: a matching call is
    refused before it runs. Without either it is only put in the agents' prompts."""

    name: SkillName
    description: RuleText
    tool_pattern: ToolPattern | None = None
    argument_pattern: ArgumentPattern | None = None
    enabled: bool = True


class RuleUpdate(UpdateRequestModel):
    clearable = frozenset({"tool_pattern", "argument_pattern"})

    name: SkillName | None = None
    description: RuleText | None = None
    tool_pattern: ToolPattern | None = None
    argument_pattern: ArgumentPattern | None = None
    enabled: bool | None = None


class RuleInfo(ResponseModel):
    id: UUID
    name: str
    description: str
    tool_pattern: str | None = None
    argument_pattern: str | None = None
    enabled: bool
    created_at: datetime
    updated_at: datetime


# Friction log: "something went wrong here" from a dashboard page.

# A browser screenshot as a data URL; the service's body cap bounds the whole request before this does.
MAX_SCREENSHOT_CHARS = 1_000_000
Screenshot = Annotated[
    str,
    Field(max_length=MAX_SCREENSHOT_CHARS, pattern=r"^data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+$"),
]


class FrictionStatus(StrEnum):
    OPEN = "open"
    FIXING = "fixing"
    FIXED = "fixed"
    DISMISSED = "dismissed"


class FrictionCreate(RequestModel):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]
    page: Annotated[str, Field(max_length=2000)] = ""
    screenshot: Screenshot | None = None


class FrictionUpdate(UpdateRequestModel):
    status: FrictionStatus | None = None


class FrictionInfo(ResponseModel):
    """A report; `screenshot` only when one report is read, `has_screenshot` always."""

    id: UUID
    text: str
    page: str = ""
    status: FrictionStatus
    has_screenshot: bool = False
    screenshot: str | None = None
    task_id: UUID | None = None
    owner: str
    created_at: datetime
    updated_at: datetime
