"""`WS /ws/chat`: the seed's chat protocol (frames in `nova_contracts.chat`).

0. A browser page whose `Origin` is not allowed is refused before the handshake completes (HTTP 403).
1. Auth: `?token=` or a first `{"type":"auth","token"}` frame carrying an API key (`sk-nova-…`, checked by
   the orchestrator) or the admin secret; a bad one closes the socket with 4001. Only a local caller under
   `REQUIRE_AUTH=false` (the kit's rule) may skip it.
2. `{"type":"system","session_id"}`: the session resumed from `?session_id=` (or a user frame's `session_id`)
   when it exists and belongs to the same caller (key, admin or local), a new one otherwise.
3. Each `user` frame is stored, then answered with `stream_chunk` frames and `stream_end` (or `error`);
   `queued` while the orchestrator is unreachable; an `error` with code `queue_full` (the turn was not
   stored) when the session already has `WS_MAX_PENDING_MESSAGES` turns waiting.
"""

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
from fastapi import APIRouter, WebSocket
from pydantic import ValidationError

from chat_api.callers import LOCAL_CALLER, Caller, CallerAuthenticator
from chat_api.clients.orchestrator import OrchestratorUnavailable
from chat_api.config import Settings
from chat_api.connections import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHORIZED,
    ClientConnection,
    ConnectionRegistry,
)
from chat_api.delivery import DeliveryService, PendingQueueFull
from chat_api.origins import OriginPolicy
from chat_api.sessions import SessionStore
from nova_common.auth import anonymous_allowed
from nova_contracts.chat import (
    AuthFrame,
    ClientFrame,
    ErrorFrame,
    PingFrame,
    PongFrame,
    SystemFrame,
    UserFrame,
    parse_client_frame,
)

log = structlog.get_logger("chat_api.ws")

router = APIRouter()


@dataclass
class ChatRuntime:
    """What the WebSocket handler needs; built in the lifespan, kept on `app.state.chat`."""

    settings: Settings
    registry: ConnectionRegistry
    sessions: SessionStore
    delivery: DeliveryService
    callers: CallerAuthenticator
    origins: OriginPolicy


class _Closed(Exception):
    """The connection ended (client left, idle, too slow, or closed by us); stop serving it."""


@router.websocket("/ws/chat")
async def chat_socket(ws: WebSocket) -> None:
    """Chat with Nova over a WebSocket, with streamed answers."""
    runtime: ChatRuntime = ws.app.state.chat
    ip = ws.client.host if ws.client else "unknown"
    origin = ws.headers.get("origin")
    if not runtime.origins.admits(origin):
        log.warning("origin_refused", ip=ip, origin=origin[:200] if origin else None)
        # Closing before accept makes the server answer the handshake with 403: the page gets no socket.
        await ws.close(CLOSE_POLICY, "origin not allowed")
        return
    await ws.accept()
    refusal = runtime.registry.admit(ip)
    if refusal is not None:
        log.info("connection_refused", ip=ip, reason=refusal)
        await ws.close(CLOSE_TRY_AGAIN_LATER, refusal)
        return
    conn = ClientConnection(ws, ip, max_queued_bytes=runtime.settings.ws_send_buffer_bytes)
    conn.start()
    try:
        await _serve(conn, runtime)
    except _Closed:
        pass
    except Exception:
        log.exception("connection_failed", ip=ip, session_id=conn.session_id)
        conn.send(ErrorFrame(content="internal error; please reconnect", code="internal_error"))
        await conn.flush(within=1.0)
        conn.close(CLOSE_INTERNAL_ERROR, "internal error")
    finally:
        runtime.registry.release(conn)
        conn.close(CLOSE_NORMAL, "bye")
        await conn.wait_closed()


async def _serve(conn: ClientConnection, runtime: ChatRuntime) -> None:
    settings = runtime.settings
    token = conn.ws.query_params.get("token")
    if token:
        caller = await _authenticate(conn, runtime, token)
    elif anonymous_allowed(conn.ws):
        caller = conn.caller = LOCAL_CALLER
    else:
        first = await _next_frame(conn, settings, idle_after=settings.ws_auth_timeout_seconds)
        if not isinstance(first, AuthFrame):
            await _refuse(conn, "authentication required: send ?token= or an auth frame first")
        caller = await _authenticate(conn, runtime, first.token)
    session = await runtime.sessions.resume(conn.ws.query_params.get("session_id"), caller.owner)
    session_id = await _join(conn, runtime, session.session_id)
    while True:
        frame = await _next_frame(conn, settings, idle_after=settings.ws_idle_timeout_seconds)
        if isinstance(frame, PingFrame):
            conn.send(PongFrame())
        elif isinstance(frame, AuthFrame):
            caller = await _authenticate(conn, runtime, frame.token)
            session = await runtime.sessions.resume(session_id, caller.owner)
            if session.session_id != session_id:
                session_id = await _join(conn, runtime, session.session_id)
        elif isinstance(frame, UserFrame):
            if frame.session_id and frame.session_id != session_id:
                session = await runtime.sessions.resume(frame.session_id, caller.owner)
                session_id = await _join(conn, runtime, session.session_id)
            try:
                await runtime.delivery.enqueue(session_id, frame.content)
            except PendingQueueFull as exc:
                conn.send(ErrorFrame(content=str(exc), code="queue_full"))


async def _join(conn: ClientConnection, runtime: ChatRuntime, session_id: str) -> str:
    runtime.registry.subscribe(conn, session_id)
    runtime.delivery.remember_caller(session_id, conn.caller)
    conn.send(SystemFrame(session_id=session_id))
    await runtime.delivery.on_client_joined(session_id)
    return session_id


async def _authenticate(conn: ClientConnection, runtime: ChatRuntime, token: str) -> Caller:
    try:
        caller = await runtime.callers.authenticate(token)
    except OrchestratorUnavailable:
        conn.send(ErrorFrame(content="cannot check the API key right now; retry shortly", code="unavailable"))
        await conn.flush(within=1.0)
        conn.close(CLOSE_TRY_AGAIN_LATER, "orchestrator unavailable")
        raise _Closed from None
    if caller is None:
        await _refuse(conn, "invalid API key or admin secret")
    conn.caller = caller
    return caller


async def _refuse(conn: ClientConnection, reason: str) -> NoReturn:
    log.info("connection_unauthorized", ip=conn.ip, reason=reason)
    conn.send(ErrorFrame(content=reason, code="unauthorized"))
    await conn.flush(within=1.0)
    conn.close(CLOSE_UNAUTHORIZED, reason)
    raise _Closed


async def _next_frame(conn: ClientConnection, settings: Settings, *, idle_after: float) -> ClientFrame:
    """The next well-formed client frame; malformed ones are answered with an error frame and skipped."""
    while True:
        message = await _receive(conn, idle_after)
        raw: str | bytes | None = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)
        if size > settings.ws_max_message_bytes:
            conn.send(
                ErrorFrame(
                    content=f"message larger than {settings.ws_max_message_bytes} bytes", code="too_big"
                )
            )
            await conn.flush(within=1.0)
            conn.close(CLOSE_TOO_BIG, "message too big")
            raise _Closed
        try:
            return parse_client_frame(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "frame"
            conn.send(
                ErrorFrame(content=f"invalid frame ({where}: {first.get('msg', '')})", code="invalid_frame")
            )


async def _receive(conn: ClientConnection, idle_after: float) -> Mapping[str, Any]:
    receive = asyncio.ensure_future(conn.ws.receive())
    closed = asyncio.ensure_future(conn.closed.wait())
    try:
        done, _ = await asyncio.wait(
            (receive, closed), timeout=idle_after, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        closed.cancel()
    if receive not in done:
        receive.cancel()
        if not conn.closed.is_set():
            log.info("connection_idle", ip=conn.ip, session_id=conn.session_id)
            conn.close(CLOSE_NORMAL, f"idle for {idle_after:.0f}s")
        raise _Closed
    message: Mapping[str, Any] = receive.result()
    if message["type"] == "websocket.disconnect":
        conn.closed.set()
        raise _Closed
    return message
