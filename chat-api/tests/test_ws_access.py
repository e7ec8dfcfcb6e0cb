"""Who may open `/ws/chat`, against a real orchestrator: browser origins, the admin secret, the local rule,
and how many turns one session may keep waiting."""

import asyncio
import json

import pytest
import redis
import websockets
from tests.stack import STACK_ADMIN_SECRET
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .conftest import serve_chat_api


async def _frame(ws: websockets.ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 60))


async def _closed(ws: websockets.ClientConnection) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    return closed.value


def _answered_by_orchestrator(frame: dict) -> bool:
    """Without llm-gateway and memory-service, the orchestrator's answer is its in-band error naming them."""
    if frame["type"] == "stream_chunk":
        return True
    return frame["type"] == "error" and any(s in frame["content"] for s in ("memory-service", "llm-gateway"))


async def test_a_page_from_a_foreign_origin_is_refused_and_the_dashboard_and_test_page_are_not(
    orchestrator, chat_settings, api_key
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        url = f"{chat.ws_url}?token={api_key}"
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, origin="http://evil.example"):
                pass
        with pytest.raises(InvalidStatus) as null_origin:
            async with websockets.connect(url, origin="null"):
                pass
        async with websockets.connect(url, origin="http://localhost:3000") as ws:
            dashboard = await _frame(ws)
        async with websockets.connect(url, origin=chat.url) as ws:
            own_page = await _frame(ws)

    assert refused.value.response.status_code == 403
    assert null_origin.value.response.status_code == 403
    assert dashboard["type"] == own_page["type"] == "system"


async def test_an_origin_the_admin_lists_is_allowed(orchestrator, chat_settings, api_key) -> None:
    settings = chat_settings(orchestrator.url, ws_allowed_origins="https://chat.example.com")
    with serve_chat_api(settings) as chat:
        async with websockets.connect(
            f"{chat.ws_url}?token={api_key}",
            origin="https://chat.example.com",
        ) as ws:
            system = await _frame(ws)

    assert system["type"] == "system"


async def test_the_admin_secret_authenticates_and_its_turn_is_answered_by_the_orchestrator(
    orchestrator, chat_settings
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(chat.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": STACK_ADMIN_SECRET}))
            system = await _frame(ws)
            await ws.send(json.dumps({"type": "user", "content": "hello as the admin"}))
            answer = await _frame(ws)

    assert system["type"] == "system"
    assert _answered_by_orchestrator(answer), answer


async def test_a_wrong_admin_secret_is_refused_with_4001(orchestrator, chat_settings) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(chat.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": STACK_ADMIN_SECRET + "-not"}))
            closed = await _closed(ws)

    assert closed.rcvd is not None and closed.rcvd.code == 4001


async def _needs_a_key(url: str, **connect: object) -> bool:
    """Whether a client that sends no key is refused: 4001 at its first frame, or (once the kit's Host
    check covers WebSockets) no handshake at all."""
    try:
        async with websockets.connect(url, proxy=None, **connect) as ws:
            await ws.send(json.dumps({"type": "user", "content": "let me in"}))
            closed = await _closed(ws)
    except InvalidStatus as exc:
        return exc.response.status_code in (400, 403)
    return closed.rcvd is not None and closed.rcvd.code == 4001


async def test_without_require_auth_only_a_direct_local_client_goes_without_a_key(
    orchestrator, chat_settings
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url, require_auth=False)) as chat:
        port = chat.settings.port
        async with websockets.connect(chat.ws_url) as ws:
            local = await _frame(ws)
        # A proxy hop (the request came from elsewhere) and a rebinding DNS name both need a key.
        proxied = await _needs_a_key(chat.ws_url, additional_headers={"X-Forwarded-For": "203.0.113.9"})
        rebound = await _needs_a_key(f"ws://evil.example:{port}/ws/chat", host="127.0.0.1", port=port)

    assert local["type"] == "system"
    assert proxied
    assert rebound


async def test_turns_past_the_session_cap_get_queue_full_and_the_queued_ones_are_still_answered(
    orchestrator, chat_settings, api_key, redis_base_url
) -> None:
    db3 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/3", decode_responses=True)
    with serve_chat_api(chat_settings(orchestrator.url, ws_max_pending_messages=3)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            session_id = (await _frame(ws))["session_id"]
            orchestrator.stop()
            for n in range(5):
                await ws.send(json.dumps({"type": "user", "content": f"turn {n}"}))
            refusals: list[dict] = []
            while len(refusals) < 2:
                frame = await _frame(ws)
                if frame["type"] == "error":
                    refusals.append(frame)
            pending = db3.lrange(f"nova:chat:session:{session_id}:pending", 0, -1)

            orchestrator.start()
            answers: list[dict] = []
            while len(answers) < 3:
                frame = await _frame(ws)
                if frame["type"] != "queued":
                    answers.append(frame)

    assert [r["code"] for r in refusals] == ["queue_full", "queue_full"]
    assert "3 messages are already waiting" in refusals[0]["content"]
    assert [json.loads(p)["content"] for p in pending] == ["turn 0", "turn 1", "turn 2"]
    assert all(_answered_by_orchestrator(a) for a in answers), answers
    assert db3.llen(f"nova:chat:session:{session_id}:pending") == 0
