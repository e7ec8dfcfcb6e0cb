"""Plain-http upstreams are called through the kit's `nova_common.plain_http` (kept-alive connections, httptools):
the HTTP a real server may answer with is read as aiohttp read it, and a kept-alive connection the upstream
dropped while it sat idle does not fail the request. What it leaves to aiohttp (TLS upstreams, where every
cloud provider is, and answers that redirect) streams, answers and fails the same way."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from llm_gateway.providers.errors import ProviderCallError
from llm_gateway.providers.transports import OpenAICompatibleTransport, Target
from nova_common.plain_http import PlainHttpClient, request_head
from nova_common.testing import eventually_async

USER = [{"role": "user", "content": "hello plain http"}]
MODEL = "groq/llama-3.3-70b-versatile"
ANSWER = json.dumps(
    {
        "id": "chatcmpl-raw",
        "object": "chat.completion",
        "created": 0,
        "model": "llama-3.3-70b-versatile",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "raw answer"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
).encode()

# Answers one request on the connection it came on; returns False to close the connection afterwards.
Answer = Callable[[int, asyncio.StreamWriter], Awaitable[bool]]


class RawUpstream:
    """An OpenAI-compatible upstream written on raw sockets, to answer in ways uvicorn never does."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self.connections = 0
        # Each request's target and body, in the order they came.
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        on_connection = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.seen.append((head.split(b" ", 2)[1].decode(), json.loads(body or b"{}")))
                self.requests += 1
                on_connection += 1
                if not await self.answer(on_connection, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw_upstream() -> AsyncIterator[Callable[[Answer], Awaitable[RawUpstream]]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> RawUpstream:
        upstream = RawUpstream(answer)
        upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0)
        servers.append(upstream.server)
        return upstream

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _keep_alive_answer(body: bytes = ANSWER) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


async def _gateway_on(gateway_factory: Any, upstream: RawUpstream) -> Any:
    # Groq alone: a failed call has no other provider to fall back to, so it shows as an error.
    return await gateway_factory(
        groq_api_key="gsk-test-groq-key-0123456789",
        groq_base_url=upstream.base_url,
        llm_routing_strategy="cloud-only",
    )


async def test_a_kept_alive_connection_the_upstream_drops_unanswered_is_retried_once_on_a_new_one(
    gateway_factory: Any, raw_upstream: Any, service_headers: dict[str, str]
) -> None:
    async def answer(on_connection: int, writer: asyncio.StreamWriter) -> bool:
        if on_connection > 1:
            return False  # closed as a server closes an idle connection: this request is never answered
        writer.write(_keep_alive_answer())
        await writer.drain()
        return True

    upstream = await raw_upstream(answer)
    gateway = await _gateway_on(gateway_factory, upstream)
    for _ in range(3):
        response = await gateway.client.post(
            "/complete", json={"model": MODEL, "messages": USER}, headers=service_headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["content"] == "raw answer"
    # Each later call went out on the kept-alive connection, was dropped, and was sent again on a new one.
    assert upstream.requests == 5 and upstream.connections == 3


async def test_an_answer_delimited_by_the_end_of_the_connection_is_read_whole(
    gateway_factory: Any, raw_upstream: Any, service_headers: dict[str, str]
) -> None:
    async def answer(on_connection: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        writer.write(ANSWER[:40])
        await writer.drain()
        writer.write(ANSWER[40:])
        return False

    upstream = await raw_upstream(answer)
    gateway = await _gateway_on(gateway_factory, upstream)
    for _ in range(2):
        response = await gateway.client.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": USER}, headers=service_headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "raw answer"
    assert upstream.connections == 2


async def test_a_stream_in_chunked_pieces_split_mid_line_reaches_the_caller_whole(
    gateway_factory: Any, raw_upstream: Any, service_headers: dict[str, str]
) -> None:
    events = (
        b"".join(
            b"data: " + json.dumps(chunk).encode() + b"\n\n"
            for chunk in (
                {"choices": [{"index": 0, "delta": {"content": "split "}, "finish_reason": None}]},
                {"choices": [{"index": 0, "delta": {"content": "answer"}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
            )
        )
        + b"data: [DONE]\n\n"
    )

    async def answer(on_connection: int, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for start in range(0, len(events), 17):  # pieces that cut lines and JSON in the middle
            piece = events[start : start + 17]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    upstream = await raw_upstream(answer)
    gateway = await _gateway_on(gateway_factory, upstream)
    for _ in range(2):
        response = await gateway.client.post(
            "/stream", json={"model": MODEL, "messages": USER}, headers=service_headers
        )
        assert response.status_code == 200, response.text
        chunks = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data: {")]
        assert "".join(c["delta"] for c in chunks) == "split answer"
        assert chunks[-1]["finish_reason"] == "stop" and chunks[-1]["output_tokens"] == 2
    assert upstream.connections == 1  # the finished stream left its connection for the next call


async def test_connections_the_upstream_closed_while_idle_leave_the_pool() -> None:
    upstream_connections: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_connections.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(_keep_alive_answer())
        await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    client = PlainHttpClient()
    try:
        origin = client.origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1")
        assert origin is not None
        responses = [
            await client.post(
                origin,
                request_head(origin, "/chat/completions", {}, 2) or b"",
                b"{}",
                connect_timeout=2,
                read_timeout=2,
            )
            for _ in range(3)
        ]
        for response in responses:
            assert json.loads(await response.read())["choices"][0]["message"]["content"] == "raw answer"
            response.release()
        assert client.idle_count(origin) == 3
        for writer in upstream_connections:  # the upstream's keep-alive timeout runs out
            writer.close()
        await eventually_async(lambda: client.idle_count(origin) == 0)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


STREAMED = [
    b"data: " + json.dumps(chunk).encode() + b"\n\n"
    for chunk in (
        {"choices": [{"index": 0, "delta": {"content": "moved "}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "answer"}, "finish_reason": "stop"}]},
    )
]
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
MOVED = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved/chat/completions\r\nContent-Length: 0\r\n\r\n"
# Answers a request at the new place, seeing what the upstream received.
AtNewPlace = Callable[[RawUpstream, asyncio.StreamWriter], Awaitable[bool]]


async def _moved_upstream(raw_upstream: Any, at_new_place: AtNewPlace) -> RawUpstream:
    """An upstream whose `/v1/chat/completions` redirects to `/moved/chat/completions`: the plain client
    leaves such an answer to aiohttp, which follows it (as it is left every TLS upstream)."""
    upstream: RawUpstream | None = None

    async def answer(on_connection: int, writer: asyncio.StreamWriter) -> bool:
        assert upstream is not None
        if upstream.seen[-1][0].startswith("/v1/"):
            writer.write(MOVED)
            await writer.drain()
            return True
        return await at_new_place(upstream, writer)

    upstream = await raw_upstream(answer)
    return upstream


def _target(upstream: RawUpstream) -> Target:
    return Target(
        provider="groq", model="m", gateway_model="groq/m", transport="openai", base_url=upstream.base_url,
        api_key="gsk-test-groq-key-0123456789",
    )  # fmt: skip


async def test_an_upstream_left_to_the_general_client_streams_and_answers_through_it(
    gateway_factory: Any, raw_upstream: Any, service_headers: dict[str, str]
) -> None:
    async def at_new_place(upstream: RawUpstream, writer: asyncio.StreamWriter) -> bool:
        if upstream.seen[-1][1].get("stream"):
            writer.write(STREAM_HEAD + b"".join(STREAMED) + b"data: [DONE]\n\n")
            return False
        writer.write(_keep_alive_answer())
        await writer.drain()
        return True

    upstream = await _moved_upstream(raw_upstream, at_new_place)
    gateway = await _gateway_on(gateway_factory, upstream)

    streamed = await gateway.client.post(
        "/stream", json={"model": MODEL, "messages": USER}, headers=service_headers
    )
    answered = await gateway.client.post(
        "/v1/chat/completions", json={"model": MODEL, "messages": USER}, headers=service_headers
    )

    assert streamed.status_code == 200, streamed.text
    chunks = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data: {")]
    assert "".join(c["delta"] for c in chunks) == "moved answer"
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["message"]["content"] == "raw answer"
    # Each call: the plain client's request, redirected; aiohttp's, redirected; aiohttp's at the new place.
    call = ["/v1/chat/completions", "/v1/chat/completions", "/moved/chat/completions"]
    assert [target for target, _ in upstream.seen] == call + call
    assert [bool(body.get("stream")) for _, body in upstream.seen] == [True] * 3 + [False] * 3


async def test_a_refusal_through_the_general_client_keeps_its_status_and_retry_after_and_hides_the_key(
    raw_upstream: Any,
) -> None:
    async def at_new_place(upstream: RawUpstream, writer: asyncio.StreamWriter) -> bool:
        body = b'{"error": {"message": "rate limited for gsk-test-groq-key-0123456789"}}'
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        return True

    upstream = await _moved_upstream(raw_upstream, at_new_place)
    transport = OpenAICompatibleTransport(connect_timeout=2, read_timeout=5)
    try:
        with pytest.raises(ProviderCallError) as refused:
            async for _ in transport.stream(_target(upstream), {"model": "m", "messages": USER}):
                pass
    finally:
        await transport.aclose()

    assert refused.value.status_code == 429 and refused.value.retryable and refused.value.retry_after == 7
    assert "rate limited" in str(refused.value) and "gsk-test-groq-key" not in str(refused.value)


async def test_a_stream_through_the_general_client_that_its_caller_leaves_closes_the_upstream_connection(
    raw_upstream: Any,
) -> None:
    """Closing the connection is what tells the upstream to stop generating."""
    left = asyncio.Event()

    async def at_new_place(upstream: RawUpstream, writer: asyncio.StreamWriter) -> bool:
        writer.write(STREAM_HEAD + STREAMED[0])
        try:
            while True:  # an answer that goes on until the connection closes
                await asyncio.sleep(0.02)
                writer.write(b": still generating\n\n")
                await writer.drain()
        except ConnectionError:
            left.set()
            raise

    upstream = await _moved_upstream(raw_upstream, at_new_place)
    transport = OpenAICompatibleTransport(connect_timeout=2, read_timeout=5)
    try:
        chunks = transport.stream(_target(upstream), {"model": "m", "messages": USER})
        first = await anext(chunks)
        await chunks.aclose()
        await asyncio.wait_for(left.wait(), timeout=10)
    finally:
        await transport.aclose()

    assert first["choices"][0]["delta"]["content"] == "moved "
