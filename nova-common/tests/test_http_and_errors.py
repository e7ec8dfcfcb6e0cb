"""Request ids across services, the service client's retry rule, error rendering and SSE framing."""

import asyncio
import json
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from nova_common.app import create_service_app
from nova_common.config import NovaSettings
from nova_common.embedded import free_port
from nova_common.errors import NotFound, RateLimited, UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_common.logging import request_id_var
from nova_common.server import CoalescingHttpToolsProtocol, CoalescingTransport
from nova_common.sse import json_event_stream
from nova_common.testing import eventually, eventually_async, serving


@asynccontextmanager
async def _nothing(app: FastAPI) -> AsyncIterator[None]:
    yield


class Echo(BaseModel):
    model_config = {"extra": "forbid"}
    text: str = Field(min_length=1, max_length=5)


def _app() -> FastAPI:
    app = create_service_app(NovaSettings(), title="t", description="", version="0", lifespan=_nothing)

    @app.get("/request-id")
    async def show_request_id(request: Request) -> dict[str, str | None]:
        return {"state": request.state.request_id, "context": request_id_var.get()}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("agent 42 not found")

    @app.get("/limited")
    async def limited() -> None:
        raise RateLimited("slow down", retry_after=7)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.post("/echo")
    async def echo(body: Echo) -> Echo:
        return body

    @app.get("/events")
    async def events(request: Request):  # type: ignore[no-untyped-def]
        async def items() -> AsyncIterator[Echo | dict[str, int]]:
            yield Echo(text="hi")
            yield {"n": 2}

        return json_event_stream(request, items())

    @app.get("/events-multiline")
    async def multiline_events(request: Request):  # type: ignore[no-untyped-def]
        async def items() -> AsyncIterator[str]:
            yield "one\ntwo"

        return json_event_stream(request, items())

    @app.get("/peer-port")
    async def peer_port(request: Request) -> int:
        assert request.client is not None
        return request.client.port

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The app served by a real uvicorn on loopback, so httpx goes over a socket."""
    port = free_port()
    # The services' own HTTP protocol (nova_common.server), so every test below also exercises its writes.
    config = uvicorn.Config(
        _app(), host="127.0.0.1", port=port, log_config=None, lifespan="on", http=CoalescingHttpToolsProtocol
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    eventually(lambda: instance.started, timeout=10, interval=0.05, what="uvicorn started")
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


def test_request_id_is_minted_and_echoed_when_the_caller_sends_none() -> None:
    response = TestClient(_app()).get("/request-id")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    assert response.json() == {"state": request_id, "context": request_id}


def test_request_id_from_the_caller_is_kept() -> None:
    response = TestClient(_app()).get("/request-id", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


def test_a_malformed_request_id_is_replaced() -> None:
    response = TestClient(_app()).get("/request-id", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_service_client_forwards_the_current_request_id(server: str) -> None:
    client = ServiceClient("peer", server, service_token="t" * 20)
    token = request_id_var.set("propagated-id-1")
    try:
        response = await client.get("/request-id")
    finally:
        request_id_var.reset(token)
        await client.aclose()
    assert response.json()["state"] == "propagated-id-1"


async def test_service_client_retries_connect_errors_then_names_the_peer() -> None:
    with socket.socket() as sock:  # a port that refuses connections
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    client = ServiceClient("memory-service", f"http://127.0.0.1:{closed_port}", connect_retries=2)
    attempts = 0

    async def count(request: httpx.Request) -> None:
        nonlocal attempts
        attempts += 1

    client.http.event_hooks["request"].append(count)
    try:
        with pytest.raises(UpstreamUnavailable, match="memory-service is unreachable"):
            await client.get("/health/live")
    finally:
        await client.aclose()
    assert attempts == 3


def test_expected_errors_render_detail_and_status() -> None:
    client = TestClient(_app())
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.json()["detail"] == "agent 42 not found"
    assert response.json()["code"] == "not_found"
    limited = client.get("/limited")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"


def test_unexpected_errors_are_500_without_leaking_internals() -> None:
    response = TestClient(_app(), raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_validation_errors_are_422_naming_the_field_without_echoing_input() -> None:
    response = TestClient(_app()).post("/echo", json={"text": "far too long"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", "text"]
    assert "far too long" not in response.text
    unknown = TestClient(_app()).post("/echo", json={"text": "ok", "extra": 1})
    assert unknown.json()["detail"][0]["loc"] == ["body", "extra"]


async def test_sse_stream_sends_json_lines_then_done(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        async with client.stream("GET", "/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
    payloads = [line.removeprefix("data:").strip() for line in lines]
    assert [json.loads(p) for p in payloads[:-1]] == [{"text": "hi"}, {"n": 2}]
    assert payloads[-1] == "[DONE]"


async def test_sse_stream_frames_each_event_as_one_data_line_and_a_multiline_text_as_several(
    server: str,
) -> None:
    # Events are framed by hand on the hot path: the bytes must stay those sse-starlette writes.
    async with httpx.AsyncClient(base_url=server) as client:
        body = (await client.get("/events")).content
        multiline = (await client.get("/events-multiline")).content
    assert body == b'data: {"text":"hi"}\r\n\r\ndata: {"n":2}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert multiline == b"data: one\r\ndata: two\r\n\r\ndata: [DONE]\r\n\r\n"


async def test_sse_stream_closes_the_generator_when_the_client_leaves(server: str) -> None:
    # Closing the source generator is what cancels upstream work (a model call) when a browser tab closes.
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[dict[str, int]]:
        try:
            n = 0
            while True:
                n += 1
                yield {"n": n}
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    app = create_service_app(NovaSettings(), title="t", description="", version="0", lifespan=_nothing)

    @app.get("/endless")
    async def stream(request: Request):  # type: ignore[no-untyped-def]
        return json_event_stream(request, endless())

    async with serving(app) as (_, url):
        async with httpx.AsyncClient() as client, client.stream("GET", f"{url}/endless") as response:
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"n":3' in line:
                    break
        await asyncio.wait_for(closed.wait(), 10)
    assert closed.is_set()


async def _lines(*lines: str):  # type: ignore[no-untyped-def]
    for line in lines:
        yield line


async def test_sse_data_yields_payloads_up_to_done_and_skips_the_rest() -> None:
    from nova_common.sse import sse_data

    lines = _lines(
        ": ping", "event: chunk", 'data: {"n":1}', "", 'data:{"n":2}', "data: [DONE]", 'data: {"n":3}'
    )
    assert [p async for p in sse_data(lines)] == ['{"n":1}', '{"n":2}']


async def test_a_stream_read_to_done_leaves_its_connection_pooled_for_the_next_call(server: str) -> None:
    # Each chat turn streams from llm-gateway: a connection dropped after [DONE] meant a new TCP connect per turn.
    from nova_common.sse import sse_data

    async with httpx.AsyncClient(base_url=server, limits=httpx.Limits(max_connections=1)) as client:
        before = (await client.get("/peer-port")).json()
        async with client.stream("GET", "/events") as response:
            payloads = [p async for p in sse_data(response.aiter_lines(), require_done=True)]
        after = (await client.get("/peer-port")).json()
    assert len(payloads) == 2
    assert after == before


async def test_sse_data_can_require_done_to_tell_a_dead_peer_from_a_finished_one() -> None:
    from nova_common.sse import StreamEndedEarly, sse_data

    assert [p async for p in sse_data(_lines('data: {"n":1}'))] == ['{"n":1}']
    with pytest.raises(StreamEndedEarly):
        _ = [p async for p in sse_data(_lines('data: {"n":1}'), require_done=True)]


def test_peer_errors_keep_the_status_meaning_and_the_detail() -> None:
    from nova_common.errors import NovaError, RateLimited, Unauthorized, UpstreamUnavailable
    from nova_common.http import peer_error

    def answer(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    unavailable = peer_error("orchestrator", answer(503, {"detail": "starting"}))
    assert (
        isinstance(unavailable, UpstreamUnavailable)
        and unavailable.detail == "orchestrator answered 503: starting"
    )
    assert isinstance(peer_error("orchestrator", answer(401, {"detail": "unknown API key"})), Unauthorized)
    limited = peer_error("orchestrator", answer(429, {"detail": "slow down"}, {"Retry-After": "7"}))
    assert isinstance(limited, RateLimited) and limited.retry_after == 7
    assert isinstance(peer_error("x", answer(429, {})), RateLimited)
    other = peer_error("orchestrator", answer(409, {"detail": "already running"}))
    assert type(other) is NovaError and other.status_code == 409 and "already running" in other.detail


async def test_a_responses_writes_leave_together_once_the_event_loop_turns() -> None:
    # Headers and body used to be two send() system calls; held until the loop turns, they are one.
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    coalescing = CoalescingTransport(transport, loop)  # type: ignore[arg-type]
    try:
        coalescing.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        coalescing.write(b"{}")
        with pytest.raises(BlockingIOError):
            theirs.recv(1024)  # nothing sent yet: the loop has not turned
        await asyncio.sleep(0)
        assert theirs.recv(1024) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
        coalescing.write(b"last words")
        coalescing.close()  # closing sends what is pending first
        await asyncio.sleep(0.05)
        theirs.setblocking(True)
        assert theirs.recv(1024) == b"last words"
        assert theirs.recv(1024) == b""
    finally:
        theirs.close()


async def test_a_service_requests_head_and_body_leave_in_one_write_once_its_answer_is_read() -> None:
    # httpcore writes a request's head and its body separately: two send() calls on every hop between services.
    import httpcore

    from nova_common.http import _JoinedWritesBackend

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stream = await _JoinedWritesBackend(httpcore.AnyIOBackend()).connect_tcp("127.0.0.1", port)
    peer, _ = listener.accept()
    peer.setblocking(False)
    try:
        head = b"POST /x HTTP/1.1\r\nhost: peer\r\ncontent-length: 2\r\n\r\n"
        await stream.write(head)
        await stream.write(b"{}")
        with pytest.raises(BlockingIOError):
            peer.recv(1024)  # held until the answer is read
        peer.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        assert await stream.read(1024) == b"HTTP/1.1 204 No Content\r\n\r\n"
        peer.setblocking(True)
        assert peer.recv(1024) == head + b"{}"
    finally:
        await stream.aclose()
        peer.close()
        listener.close()


def _pausing_app(pause: float, closed: asyncio.Event | None = None) -> FastAPI:
    """`GET /pausing`: one event, a pause, another event (and `closed` set when the source is closed)."""
    app = create_service_app(NovaSettings(), title="t", description="", version="0", lifespan=_nothing)

    async def pausing() -> AsyncIterator[dict[str, int]]:
        try:
            yield {"n": 1}
            await asyncio.sleep(pause)
            yield {"n": 2}
        finally:
            if closed is not None:
                closed.set()

    @app.get("/pausing")
    async def stream(request: Request):  # type: ignore[no-untyped-def]
        return json_event_stream(request, pausing(), ping_seconds=0.2)  # type: ignore[arg-type]

    return app


async def test_a_quiet_stream_gets_ping_comments_between_its_events() -> None:
    async with serving(_pausing_app(0.7)) as (_, url), httpx.AsyncClient() as client:
        body = (await client.get(f"{url}/pausing")).text
    first, rest = body.split(": ping\r\n\r\n", 1)
    assert first == 'data: {"n":1}\r\n\r\n'
    # Pings only while quiet, each a whole comment, and the events and [DONE] after them intact.
    assert rest.replace(": ping\r\n\r\n", "") == 'data: {"n":2}\r\n\r\ndata: [DONE]\r\n\r\n'


async def test_the_servers_shutdown_ends_open_streams_and_closes_their_sources() -> None:
    # Without this, an open stream (a dashboard's notifications) holds the shutdown for its grace period.
    from nova_common.server import NovaServer

    closed = asyncio.Event()
    lines: list[str] = []
    async with serving(_pausing_app(3600, closed), NovaServer) as (server, url):
        async with httpx.AsyncClient() as client, client.stream("GET", f"{url}/pausing") as response:
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    server.handle_exit(signal.SIGTERM, None)
                    # Uvicorn raises a captured signal again once it has shut down (the process then ends as
                    # the signal says): not the test's process.
                    server._captured_signals.clear()
        # What uvicorn's shutdown waits for (without a deadline: `serving` forces it only on leaving) is over.
        state = server.server_state
        await eventually_async(
            lambda: not state.connections and not state.tasks, within=30, what="the shutdown's wait over"
        )
    assert closed.is_set()
    # The body ended cleanly, without [DONE]: the client knows the answer is incomplete.
    assert [line for line in lines if line.startswith("data:")] == ['data: {"n":1}']
