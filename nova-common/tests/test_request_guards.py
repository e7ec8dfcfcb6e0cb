"""The guards `create_service_app` puts in front of every service, tried over real sockets against uvicorn:
the Host allow-list (DNS rebinding) and the request-body cap (a 2 GB upload is refused, not read)."""

import select
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from nova_common.app import create_service_app
from nova_common.config import DEFAULT_ALLOWED_HOSTS, NovaSettings
from nova_common.embedded import free_port, wait_for_port
from nova_common.hosts import HostAllowList, host_name

MiB = 1024 * 1024


@asynccontextmanager
async def _nothing(app: FastAPI) -> AsyncIterator[None]:
    yield


def _serve(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", proxy_headers=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _app_with_hosts(
    monkeypatch: pytest.MonkeyPatch, allowed: str | None, extra: tuple[str, ...] = ()
) -> FastAPI:
    # The test session's plugin adds `testserver`; these tests see the shipped default or what they set.
    monkeypatch.delenv("ALLOWED_HOSTS", raising=False)
    settings = NovaSettings() if allowed is None else NovaSettings(ALLOWED_HOSTS=allowed)  # type: ignore[call-arg]
    app = create_service_app(
        settings, title="t", description="", version="0", lifespan=_nothing, extra_allowed_hosts=extra
    )

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    return app


@pytest.fixture
def default_hosts_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _serve(_app_with_hosts(monkeypatch, None))


def test_a_rebinding_host_is_refused_with_400_and_the_loopback_address_is_served(
    default_hosts_server: str,
) -> None:
    address = default_hosts_server
    evil = httpx.get(f"http://{address}/hello", headers={"Host": "evil.example", "X-Request-ID": "rebind-1"})
    assert evil.status_code == 400
    body = evil.json()
    assert "evil.example" in body["detail"] and "ALLOWED_HOSTS" in body["detail"]
    assert body["request_id"] == "rebind-1" and evil.headers["X-Request-ID"] == "rebind-1"

    assert httpx.get(f"http://{address}/hello").json() == {"hello": "world"}  # Host: 127.0.0.1:<port>


@pytest.mark.parametrize(
    "host", ["localhost:8000", "[::1]:8000", "orchestrator:8000", "llm-gateway", "dashboard.localhost:3000"]
)
def test_loopback_names_and_compose_service_names_are_allowed_by_default(
    default_hosts_server: str, host: str
) -> None:
    response = httpx.get(f"http://{default_hosts_server}/hello", headers={"Host": host})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host", ["127.0.0.1.evil.example", "localhost.evil.example", "evil.example:8000", "a b"]
)
def test_names_that_merely_contain_an_allowed_one_are_refused(default_hosts_server: str, host: str) -> None:
    response = httpx.get(f"http://{default_hosts_server}/hello", headers={"Host": host})
    assert response.status_code == 400


def test_a_websocket_handshake_with_a_rebinding_host_is_refused(default_hosts_server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"ws://{default_hosts_server}/ws", additional_headers={"Host": "evil.example"}, open_timeout=10
        )
    assert refused.value.response.status_code in (400, 403)
    with connect(f"ws://{default_hosts_server}/ws", open_timeout=10) as ws:
        assert ws.recv() == "hi"


def test_allowed_hosts_star_turns_the_check_off_for_an_operators_own_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for address in _serve(_app_with_hosts(monkeypatch, "*")):
        assert httpx.get(f"http://{address}/hello", headers={"Host": "nova.example.com"}).status_code == 200


def test_allowed_hosts_replaces_the_default_list(monkeypatch: pytest.MonkeyPatch) -> None:
    for address in _serve(_app_with_hosts(monkeypatch, "nova.example.com, *.nova.example.com")):
        assert httpx.get(f"http://{address}/hello", headers={"Host": "nova.example.com"}).status_code == 200
        assert (
            httpx.get(f"http://{address}/hello", headers={"Host": "chat.nova.example.com"}).status_code == 200
        )
        assert httpx.get(f"http://{address}/hello", headers={"Host": "localhost"}).status_code == 400


def test_a_service_adds_the_host_of_its_own_webhook_url_to_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    for address in _serve(_app_with_hosts(monkeypatch, None, extra=("bot.example.com",))):
        assert httpx.get(f"http://{address}/hello", headers={"Host": "bot.example.com"}).status_code == 200
        assert httpx.get(f"http://{address}/hello", headers={"Host": "localhost"}).status_code == 200
        assert httpx.get(f"http://{address}/hello", headers={"Host": "evil.example"}).status_code == 400


def test_host_header_parsing_strips_ports_brackets_and_a_trailing_dot() -> None:
    assert host_name("LocalHost:8000") == "localhost"
    assert host_name("[::1]:8001") == "::1"
    assert host_name("localhost.") == "localhost"
    assert host_name("[::1") is None and host_name("host:port") is None and host_name("") is None
    allowed = HostAllowList(DEFAULT_ALLOWED_HOSTS)
    assert allowed.allows("x.localhost") and not allowed.allows("localhost.example")


# ── request-body cap ────────────────────────────────────────────────────────────────────────────────────

# A service whose routes read the whole body, as FastAPI does for a JSON model: without a cap, a 2 GB
# upload would be held in memory. /audio has a larger limit of its own, as voice uploads will.
BODY_SERVER = """
import sys
from contextlib import asynccontextmanager

import uvicorn
from fastapi import Request

from nova_common.app import create_service_app
from nova_common.config import NovaSettings


@asynccontextmanager
async def nothing(app):
    yield


app = create_service_app(
    NovaSettings(), title="t", description="", version="0", lifespan=nothing,
    body_limits={"/audio/": 4 * 1024 * 1024},
)


@app.post("/upload")
@app.post("/audio/transcribe")
async def upload(request: Request) -> dict[str, int]:
    return {"received": len(await request.body())}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""
# Far below the 2 GB declared, far above the cap plus every socket buffer between client and server.
SEND_AT_MOST = 256 * MiB


@pytest.fixture
def body_server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(port, pid) of the service above in a process of its own, so its memory can be read."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", BODY_SERVER, str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        assert wait_for_port(port, timeout=60), (tmp_path / "server.log").read_text()
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def _peak_memory_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split(b" ")[1]), body


def _stream_until_answered(sock: socket.socket, head: str, piece: bytes) -> int:
    """Send `head`, then `piece` again and again (a 2 GB upload, as far as the server can tell) until the
    server answers or hangs up; returns how many body bytes went out."""
    sock.sendall(head.encode())
    sent = 0
    try:
        while sent < SEND_AT_MOST and not select.select([sock], [], [], 0)[0]:
            sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert sent < SEND_AT_MOST, "the server kept reading past the cap"
    return sent


def test_a_declared_2gb_body_gets_413_before_it_is_read_and_memory_stays_small(
    body_server: tuple[int, int],
) -> None:
    port, pid = body_server
    peak_before = _peak_memory_bytes(pid)
    head = (
        f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {2 * 1024 * MiB}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        _stream_until_answered(sock, head, b"x" * 65536)
        status, body = _read_response(sock)
    assert status == 413
    assert b"at most 1 MiB" in body
    assert _peak_memory_bytes(pid) - peak_before < 32 * MiB


def test_a_declared_2gb_body_is_answered_without_waiting_for_any_of_it(body_server: tuple[int, int]) -> None:
    port, _ = body_server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {2 * 1024 * MiB}\r\n\r\n".encode()
        )
        status, _ = _read_response(sock)  # nothing of the body was sent: the answer cannot wait for it
    assert status == 413


def test_a_streamed_body_of_unknown_length_is_cut_off_at_the_cap_and_never_held_in_memory(
    body_server: tuple[int, int],
) -> None:
    port, pid = body_server
    peak_before = _peak_memory_bytes(pid)
    chunk = b"x" * 65536
    head = f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        _stream_until_answered(sock, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        status, body = _read_response(sock)
    assert status == 413
    assert b"request body too large" in body
    assert _peak_memory_bytes(pid) - peak_before < 32 * MiB


def test_a_route_with_its_own_limit_accepts_more_and_others_keep_the_default(
    body_server: tuple[int, int],
) -> None:
    port, _ = body_server
    two_mib = b"x" * (2 * MiB)
    assert httpx.post(f"http://127.0.0.1:{port}/audio/transcribe", content=two_mib).json() == {
        "received": 2 * MiB
    }
    refused = httpx.post(f"http://127.0.0.1:{port}/upload", content=two_mib)
    assert refused.status_code == 413 and refused.json()["code"] == "payload_too_large"
    assert httpx.post(f"http://127.0.0.1:{port}/upload", content=b"x" * 1000).json() == {"received": 1000}


def test_a_chunked_body_under_the_cap_reaches_the_route_whole(body_server: tuple[int, int]) -> None:
    port, _ = body_server

    def parts() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 50_000

    response = httpx.post(f"http://127.0.0.1:{port}/upload", content=parts())
    assert response.json() == {"received": 500_000}
