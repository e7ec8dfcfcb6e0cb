"""Durable delivery of user turns to the orchestrator, and of its answers back to the session's clients.

Every user turn is first appended to the session's Redis list `nova:chat:session:{id}:pending`; one worker per
session sends the list's head to the orchestrator and removes it only once the orchestrator has taken it. While
the orchestrator is unreachable the turn stays in Redis (the client is told `queued`) and a single probe waits for
the orchestrator to come back; then every waiting session resumes in order. A chat-api restart loses nothing: the
sweeper finds the sessions listed in `nova:chat:pending-sessions` and starts their workers again.

An answer no connected client received in full (it disconnected, or was too slow) is kept in
`nova:chat:session:{id}:held` and replayed when a client of the session connects.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import httpx
import redis.asyncio as aioredis
import structlog

from chat_api.callers import LOCAL_CALLER, LOCAL_OWNER, Caller
from chat_api.clients.orchestrator import (
    ChatAgentMissing,
    ChatOrchestratorClient,
    Credential,
    OrchestratorUnavailable,
)
from chat_api.config import Settings
from chat_api.connections import ConnectionRegistry
from chat_api.sessions import SessionStore
from nova_common.errors import NovaError, RateLimited, Unauthorized
from nova_contracts.chat import (
    ChatSession,
    ChatStreamEvent,
    ErrorFrame,
    HeldChatReply,
    PendingChatMessage,
    QueuedFrame,
    StreamChunkFrame,
    StreamEndFrame,
)
from nova_contracts.llm import Message

log = structlog.get_logger("chat_api.delivery")

PENDING_SESSIONS_KEY = "nova:chat:pending-sessions"
LOCK_TTL_MS = 60_000
LOCK_WAIT_SECONDS = 3.0
MAX_RATE_LIMIT_WAIT_SECONDS = 60

# Delete the lock only if we still own it (it may have expired and been taken by another replica).
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_REFRESH_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
# Append a turn unless the session already has ARGV[2] waiting (checked and pushed in one step, so two
# connections of a session cannot both squeeze past the cap); the new length, or -1 when full.
_ENQUEUE = """
if redis.call('llen', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local length = redis.call('rpush', KEYS[1], ARGV[1])
redis.call('expire', KEYS[1], ARGV[3])
redis.call('sadd', KEYS[2], ARGV[4])
return length
"""


class PendingQueueFull(Exception):
    """The session already has as many turns waiting as it may; the new one was not stored."""


def pending_key(session_id: str) -> str:
    return f"nova:chat:session:{session_id}:pending"


def held_key(session_id: str) -> str:
    return f"nova:chat:session:{session_id}:held"


def lock_key(session_id: str) -> str:
    return f"nova:chat:session:{session_id}:lock"


class OrchestratorGate:
    """Whether the orchestrator is reachable. When it is not, one probe loop (not every session) polls it."""

    def __init__(self, client: ChatOrchestratorClient, *, max_interval: float) -> None:
        self._client = client
        self._max_interval = max_interval
        self._up = asyncio.Event()
        self._up.set()
        self._probe: asyncio.Task[None] | None = None

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    def mark_down(self) -> None:
        if self._up.is_set():
            log.warning("orchestrator_unreachable")
            self._up.clear()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_up(), name="orchestrator-probe")

    async def wait_up(self) -> None:
        await self._up.wait()

    async def _probe_until_up(self) -> None:
        interval = 0.2
        while not await self._client.is_live():
            await asyncio.sleep(interval)
            interval = min(interval * 2, self._max_interval)
        log.info("orchestrator_reachable_again")
        self._up.set()

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe


class DeliveryService:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        sessions: SessionStore,
        registry: ConnectionRegistry,
        client: ChatOrchestratorClient,
        settings: Settings,
    ) -> None:
        self.redis = redis
        self.sessions = sessions
        self.registry = registry
        self.client = client
        self.settings = settings
        self.gate = OrchestratorGate(client, max_interval=settings.orchestrator_probe_max_seconds)
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Who the clients of sessions whose client went away with turns still queued were; their credentials
        # are kept in memory only, never in Redis.
        self._callers: dict[str, Caller] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._agent_lock = asyncio.Lock()
        # The turns whose clients were told they are queued (a `queued` frame), each told once.
        self._told_queued: set[str] = set()

    # Lifecycle.

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="chat-delivery-sweeper")

    async def aclose(self) -> None:
        tasks = [t for t in (self._sweeper, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.gate.aclose()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                for session_id in await self.redis.smembers(PENDING_SESSIONS_KEY):
                    self.ensure_worker(str(session_id))
            except Exception:
                log.exception("delivery_sweep_failed")
            await asyncio.sleep(self.settings.delivery_sweep_seconds)

    # Called by the WebSocket handler.

    def remember_caller(self, session_id: str, caller: Caller | None) -> None:
        if caller is not None:
            self._callers[session_id] = caller

    async def enqueue(self, session_id: str, content: str) -> PendingChatMessage:
        """Persist the user's turn before anything else happens to it, then make sure a worker delivers it.

        Raises `PendingQueueFull` when the session already has `ws_max_pending_messages` turns waiting.
        """
        message = PendingChatMessage(
            message_id=uuid.uuid4().hex, session_id=session_id, content=content, queued_at=datetime.now(UTC)
        )
        length = await self.redis.eval(
            _ENQUEUE,
            2,
            pending_key(session_id),
            PENDING_SESSIONS_KEY,
            message.model_dump_json(),
            self.settings.ws_max_pending_messages,
            self.settings.session_ttl_seconds,
            session_id,
        )
        if int(length) < 0:
            raise PendingQueueFull(
                f"{self.settings.ws_max_pending_messages} messages are already waiting in this session; "
                "wait for their answers before sending more"
            )
        if not self.gate.is_up:
            self.registry.broadcast(session_id, QueuedFrame(session_id=session_id, position=int(length) - 1))
            self._told_queued.add(message.message_id)
        self.ensure_worker(session_id)
        return message

    async def _tell_queued(self, session_id: str) -> None:
        """The orchestrator is down: every turn of the session not yet told so is told it waits, and where.
        Turns sent while the orchestrator still looked up (the one being delivered, and any sent meanwhile)
        learn it here, not when they were sent."""
        for position, raw in enumerate(await self.redis.lrange(pending_key(session_id), 0, -1)):
            try:
                message_id = PendingChatMessage.model_validate_json(raw).message_id
            except ValueError:
                continue  # the worker drops it when it comes to it
            if message_id not in self._told_queued:
                self._told_queued.add(message_id)
                self.registry.broadcast(session_id, QueuedFrame(session_id=session_id, position=position))

    async def on_client_joined(self, session_id: str) -> None:
        """A client (re)connected to the session: replay held answers and resume any queued turns."""
        await self.flush_held(session_id)
        if await self.redis.llen(pending_key(session_id)):
            self.ensure_worker(session_id)

    async def flush_held(self, session_id: str) -> None:
        if not self.registry.listeners(session_id):
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(held_key(session_id), 0, -1)
            pipe.delete(held_key(session_id))
            raw_replies, _ = await pipe.execute()
        for raw in raw_replies:
            reply = HeldChatReply.model_validate_json(raw)
            if reply.error:
                taken = self.registry.broadcast(
                    session_id, ErrorFrame(content=reply.error, code="upstream_error")
                )
            else:
                self.registry.broadcast(
                    session_id, StreamChunkFrame(session_id=session_id, delta=reply.content)
                )
                end = StreamEndFrame(session_id=session_id, message_id=reply.message_id)
                taken = self.registry.broadcast(session_id, end)
            if not taken:
                await self._hold(reply)

    def ensure_worker(self, session_id: str) -> None:
        task = self._workers.get(session_id)
        if task is None or task.done():
            self._workers[session_id] = asyncio.create_task(
                self._work(session_id), name=f"chat-delivery-{session_id}"
            )

    # The per-session worker.

    async def _work(self, session_id: str) -> None:
        token = uuid.uuid4().hex
        refresher: asyncio.Task[None] | None = None
        locked = False
        try:
            locked = await self._acquire_lock(session_id, token)
            if not locked:
                return  # another worker (maybe another replica) is delivering this session
            refresher = asyncio.create_task(self._keep_lock(session_id, token))
            while True:
                raw = await self.redis.lindex(pending_key(session_id), 0)
                raw = str(raw) if raw is not None else None
                if raw is None:
                    await self.redis.srem(PENDING_SESSIONS_KEY, session_id)
                    if not await self.redis.llen(pending_key(session_id)):
                        # Deregister before any further await, so a turn enqueued from now on starts a new worker.
                        self._forget_worker(session_id)
                        if not self.registry.listeners(session_id):
                            self._callers.pop(session_id, None)
                        return
                    await self.redis.sadd(PENDING_SESSIONS_KEY, session_id)
                    continue
                try:
                    message = PendingChatMessage.model_validate_json(raw)
                except ValueError:
                    log.error(
                        "dropping_unreadable_pending_message", session_id=session_id, raw=str(raw)[:200]
                    )
                    await self.redis.lrem(pending_key(session_id), 1, raw)
                    continue
                if not await self._deliver(message):
                    return  # no credentials to send it with until a client of the session authenticates
                await self.redis.lrem(pending_key(session_id), 1, raw)
                self._told_queued.discard(message.message_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The turn stays in Redis; the sweeper starts this session's worker again.
            log.exception("delivery_worker_failed", session_id=session_id)
        finally:
            self._forget_worker(session_id)
            if refresher is not None:
                refresher.cancel()
            if locked:
                with contextlib.suppress(Exception):
                    await self.redis.eval(_RELEASE_LOCK, 1, lock_key(session_id), token)

    def _forget_worker(self, session_id: str) -> None:
        if self._workers.get(session_id) is asyncio.current_task():
            del self._workers[session_id]

    async def _acquire_lock(self, session_id: str, token: str) -> bool:
        deadline = asyncio.get_running_loop().time() + LOCK_WAIT_SECONDS
        while True:
            if await self.redis.set(lock_key(session_id), token, nx=True, px=LOCK_TTL_MS):
                return True
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.05)

    async def _keep_lock(self, session_id: str, token: str) -> None:
        while True:
            await asyncio.sleep(LOCK_TTL_MS / 3000)
            with contextlib.suppress(Exception):
                await self.redis.eval(_REFRESH_LOCK, 1, lock_key(session_id), token, LOCK_TTL_MS)

    def _caller(self, session: ChatSession) -> Caller | None:
        """Who the session's turns are sent as; None while no client of a key's or the admin's session has
        authenticated in this process (after a restart the turn waits for the client to come back)."""
        caller = self.registry.caller_for(session.session_id) or self._callers.get(session.session_id)
        if caller is None and session.tenant == LOCAL_OWNER:
            return LOCAL_CALLER
        return caller

    def _credential(self, caller: Caller) -> Credential | None:
        if caller.credential is not None:
            return caller.credential
        # A local caller (REQUIRE_AUTH=false): NOVA_API_KEY if the install set one, else no credential.
        fallback = self.settings.nova_api_key.get_secret_value()
        return ("X-API-Key", fallback) if fallback else None

    async def _deliver(self, message: PendingChatMessage) -> bool:
        """Send one turn and relay its answer; False when it must wait for a client's credentials."""
        session_id = message.session_id
        agent_retried = False
        while True:
            session = await self.sessions.get(session_id)
            if session is None:
                log.warning("session_expired_with_turn_pending", session_id=session_id)
                return True
            caller = self._caller(session)
            if caller is None:
                log.info("turn_waits_for_credentials", session_id=session_id, message_id=message.message_id)
                return False
            credential = self._credential(caller)
            if not self.gate.is_up:
                await self._tell_queued(session_id)
                await self.gate.wait_up()
                continue  # the session and its clients may have changed while waiting
            try:
                agent_id = await self._agent_id(session, credential)
                history = await self.sessions.history(session_id)
                turn = [*history, Message(role="user", content=message.content)]
                async with self.client.stream_turn(
                    agent_id=agent_id,
                    session_id=session_id,
                    messages=turn,
                    credential=credential,
                    metadata={"channel": "chat-api", "message_id": message.message_id},
                ) as events:
                    await self._relay(message, events)
                return True
            except OrchestratorUnavailable as exc:
                log.info("turn_queued", session_id=session_id, reason=exc.detail)
                self.gate.mark_down()
            except ChatAgentMissing:
                if agent_retried:
                    await self._fail(message, "the orchestrator has no agent to answer this session")
                    return True
                agent_retried = True
                await self.sessions.set_chat_agent_id(session.tenant, None)
                session.agent_id = None
                await self.sessions.save(session)
            except RateLimited as exc:
                wait = min(exc.retry_after, MAX_RATE_LIMIT_WAIT_SECONDS)
                self.registry.broadcast(
                    session_id, ErrorFrame(content=f"{exc.detail}; retrying in {wait}s", code=exc.code)
                )
                await asyncio.sleep(wait)
            except Unauthorized as exc:
                await self._fail(message, exc.detail, code=exc.code)
                return True
            except NovaError as exc:
                await self._fail(message, exc.detail, code=exc.code)
                return True
            except httpx.HTTPError as exc:
                # The orchestrator took the turn and then the stream broke: sending it again would run it twice.
                log.warning("answer_interrupted", session_id=session_id, error=type(exc).__name__)
                await self._fail(message, "the answer was interrupted; please ask again", code="interrupted")
                return True

    async def _agent_id(self, session: ChatSession, credential: Credential | None) -> UUID:
        if session.agent_id:
            return UUID(session.agent_id)
        # Sessions starting together must not each create an agent: one creates it, the rest wait for it.
        async with self._agent_lock:
            shared = await self.sessions.chat_agent_id(session.tenant)
            if shared is None:
                created = await self.client.create_agent(
                    self.settings.default_agent_name, self.settings.default_model, credential
                )
                shared = str(created)
                await self.sessions.set_chat_agent_id(session.tenant, shared)
        session.agent_id = shared
        await self.sessions.save(session)
        return UUID(shared)

    async def _relay(self, message: PendingChatMessage, events: AsyncIterator[ChatStreamEvent]) -> None:
        session_id = message.session_id
        # Only clients listening from the first chunk get the stream; one that joins midway gets the held copy.
        audience = self.registry.listeners(session_id)
        parts: list[str] = []
        error: str | None = None
        async for event in events:
            if event.error:
                error = event.error
                break
            if event.delta:
                parts.append(event.delta)
                chunk = StreamChunkFrame(session_id=session_id, delta=event.delta)
                audience = [conn for conn in audience if conn.send(chunk)]
        answer = "".join(parts)
        if error is not None:
            log.warning("orchestrator_stream_error", session_id=session_id, error=error[:300])
            audience = [c for c in audience if c.send(ErrorFrame(content=error, code="upstream_error"))]
        else:
            end = StreamEndFrame(session_id=session_id, message_id=message.message_id)
            audience = [conn for conn in audience if conn.send(end)]
            await self.sessions.record_turn(session_id, message.content, answer)
        if not any(await asyncio.gather(*(conn.flush(within=5.0) for conn in audience))):
            await self._hold(
                HeldChatReply(
                    message_id=message.message_id,
                    session_id=session_id,
                    content=answer,
                    error=error,
                    created_at=datetime.now(UTC),
                )
            )
            await self.flush_held(session_id)

    async def _fail(self, message: PendingChatMessage, detail: str, *, code: str = "upstream_error") -> None:
        log.warning("turn_failed", session_id=message.session_id, code=code, detail=detail[:300])
        if not self.registry.broadcast(message.session_id, ErrorFrame(content=detail, code=code)):
            await self._hold(
                HeldChatReply(
                    message_id=message.message_id,
                    session_id=message.session_id,
                    error=detail,
                    created_at=datetime.now(UTC),
                )
            )

    async def _hold(self, reply: HeldChatReply) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(held_key(reply.session_id), reply.model_dump_json())
            # Bounded like the pending list it comes from: a client that never returns cannot grow it forever.
            pipe.ltrim(held_key(reply.session_id), -self.settings.ws_max_pending_messages, -1)
            pipe.expire(held_key(reply.session_id), self.settings.session_ttl_seconds)
            await pipe.execute()
