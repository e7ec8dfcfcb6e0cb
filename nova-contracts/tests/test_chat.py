import json
import typing
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from nova_contracts.chat import (
    AdapterState,
    AuthFrame,
    BridgeAdapterStatus,
    BridgeSession,
    BridgeStatus,
    ChatMessageType,
    ChatSession,
    ChatStreamEvent,
    ChatStreamRequest,
    ClientFrame,
    ErrorFrame,
    HeldChatReply,
    PendingChatMessage,
    PingFrame,
    PongFrame,
    QueuedFrame,
    ServerFrame,
    SessionInfo,
    StreamChunkFrame,
    StreamEndFrame,
    SystemFrame,
    UserFrame,
    parse_client_frame,
    parse_server_frame,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type": "user", "content": "hello"}', UserFrame(content="hello")),
        (
            b'{"type": "user", "content": "hi", "session_id": "s-1"}',
            UserFrame(content="hi", session_id="s-1"),
        ),
        ('{"type": "auth", "token": "sk-nova-abc"}', AuthFrame(token="sk-nova-abc")),
        (b'{"type": "ping"}', PingFrame()),
    ],
)
def test_parse_client_frame_picks_the_model_from_type(raw: str | bytes, expected: BaseModel) -> None:
    assert parse_client_frame(raw) == expected


@pytest.mark.parametrize(
    "frame",
    [
        SystemFrame(session_id="s-1"),
        QueuedFrame(session_id="s-1", position=2),
        StreamChunkFrame(session_id="s-1", delta="Hel"),
        StreamEndFrame(session_id="s-1", message_id="m-9"),
        ErrorFrame(content="orchestrator unavailable", code="upstream_unavailable"),
        PongFrame(),
    ],
    ids=lambda frame: type(frame).__name__,
)
def test_server_frame_round_trips_through_parse_server_frame(frame: BaseModel) -> None:
    assert parse_server_frame(frame.model_dump_json()) == frame


@pytest.mark.parametrize(
    "instance",
    [
        UserFrame(content="hello", session_id="s-1"),
        SessionInfo(
            session_id="s-1", agent_id="nova", created_at=datetime(2025, 5, 1, tzinfo=UTC), message_count=4
        ),
        ChatStreamRequest(message="hi", session_id="s-1", model="gpt-4o-mini", agent_id="nova"),
        ChatStreamEvent(delta="Hel"),
        ChatStreamEvent(status="searching memory", meta={"memories": 3}),
        ChatStreamEvent(error="model unavailable"),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_chat_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        pytest.param({"type": "user", "content": ""}, ("user", "content"), id="empty-content"),
        pytest.param({"type": "user", "content": "x" * 32_001}, ("user", "content"), id="content-too-long"),
        pytest.param({"type": "user", "content": "x", "role": "admin"}, ("user", "role"), id="unknown-field"),
        pytest.param(
            {"type": "user", "content": "x", "session_id": "a b"}, ("user", "session_id"), id="session"
        ),
        pytest.param({"type": "auth", "token": ""}, ("auth", "token"), id="empty-token"),
        pytest.param({"type": "stream_chunk", "delta": "x"}, (), id="server-type-from-client"),
        pytest.param({"content": "x"}, (), id="missing-type"),
    ],
)
def test_parse_client_frame_rejects_malformed_frames(raw: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_client_frame(json.dumps(raw))

    assert tuple(caught.value.errors()[0]["loc"]) == loc


def test_parse_client_frame_rejects_text_that_is_not_json() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_client_frame("hello")

    assert caught.value.errors()[0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        pytest.param({"message": ""}, ("message",), id="empty-message"),
        pytest.param({"message": "x" * 32_001}, ("message",), id="message-too-long"),
        pytest.param({"message": "x", "stream": False}, ("stream",), id="unknown-field"),
        pytest.param({"message": "x", "model": "m" * 129}, ("model",), id="model-too-long"),
    ],
)
def test_chat_stream_request_rejects_malformed_input_at_the_offending_field(
    first_error_loc: Any, payload: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert first_error_loc(ChatStreamRequest, payload) == loc


def test_session_info_rejects_a_negative_message_count(first_error_loc: Any) -> None:
    payload = {"session_id": "s", "created_at": "2025-05-01T00:00:00Z", "message_count": -1}

    assert first_error_loc(SessionInfo, payload) == ("message_count",)


def test_every_frame_type_is_a_chat_message_type() -> None:
    frames = [
        *typing.get_args(typing.get_args(ClientFrame)[0]),
        *typing.get_args(typing.get_args(ServerFrame)[0]),
    ]

    frame_types = {frame.model_fields["type"].default for frame in frames}

    assert frame_types <= {member.value for member in ChatMessageType}
    assert len(frame_types) == len(frames)


def test_auth_frame_keeps_the_token_out_of_its_repr() -> None:
    assert "sk-nova-secret" not in repr(AuthFrame(token="sk-nova-secret"))


@pytest.mark.parametrize(
    "instance",
    [
        ChatSession(
            session_id="s-1",
            agent_id="a-1",
            key_id="k-1",
            created_at=datetime(2025, 5, 1, tzinfo=UTC),
            last_active=datetime(2025, 5, 2, tzinfo=UTC),
            message_count=3,
        ),
        PendingChatMessage(
            message_id="m-1", session_id="s-1", content="hi", queued_at=datetime(2025, 5, 1, tzinfo=UTC)
        ),
        HeldChatReply(
            message_id="m-1", session_id="s-1", content="hello", created_at=datetime(2025, 5, 1, tzinfo=UTC)
        ),
        BridgeSession(session_id="s-1", agent_id="a-1", created_at=datetime(2025, 5, 1, tzinfo=UTC)),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_chat_state_kept_in_redis_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


def test_chat_session_rejects_a_negative_message_count(first_error_loc: Any) -> None:
    payload = {
        "session_id": "s",
        "created_at": "2025-05-01T00:00:00Z",
        "last_active": "2025-05-01T00:00:00Z",
        "message_count": -1,
    }

    assert first_error_loc(ChatSession, payload) == ("message_count",)


def test_bridge_status_round_trips_with_a_failed_adapter() -> None:
    status = BridgeStatus(
        adapters=[
            BridgeAdapterStatus(
                platform="telegram", configured=True, state=AdapterState.RUNNING, mode="polling"
            ),
            BridgeAdapterStatus(
                platform="slack", configured=True, state=AdapterState.FAILED, error="invalid_auth"
            ),
        ]
    )

    assert BridgeStatus.model_validate_json(status.model_dump_json()) == status
