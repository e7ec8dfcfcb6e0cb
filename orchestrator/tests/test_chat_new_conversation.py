"""A chat turn that starts a conversation stores it and the user's message together, before the model call."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from nova_common.postgres import create_pool
from nova_contracts.orchestrator import AgentConfig, AgentInfo, AgentStatus
from orchestrator.agents.repository import AgentRepository, agent_key
from orchestrator.chat.repository import ConversationRepository


def _events(response: Any) -> list[Any]:
    return [
        json.loads(line[5:]) if line[5:].strip() != "[DONE]" else "[DONE]"
        for line in response.text.splitlines()
        if line.startswith("data:")
    ]


def test_a_new_conversation_holds_the_users_message_stamped_as_its_last_message(
    client: TestClient, admin: dict[str, str]
) -> None:
    # llm-gateway is down here: what the turn stored before calling it is all there is.
    response = client.post(
        "/api/v1/chat/stream",
        json={"message": "What  is the\ttide  table for Brest?"},
        headers={**admin, "X-Session-Id": "bench:brest"},
    )
    assert response.headers["X-Session-Id"] == "bench:brest"
    meta = _events(response)[0]["meta"]
    assert meta["session_id"] == "bench:brest"
    stored = client.get(f"/api/v1/conversations/{meta['conversation_id']}", headers=admin).json()
    assert stored["session_id"] == "bench:brest"
    assert stored["title"] == "What is the tide table for Brest?"
    assert stored["message_count"] == 1
    assert [(m["id"], m["role"]) for m in stored["messages"]] == [(meta["user_message_id"], "user")]
    assert stored["last_message_at"] == stored["messages"][0]["created_at"]


def test_a_new_conversation_without_a_session_id_is_continued_by_its_own_id(
    client: TestClient, admin: dict[str, str]
) -> None:
    first = client.post("/api/v1/chat/stream", json={"message": "one"}, headers=admin)
    session_id = first.headers["X-Session-Id"]
    assert _events(first)[0]["meta"]["conversation_id"] == session_id
    second = client.post(
        "/api/v1/chat/stream", json={"message": "two"}, headers={**admin, "X-Session-Id": session_id}
    )
    assert _events(second)[0]["meta"]["conversation_id"] == session_id
    messages = client.get(f"/api/v1/conversations/{session_id}/messages", headers=admin).json()
    assert [m["content"] for m in messages] == ["one", "two"]


@pytest.fixture
async def agent_redis(redis_base_url: str) -> AsyncIterator[aioredis.Redis]:
    """The orchestrator's agents DB (2)."""
    redis = aioredis.from_url(f"{redis_base_url}/2", decode_responses=True)
    yield redis
    await redis.aclose()


def _agent(name: str, *, primary: bool = False) -> AgentInfo:
    return AgentInfo(
        id=uuid4(),
        config=AgentConfig(name=name),
        status=AgentStatus.IDLE,
        created_at=datetime.now(UTC),
        primary=primary,
    )


async def test_marking_an_agent_running_changes_its_status_but_never_recreates_a_deleted_one(
    agent_redis: aioredis.Redis,
) -> None:
    # A turn marks its agent running, then idle, each in one Redis round trip; a turn that ends after its agent
    # was deleted must not leave a stub hash behind.
    agents = AgentRepository(agent_redis)
    agent = _agent("marked")
    await agents.save(agent)
    await agents.set_status(agent.id, AgentStatus.RUNNING, active=True)
    marked = await agents.get(agent.id)
    assert marked is not None and marked.status is AgentStatus.RUNNING and marked.last_active is not None
    assert marked.config.name == "marked"

    await agents.delete(agent.id)
    await agents.set_status(agent.id, AgentStatus.IDLE)
    assert await agent_redis.exists(agent_key(agent.id)) == 0


def _stream_locks(redis_base_url: str) -> list[str]:
    import redis

    found: list[str] = []
    for db in range(16):
        client = redis.Redis.from_url(f"{redis_base_url}/{db}", decode_responses=True)
        try:
            found += list(client.scan_iter("nova:chat:streaming:*"))
        finally:
            client.close()
    return found


def test_turns_leave_no_conversation_lock_behind_whether_new_continued_or_refused(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    # A new conversation's lock is taken before the session is known to be new; a continued or refused
    # turn must drop that spare lock, not leave it for its five minutes.
    first = client.post("/api/v1/chat/stream", json={"message": "one"}, headers=admin)
    session = {**admin, "X-Session-Id": first.headers["X-Session-Id"]}
    client.post("/api/v1/chat/stream", json={"message": "two"}, headers=session)
    unknown_agent = {"message": "three", "agent_id": "00000000-0000-4000-8000-000000000000"}
    assert client.post("/api/v1/chat/stream", json=unknown_agent, headers=admin).status_code == 404
    assert _stream_locks(redis_base_url) == []


async def test_the_primary_agent_is_read_with_its_pointer_and_a_dangling_pointer_reads_as_none(
    agent_redis: aioredis.Redis,
) -> None:
    agents = AgentRepository(agent_redis)
    assert await agents.primary() is None
    agent = _agent("primary", primary=True)
    await agents.save(agent)
    await agents.set_primary_pointer(agent.id)
    assert await agents.primary() == agent
    await agents.delete(agent.id)
    assert await agents.primary() is None


async def test_a_turns_agent_is_read_in_the_round_trip_that_takes_its_lock(
    agent_redis: aioredis.Redis,
) -> None:
    agents = AgentRepository(agent_redis)
    primary, other = _agent("primary", primary=True), _agent("other")
    for agent in (primary, other):
        await agents.save(agent)
    await agents.set_primary_pointer(primary.id)
    assert await agents.get_and_set(None, "turn-lock-1", "a", seconds=60) == (primary, True)
    assert await agents.get_and_set(other.id, "turn-lock-2", "b", seconds=60) == (other, True)
    # A lock already held is reported as such; the agent is read all the same.
    assert await agents.get_and_set(other.id, "turn-lock-2", "c", seconds=60) == (other, False)
    assert await agent_redis.get("turn-lock-2") == "b" and 0 < await agent_redis.ttl("turn-lock-2") <= 60
    await agents.delete(other.id)
    assert await agents.get_and_set(other.id, "turn-lock-3", "d", seconds=60) == (None, True)


def test_a_turn_whose_model_call_fails_reports_its_stored_message_first(
    client: TestClient, admin: dict[str, str]
) -> None:
    # The new conversation and its first message are committed before the response starts, and announced
    # first (llm-gateway is down here, so the model call fails).
    agent_id = client.post(
        "/api/v1/agents", json={"config": {"name": "no-memory", "memory_tiers": []}}, headers=admin
    ).json()["id"]
    response = client.post(
        "/api/v1/chat/stream", json={"message": "hello there", "agent_id": agent_id}, headers=admin
    )
    events = _events(response)
    assert "user_message_id" in events[0]["meta"]
    timings = next(e["meta"]["timings_ms"] for e in events if "timings_ms" in (e.get("meta") or {}))
    assert "conversation" in timings  # the one round trip that found no conversation and started this one
    errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1 and "llm-gateway" in errors[0]
    assert events[-1] == "[DONE]"
    stored = client.get(f"/api/v1/conversations/{events[0]['meta']['conversation_id']}", headers=admin).json()
    assert [(m["id"], m["content"]) for m in stored["messages"]] == [
        (events[0]["meta"]["user_message_id"], "hello there")
    ]


def test_the_users_message_is_committed_before_the_model_is_called_for_a_new_and_a_continued_conversation(
    database_url: str, redis_base_url: str, workspace: Path, admin: dict[str, str]
) -> None:
    """The issue's durability rule: whatever the turn prepares alongside, the message the model is asked about
    is already stored (a crash during the model call loses no message)."""
    import asyncpg
    from fastapi import FastAPI, Request
    from fastapi.responses import StreamingResponse
    from tests.fakes import serve_in_thread

    from orchestrator.main import create_app

    from .conftest import make_settings

    seen: list[list[str]] = []
    gateway = FastAPI()

    @gateway.post("/stream")
    async def stream(request: Request) -> StreamingResponse:
        body = await request.json()
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT content FROM messages WHERE conversation_id = $1::uuid ORDER BY created_at",
                body["metadata"]["conversation_id"],
            )
        finally:
            await conn.close()
        seen.append([r["content"] for r in rows])

        async def chunks() -> AsyncIterator[bytes]:
            yield b'data: {"delta": "noted"}\n\n'
            yield b'data: {"finish_reason": "stop", "input_tokens": 1, "output_tokens": 1}\n\n'
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    with serve_in_thread(gateway) as live:
        settings = make_settings(database_url, redis_base_url, workspace, LLM_GATEWAY_URL=live.url)
        with TestClient(create_app(settings)) as client:
            # No memory: nothing else the turn yields stands between the message's write and the model call.
            agent = client.post(
                "/api/v1/agents", json={"config": {"name": "no-recall", "memory_tiers": []}}, headers=admin
            ).json()
            turn = {"agent_id": agent["id"]}
            first = client.post(
                "/api/v1/chat/stream",
                json={**turn, "message": "first words"},
                headers={**admin, "X-Session-Id": "durable"},
            )
            assert first.status_code == 200, first.text
            second = client.post(
                "/api/v1/chat/stream",
                json={**turn, "message": "second words"},
                headers={**admin, "X-Session-Id": "durable"},
            )
            assert second.status_code == 200, second.text
    assert seen == [["first words"], ["first words", "noted", "second words"]]


@pytest.mark.parametrize(
    ("session_id", "accepted"),
    [
        ("telegram:42", True),
        ("slack/T1/C2@u.3-x_y", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("with space", False),
        ("semi;colon", False),
        ("", False),
        ("caf\u00e9", False),
    ],
)
def test_the_chat_routes_fast_path_takes_exactly_the_session_ids_the_route_accepts(
    client: TestClient, admin: dict[str, str], session_id: str, accepted: bool
) -> None:
    # The fast path (served ahead of FastAPI's router) hands a session id it does not take to the route, whose
    # 422 names the header; one it takes starts the conversation under that id.
    response = client.post(
        "/api/v1/chat/stream",
        json={"message": "hello"},
        headers={**admin, "X-Session-Id": session_id.encode()},
    )
    if accepted:
        assert response.status_code == 200, response.text
        assert response.headers["X-Session-Id"] == session_id
    else:
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["header", "X-Session-Id"]


def _open(repository: ConversationRepository, session_id: str | None, content: str) -> Any:
    return repository.open_session(
        uuid4(),
        session_id=session_id,
        agent_id="agent-1",
        owner_kind="admin",
        api_key_id=None,
        content=content,
        title=content,
    )


async def test_opening_a_session_returns_an_existing_conversation_untouched_or_starts_a_new_one_with_its_message(
    database_url: str, client: TestClient
) -> None:
    # `client` has applied the migrations.
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        repository = ConversationRepository(pool)
        started = await _open(repository, "open:one", "first")
        assert started is not None and started.user_message is not None
        assert started.conversation["session_id"] == "open:one"
        assert started.conversation["message_count"] == 1
        assert started.user_message["content"] == "first"

        again = await _open(repository, "open:one", "second")
        assert again is not None and again.user_message is None  # found, and nothing written
        assert again.conversation["id"] == started.conversation["id"]
        assert again.conversation["message_count"] == 1
        assert [
            m["content"] for m in await repository.messages(UUID(again.conversation["id"]), limit=10)
        ] == ["first"]

        anonymous = await _open(repository, None, "no session id")
        assert anonymous is not None and anonymous.user_message is not None
        assert anonymous.conversation["session_id"] == anonymous.conversation["id"]
    finally:
        await pool.close()


async def test_requests_opening_the_same_new_session_at_once_start_one_conversation_with_one_message(
    database_url: str, client: TestClient
) -> None:
    pool = await create_pool(database_url, min_size=8, max_size=8)
    try:
        repository = ConversationRepository(pool)
        opened = await asyncio.gather(*(_open(repository, "open:race", f"message {i}") for i in range(8)))
        starters = [o for o in opened if o is not None and o.user_message is not None]
        assert len(starters) == 1
        # The others found it (or met it mid-start: None, answered "still being written"); none wrote.
        assert all(o is None or o.conversation["id"] == starters[0].conversation["id"] for o in opened)
        count = await pool.fetchval(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE c.session_id = 'open:race'"
        )
        assert count == 1
    finally:
        await pool.close()
