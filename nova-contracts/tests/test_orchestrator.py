from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from nova_contracts.llm import Message, ToolCall
from nova_contracts.memory import MemoryTier
from nova_contracts.orchestrator import (
    TERMINAL_STATES,
    AgentConfig,
    AgentInfo,
    AgentStatus,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyValidation,
    CreateAgentRequest,
    PipelineTaskState,
    SubmitTaskRequest,
    TaskResult,
    TaskStatus,
    TaskType,
    UpdateAgentRequest,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
AGENT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
CONFIG = AgentConfig(
    name="Nova",
    system_prompt="You are Nova.",
    model="claude-sonnet-4-6",
    tools=["search_memory", "run_code"],
    memory_tiers=[MemoryTier.SEMANTIC],
    max_context_tokens=32_000,
    fallback_models=["gpt-4o-mini"],
    metadata={"owner": "ops", "limits": {"daily_usd": 5}},
)
KEY_INFO: dict[str, Any] = {
    "id": uuid4(),
    "name": "ci",
    "key_prefix": "sk-nova-ab12",
    "rate_limit_rpm": 60,
    "created_at": NOW,
}


@pytest.mark.parametrize(
    "instance",
    [
        CreateAgentRequest(config=CONFIG),
        CreateAgentRequest(config=AgentConfig(name="minimal")),
        UpdateAgentRequest(system_prompt="Be terse.", model=None),
        AgentInfo(id=uuid4(), config=CONFIG, status=AgentStatus.PAUSED, created_at=NOW, last_active=NOW),
        SubmitTaskRequest(
            agent_id=uuid4(),
            task_type=TaskType.TOOL_USE,
            messages=[Message(role="user", content="List the repo")],
            session_id="s-1",
            metadata={"source": "ide"},
        ),
        TaskResult(
            task_id=uuid4(),
            agent_id=uuid4(),
            status=TaskStatus.COMPLETED,
            response="Done.",
            tool_calls=[ToolCall(id="c1", name="list_dir", arguments={"path": "."})],
            started_at=NOW,
            completed_at=NOW,
            input_tokens=10,
            output_tokens=2,
        ),
        ApiKeyCreate(name="ci", rate_limit_rpm=600, expires_at=NOW),
        ApiKeyInfo(**KEY_INFO, last_used_at=NOW, revoked_at=NOW, expires_at=NOW),
        ApiKeyCreated(**KEY_INFO, key="sk-nova-ab12cd34"),
        ApiKeyValidation(valid=True, key_id=uuid4(), name="ci", rate_limit_rpm=60),
        ApiKeyValidation(valid=False),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_orchestrator_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


def task(**fields: Any) -> dict[str, Any]:
    return {"agent_id": AGENT_ID, "messages": [{"role": "user", "content": "hi"}], **fields}


@pytest.mark.parametrize(
    ("model", "payload", "loc"),
    [
        pytest.param(
            CreateAgentRequest, {"config": {"name": "a", "temp": 1}}, ("config", "temp"), id="unknown-field"
        ),
        pytest.param(CreateAgentRequest, {"config": {"name": ""}}, ("config", "name"), id="empty-name"),
        pytest.param(CreateAgentRequest, {"config": {"name": "n" * 101}}, ("config", "name"), id="long-name"),
        pytest.param(
            CreateAgentRequest,
            {"config": {"name": "a", "memory_tiers": ["long_term"]}},
            ("config", "memory_tiers", 0),
            id="wrong-tier",
        ),
        pytest.param(
            CreateAgentRequest,
            {"config": {"name": "a", "max_context_tokens": 100}},
            ("config", "max_context_tokens"),
            id="context-too-small",
        ),
        pytest.param(
            CreateAgentRequest,
            {"config": {"name": "a", "fallback_models": ["m"] * 11}},
            ("config", "fallback_models"),
            id="too-many-fallbacks",
        ),
        pytest.param(UpdateAgentRequest, {"name": None}, ("name",), id="update-null-name"),
        pytest.param(UpdateAgentRequest, {"status": "idle"}, ("status",), id="update-unknown-field"),
        pytest.param(SubmitTaskRequest, task(messages=[]), ("messages",), id="no-messages"),
        pytest.param(SubmitTaskRequest, task(agent_id="agent-1"), ("agent_id",), id="agent-id-not-uuid"),
        pytest.param(SubmitTaskRequest, task(task_type="dance"), ("task_type",), id="wrong-task-type"),
        pytest.param(
            SubmitTaskRequest,
            task(messages=[{"role": "user", "text": "hi"}]),
            ("messages", 0, "text"),
            id="message",
        ),
        pytest.param(ApiKeyCreate, {"name": ""}, ("name",), id="key-empty-name"),
        pytest.param(ApiKeyCreate, {"name": "k" * 101}, ("name",), id="key-long-name"),
        pytest.param(ApiKeyCreate, {"name": "k", "rate_limit_rpm": 0}, ("rate_limit_rpm",), id="rpm-zero"),
        pytest.param(
            ApiKeyCreate, {"name": "k", "rate_limit_rpm": 100_001}, ("rate_limit_rpm",), id="rpm-high"
        ),
        pytest.param(
            ApiKeyCreate,
            {"name": "k", "expires_at": "2030-01-01T00:00:00"},
            ("expires_at",),
            id="naive-expiry",
        ),
        pytest.param(ApiKeyCreate, {"name": "k", "scopes": ["admin"]}, ("scopes",), id="key-unknown-field"),
        pytest.param(
            TaskResult,
            {"task_id": AGENT_ID, "agent_id": AGENT_ID, "status": "done"},
            ("status",),
            id="wrong-task-status",
        ),
    ],
)
def test_orchestrator_request_rejects_malformed_input_at_the_offending_field(
    first_error_loc: Any, model: type[BaseModel], payload: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert first_error_loc(model, payload)[: len(loc)] == loc


def test_agent_config_defaults_leave_the_model_to_the_orchestrator() -> None:
    config = AgentConfig(name="a")

    assert config.model is None
    assert config.memory_tiers == [MemoryTier.EPISODIC, MemoryTier.SEMANTIC]
    assert config.max_context_tokens == 8192


def test_update_agent_request_with_no_fields_is_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one field"):
        UpdateAgentRequest.model_validate({})


def test_agent_config_update_replaces_only_the_fields_sent() -> None:
    patch = UpdateAgentRequest.model_validate_json('{"tools": ["web_search"], "model": null}')

    updated = CONFIG.updated(patch)

    assert updated.tools == ["web_search"]
    assert updated.model is None
    assert updated.system_prompt == CONFIG.system_prompt
    assert updated.fallback_models == CONFIG.fallback_models


def test_created_api_key_keeps_the_raw_key_out_of_its_repr() -> None:
    created = ApiKeyCreated(**KEY_INFO, key="sk-nova-secret-value")

    assert "sk-nova-secret-value" not in repr(created)
    assert created.model_dump()["key"] == "sk-nova-secret-value"


def test_pipeline_has_the_eleven_states_plus_clarification() -> None:
    assert {state.value for state in PipelineTaskState} == {
        "submitted",
        "queued",
        "context_running",
        "task_running",
        "guardrail_running",
        "review_running",
        "pending_human_review",
        "completing",
        "complete",
        "failed",
        "cancelled",
        "clarification_needed",
    }


def test_only_complete_failed_and_cancelled_are_terminal() -> None:
    assert {PipelineTaskState("complete"), PipelineTaskState("failed"), PipelineTaskState("cancelled")} == (
        TERMINAL_STATES
    )
    assert PipelineTaskState.CLARIFICATION_NEEDED not in TERMINAL_STATES
    assert isinstance(TERMINAL_STATES, frozenset)
