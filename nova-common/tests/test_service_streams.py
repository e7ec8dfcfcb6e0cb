"""`ServiceClient.post_stream`: streamed calls between services. A plain-http peer is read by the kit's lean
client (`nova_common.plain_http`), anything else by httpx; both give the caller the same answer and errors."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request

from nova_common.app import create_service_app
from nova_common.auth import SERVICE_HEADER
from nova_common.config import NovaSettings
from nova_common.errors import NotFound, UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_common.logging import request_id_var
from nova_common.sse import json_event_stream, sse_data
from nova_common.testing import serving

TOKEN = "s" * 24
JSON = {"Content-Type": "application/json"}


@asynccontextmanager
async def _nothing(app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(seen: list[dict[str, object]]) -> FastAPI:
    app = create_service_app(NovaSettings(), title="t", description="", version="0", lifespan=_nothing)

    @app.post("/echo-stream")
    async def echo_stream(request: Request):  # type: ignore[no-untyped-def]
        body = await request.json()
        assert request.client is not None
        seen.append(
            {
                "port": request.client.port,
                "token": request.headers.get(SERVICE_HEADER),
                "request_id": request.headers.get("X-Request-ID"),
            }
        )

        async def items() -> AsyncIterator[dict[str, object]]:
            for n in range(body["count"]):
                yield {"n": n, "text": body["text"]}
                await asyncio.sleep(body.get("pause", 0))

        return json_event_stream(request, items())

    @app.post("/refuse")
    async def refuse() -> None:
        raise NotFound("agent 42 not found")

    @app.post("/silent")
    async def silent() -> None:
        await asyncio.sleep(30)

    return app


@pytest.fixture
async def peer() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    seen: list[dict[str, object]] = []
    async with serving(_app(seen)) as (_, url):
        yield url, seen


async def _payloads(client: ServiceClient, body: dict[str, object], limit: int | None = None) -> list[object]:
    """The stream's JSON payloads (the first `limit` of them, then leave)."""
    payloads: list[object] = []
    async with client.post_stream(
        "/echo-stream", json.dumps(body).encode(), headers=JSON, read_timeout=5
    ) as answer:
        assert answer.status == 200
        async for data in sse_data(answer.lines(), require_done=limit is None):
            payloads.append(json.loads(data))
            if limit is not None and len(payloads) == limit:
                break
    return payloads


async def test_a_plain_http_peer_streams_lines_with_the_kits_headers_on_one_kept_alive_connection(
    peer: tuple[str, list[dict[str, object]]],
) -> None:
    url, seen = peer
    client = ServiceClient("peer", url, service_token=TOKEN)
    assert client._plain is not None  # this peer is read by the lean client
    token = request_id_var.set("streamed-id-7")
    try:
        first = await _payloads(client, {"count": 3, "text": "ünïcode"})
        second = await _payloads(client, {"count": 1, "text": "again"})
    finally:
        request_id_var.reset(token)
        await client.aclose()
    assert first == [{"n": 0, "text": "ünïcode"}, {"n": 1, "text": "ünïcode"}, {"n": 2, "text": "ünïcode"}]
    assert second == [{"n": 0, "text": "again"}]
    assert [s["token"] for s in seen] == [TOKEN, TOKEN]
    assert [s["request_id"] for s in seen] == ["streamed-id-7", "streamed-id-7"]
    # Read to its end, the first answer left its connection for the second call.
    assert seen[0]["port"] == seen[1]["port"]


async def test_a_stream_left_early_is_not_reused(peer: tuple[str, list[dict[str, object]]]) -> None:
    url, seen = peer
    client = ServiceClient("peer", url)
    try:
        still_sending = {"count": 50, "text": "x", "pause": 0.05}
        assert await _payloads(client, still_sending, limit=1) == [{"n": 0, "text": "x"}]
        assert len(await _payloads(client, {"count": 2, "text": "y"})) == 2
    finally:
        await client.aclose()
    # Closing a half-read answer's connection is what tells the peer to stop; the next call opened its own.
    assert seen[0]["port"] != seen[1]["port"]


async def test_an_error_answer_keeps_its_status_and_detail(peer: tuple[str, list[dict[str, object]]]) -> None:
    url, _ = peer
    client = ServiceClient("peer", url)
    try:
        async with client.post_stream("/refuse", b"{}", headers=JSON, read_timeout=5) as answer:
            status, body = answer.status, await answer.read()
        # The connection stays usable after an error answer read whole.
        assert len(await _payloads(client, {"count": 1, "text": "z"})) == 1
    finally:
        await client.aclose()
    assert status == 404 and json.loads(body)["detail"] == "agent 42 not found"


async def test_a_silent_peer_times_out_naming_the_peer(peer: tuple[str, list[dict[str, object]]]) -> None:
    url, _ = peer
    client = ServiceClient("llm-gateway", url)
    try:
        with pytest.raises(UpstreamUnavailable, match="llm-gateway did not answer within"):
            async with client.post_stream("/silent", b"{}", headers=JSON, read_timeout=0.3):
                pass
    finally:
        await client.aclose()


async def test_an_unreachable_peer_is_retried_then_named() -> None:
    with socket.socket() as sock:  # a port that refuses connections
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    client = ServiceClient("llm-gateway", f"http://127.0.0.1:{closed_port}", connect_retries=1)
    try:
        with pytest.raises(UpstreamUnavailable, match="llm-gateway is unreachable"):
            async with client.post_stream("/echo-stream", b"{}", headers=JSON, read_timeout=1):
                pass
    finally:
        await client.aclose()


async def test_a_peer_closing_mid_answer_is_unavailable_not_a_short_answer() -> None:
    # A raw server that starts a chunked SSE answer, sends one event and drops the connection.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'11\r\ndata: {"n":0}\r\n\r\n\r\n'
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ServiceClient("llm-gateway", f"http://127.0.0.1:{port}")
    received: list[str] = []
    try:
        with pytest.raises(UpstreamUnavailable, match="llm-gateway is unreachable"):
            async with client.post_stream("/stream", b"{}", headers=JSON, read_timeout=5) as answer:
                async for data in sse_data(answer.lines(), require_done=True):
                    received.append(data)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert received == ['{"n":0}']


async def test_a_peer_on_another_transport_streams_the_same_through_httpx() -> None:
    seen: list[dict[str, object]] = []
    client = ServiceClient(
        "peer", "http://localhost", transport=httpx.ASGITransport(app=_app(seen)), service_token=TOKEN
    )
    assert client._plain is None
    try:
        payloads = await _payloads(client, {"count": 2, "text": "via httpx"})
        async with client.post_stream("/refuse", b"{}", headers=JSON, read_timeout=5) as answer:
            status, body = answer.status, await answer.read()
    finally:
        await client.aclose()
    assert payloads == [{"n": 0, "text": "via httpx"}, {"n": 1, "text": "via httpx"}]
    assert seen[0]["token"] == TOKEN
    assert status == 404 and json.loads(body)["detail"] == "agent 42 not found"
