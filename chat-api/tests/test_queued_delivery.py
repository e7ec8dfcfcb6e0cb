"""Durable delivery: what a user types while the orchestrator is away is kept in Redis and answered later.

The orchestrator here runs without llm-gateway and memory-service, so its answer is the in-band error naming
the service it could not reach: that error reaching the client proves the queued turn was delivered to, and
run by, the orchestrator. (tests/test_chat_stack.py repeats this with real answers from the full stack.)
"""

import asyncio
import contextlib
import json

import redis
import websockets

from .conftest import serve_chat_api


async def _frame(ws: websockets.ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 60))


def _db3(redis_base_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/3", decode_responses=True)


def _answered_by_orchestrator(frame: dict) -> bool:
    if frame["type"] == "stream_chunk":
        return True
    return frame["type"] == "error" and any(s in frame["content"] for s in ("memory-service", "llm-gateway"))


async def test_a_message_sent_while_the_orchestrator_is_down_is_queued_and_answered_when_it_returns(
    orchestrator, chat_settings, api_key, redis_base_url
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            session_id = (await _frame(ws))["session_id"]
            orchestrator.stop()
            await ws.send(json.dumps({"type": "user", "content": "are you there?"}))
            queued = await _frame(ws)
            pending = _db3(redis_base_url).lrange(f"nova:chat:session:{session_id}:pending", 0, -1)

            orchestrator.start()
            answer = await _frame(ws)

    assert queued == {"type": "queued", "session_id": session_id, "position": 0}
    assert [json.loads(p)["content"] for p in pending] == ["are you there?"]
    assert _answered_by_orchestrator(answer), answer
    assert _db3(redis_base_url).llen(f"nova:chat:session:{session_id}:pending") == 0


async def test_an_answer_produced_while_the_client_was_away_is_replayed_when_it_reconnects(
    orchestrator, chat_settings, api_key
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            session_id = (await _frame(ws))["session_id"]
            orchestrator.stop()
            await ws.send(json.dumps({"type": "user", "content": "answer me later"}))
            await _frame(ws)  # queued
        orchestrator.start()
        async with websockets.connect(f"{chat.ws_url}?token={api_key}&session_id={session_id}") as ws:
            system = await _frame(ws)
            replayed = await _frame(ws)

    assert system["session_id"] == session_id
    assert _answered_by_orchestrator(replayed), replayed


async def test_queued_messages_survive_a_chat_api_restart(
    orchestrator, chat_settings, api_key, redis_base_url
) -> None:
    settings = chat_settings(orchestrator.url)
    with serve_chat_api(settings) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            session_id = (await _frame(ws))["session_id"]
            orchestrator.stop()
            await ws.send(json.dumps({"type": "user", "content": "first"}))
            await ws.send(json.dumps({"type": "user", "content": "second"}))
            await _frame(ws)
            await _frame(ws)
    pending = _db3(redis_base_url).lrange(f"nova:chat:session:{session_id}:pending", 0, -1)
    orchestrator.start()

    with serve_chat_api(settings.model_copy(update={})) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}&session_id={session_id}") as ws:
            await _frame(ws)  # system
            answers = [await _frame(ws), await _frame(ws)]

    assert [json.loads(p)["content"] for p in pending] == ["first", "second"]
    assert all(_answered_by_orchestrator(a) for a in answers), answers
    assert _db3(redis_base_url).llen(f"nova:chat:session:{session_id}:pending") == 0


async def test_turns_sent_while_the_orchestrator_still_looked_up_are_each_told_they_are_queued(
    orchestrator, chat_settings, api_key
) -> None:
    # The orchestrator's port answers 503 ("not started"), but only after a pause: both turns are sent while
    # the first is still being attempted, so neither was sent to a gate already known to be down.
    async def slow_refusal(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(0.5)
            writer.write(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        writer.close()

    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            session_id = (await _frame(ws))["session_id"]
            orchestrator.stop()
            stand_in = await asyncio.start_server(slow_refusal, "127.0.0.1", orchestrator.port)
            try:
                await ws.send(json.dumps({"type": "user", "content": "first"}))
                await ws.send(json.dumps({"type": "user", "content": "second"}))
                frames = [await _frame(ws), await _frame(ws)]
            finally:
                stand_in.close()
    assert frames == [
        {"type": "queued", "session_id": session_id, "position": 0},
        {"type": "queued", "session_id": session_id, "position": 1},
    ]
