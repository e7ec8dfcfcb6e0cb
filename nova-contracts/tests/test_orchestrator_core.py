"""Orchestrator contract additions: config mirror encoding, MCP servers, tools, usage, conversations."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel

from nova_contracts.chat import ConversationDetail, ConversationUpdate, StoredChatMessage
from nova_contracts.llm import ToolCall
from nova_contracts.orchestrator import (
    ApiKeyInvalidReason,
    ApiKeyValidation,
    ConfigUpdate,
    Identity,
    McpServerCreate,
    McpServerInfo,
    McpServerState,
    McpServerUpdate,
    McpTransport,
    TaskResult,
    TaskStatus,
    ToolCallRecord,
    ToolPermissionsUpdate,
    UsagePeriod,
    UsageSummary,
    config_redis_key,
    decode_config_value,
    encode_config_value,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "instance",
    [
        ApiKeyValidation(
            valid=False, reason=ApiKeyInvalidReason.REVOKED, key_id=uuid4(), name="ci", rate_limit_rpm=5
        ),
        Identity(name="Nova", greeting="Hi, I'm Nova."),
        ConfigUpdate(value={"groups": ["a"]}, description="why"),
        McpServerCreate(name="git", command="uvx", args=["mcp-server-git"], env={"TOKEN": "x"}),
        McpServerCreate(name="remote", transport=McpTransport.HTTP, url="http://127.0.0.1:9000/mcp"),
        McpServerInfo(
            id=uuid4(),
            name="git",
            transport=McpTransport.STDIO,
            command="uvx",
            enabled=True,
            state=McpServerState.ERROR,
            error="exited",
            created_at=NOW,
            updated_at=NOW,
        ),
        TaskResult(
            task_id=uuid4(),
            agent_id=uuid4(),
            status=TaskStatus.COMPLETED,
            steps=[ToolCallRecord(round=1, call=ToolCall(id="c", name="list_dir"), result="a.txt")],
            model="m",
        ),
        UsageSummary(
            period=UsagePeriod.WEEK, since=NOW, until=NOW, requests=0, input_tokens=0, output_tokens=0
        ),
        ConversationDetail(
            id="c",
            session_id="s",
            created_at=NOW,
            updated_at=NOW,
            messages=[StoredChatMessage(id="m", role="user", content="hi", created_at=NOW)],
        ),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


@pytest.mark.parametrize(
    ("model", "payload", "loc"),
    [
        pytest.param(
            McpServerCreate, {"name": "Git Server", "command": "x"}, ("name",), id="mcp-name-alphabet"
        ),
        pytest.param(McpServerCreate, {"name": "git"}, (), id="stdio-needs-command"),
        pytest.param(McpServerCreate, {"name": "git", "transport": "http"}, (), id="http-needs-url"),
        pytest.param(
            McpServerCreate, {"name": "git", "transport": "http", "url": "ftp://x"}, ("url",), id="url"
        ),
        pytest.param(
            McpServerCreate, {"name": "g", "command": "x", "env": {"1BAD": "v"}}, ("env",), id="env-key"
        ),
        pytest.param(McpServerUpdate, {}, (), id="update-empty"),
        pytest.param(McpServerUpdate, {"enabled": None}, ("enabled",), id="update-null"),
        pytest.param(ToolPermissionsUpdate, {"groups": {}}, ("groups",), id="no-groups"),
        pytest.param(ConversationUpdate, {"title": ""}, ("title",), id="empty-title"),
    ],
)
def test_request_rejects_malformed_input(
    first_error_loc: Any, model: type[BaseModel], payload: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert first_error_loc(model, payload)[: len(loc)] == loc


@pytest.mark.parametrize("value", ["local-first", 40, None, {"shell": False}, ["a", 1]])
def test_config_values_round_trip_through_their_redis_encoding(value: Any) -> None:
    assert decode_config_value(encode_config_value(value)) == value


def test_config_redis_keys_are_namespaced() -> None:
    assert config_redis_key("llm.routing_strategy") == "nova:config:llm.routing_strategy"
    assert encode_config_value("local-first") == '"local-first"'
