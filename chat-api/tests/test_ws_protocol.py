"""chat-api's WebSocket protocol against a real orchestrator: auth, sessions, limits, malformed input."""

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from nova_contracts.chat import parse_server_frame

from .conftest import create_key, serve_chat_api


async def _frame(ws: websockets.ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 30))


async def _closed(ws: websockets.ClientConnection) -> ConnectionClosed:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    return closed.value


async def test_a_bad_token_in_the_url_closes_the_socket_with_4001(orchestrator, chat_settings) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token=sk-nova-not-a-real-key") as ws:
            error = await _frame(ws)
            closed = await _closed(ws)

    assert error["type"] == "error" and error["code"] == "unauthorized"
    assert closed.rcvd is not None and closed.rcvd.code == 4001


async def test_a_first_frame_that_is_not_auth_closes_with_4001_when_auth_is_required(
    orchestrator, chat_settings
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(chat.ws_url) as ws:
            await ws.send(json.dumps({"type": "user", "content": "let me in"}))
            closed = await _closed(ws)

    assert closed.rcvd is not None and closed.rcvd.code == 4001


async def test_a_revoked_key_is_refused_and_a_valid_one_in_the_auth_frame_gets_a_session(
    orchestrator, chat_settings
) -> None:
    valid = create_key(orchestrator.url, "valid")
    revoked = create_key(orchestrator.url, "revoked")
    keys = httpx.get(
        f"{orchestrator.url}/api/v1/keys", headers={"X-Admin-Secret": "test-admin-secret-0123456789"}
    ).json()
    revoked_id = next(k["id"] for k in keys if k["name"] == "revoked")
    httpx.delete(
        f"{orchestrator.url}/api/v1/keys/{revoked_id}",
        headers={"X-Admin-Secret": "test-admin-secret-0123456789"},
    )
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(chat.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": revoked}))
            refused = await _closed(ws)
        async with websockets.connect(chat.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": valid}))
            system = parse_server_frame(await ws.recv())

    assert refused.rcvd is not None and refused.rcvd.code == 4001
    assert system.type == "system" and system.session_id


async def test_reconnecting_with_the_session_id_resumes_it_but_not_for_another_key(
    orchestrator, chat_settings, api_key
) -> None:
    other_key = create_key(orchestrator.url, "other")
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            first = (await _frame(ws))["session_id"]
        async with websockets.connect(f"{chat.ws_url}?token={api_key}&session_id={first}") as ws:
            resumed = (await _frame(ws))["session_id"]
        async with websockets.connect(f"{chat.ws_url}?token={other_key}&session_id={first}") as ws:
            foreign = (await _frame(ws))["session_id"]

    assert resumed == first
    assert foreign != first


async def test_malformed_frames_get_an_error_and_the_connection_stays_usable(
    orchestrator, chat_settings, api_key
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            await _frame(ws)
            await ws.send("not json")
            not_json = await _frame(ws)
            await ws.send(json.dumps({"type": "user", "content": ""}))
            empty = await _frame(ws)
            await ws.send(json.dumps({"type": "ping"}))
            pong = await _frame(ws)

    assert not_json["code"] == empty["code"] == "invalid_frame"
    assert "content" in empty["content"]
    assert pong == {"type": "pong"}


async def test_connections_beyond_the_per_ip_limit_are_closed_with_1013(
    orchestrator, chat_settings, api_key
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url, ws_max_per_ip=2)) as chat:
        url = f"{chat.ws_url}?token={api_key}"
        async with websockets.connect(url) as one, websockets.connect(url) as two:
            await _frame(one)
            await _frame(two)
            async with websockets.connect(url) as three:
                refused = await _closed(three)
        # Closing the first two frees the slots again.
        async with websockets.connect(url) as again:
            accepted = await _frame(again)

    assert refused.rcvd is not None and refused.rcvd.code == 1013
    assert "your address" in refused.rcvd.reason
    assert accepted["type"] == "system"


async def test_connections_beyond_the_server_limit_are_closed_with_1013(
    orchestrator, chat_settings, api_key
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url, ws_max_connections=1)) as chat:
        url = f"{chat.ws_url}?token={api_key}"
        async with websockets.connect(url) as one:
            await _frame(one)
            async with websockets.connect(url) as two:
                refused = await _closed(two)

    assert refused.rcvd is not None and refused.rcvd.code == 1013
    assert "this server" in refused.rcvd.reason


async def test_a_message_over_the_size_limit_closes_with_1009(orchestrator, chat_settings, api_key) -> None:
    with serve_chat_api(chat_settings(orchestrator.url, ws_max_message_bytes=2048)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            await _frame(ws)
            await ws.send(json.dumps({"type": "user", "content": "x" * 5000}))
            closed = await _closed(ws)

    assert closed.rcvd is not None and closed.rcvd.code == 1009


async def test_an_idle_connection_is_closed(orchestrator, chat_settings, api_key) -> None:
    with serve_chat_api(chat_settings(orchestrator.url, ws_idle_timeout_seconds=0.5)) as chat:
        async with websockets.connect(f"{chat.ws_url}?token={api_key}") as ws:
            await _frame(ws)
            closed = await _closed(ws)

    assert closed.rcvd is not None and closed.rcvd.code == 1000
    assert closed.rcvd.reason.startswith("idle")


async def test_the_test_ui_is_served_with_a_strict_content_security_policy(
    orchestrator, chat_settings
) -> None:
    with serve_chat_api(chat_settings(orchestrator.url)) as chat:
        async with httpx.AsyncClient(base_url=chat.url) as client:
            page = await client.get("/")
            script = await client.get("/static/markdown.js")
        # HTTP clients remove `..` segments before sending, so the traversal goes out over a raw socket,
        # byte for byte; `chat_api/config.py` really is `static/../config.py` on disk.
        traversals = {
            path: await _raw_get(chat.url, path)
            for path in ("/static/../config.py", "/static/%2e%2e/config.py", "/static/..%2fconfig.py")
        }

    assert page.status_code == 200 and "<textarea" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    for path, (status, body) in traversals.items():
        assert status == 404, f"{path}: {status}"
        assert "class Settings" not in body and "BaseSettings" not in body, path


async def _raw_get(base_url: str, path: str) -> tuple[int, str]:
    """GET `path` exactly as written (no client-side normalisation); the status code and the body."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = response.decode("utf-8", "replace").partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body
