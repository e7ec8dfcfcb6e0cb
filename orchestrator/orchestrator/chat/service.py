"""Dashboard chat with the primary agent: the user's message is stored before the model is called, the
answer after it, and each exchange becomes an episodic memory.

Conversations belong to their caller (keys are tenants): the admin sees all of them, anyone else only its
own, and another tenant's conversation is "not found".
"""

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
import redis.asyncio as aioredis

from nova_common.errors import Conflict, NotFound, NovaError
from nova_contracts.chat import (
    ChatStreamEvent,
    ChatStreamRequest,
    ConversationDetail,
    ConversationSummary,
    StoredChatMessage,
)
from nova_contracts.llm import Message
from nova_contracts.orchestrator import AgentInfo
from orchestrator.agents.service import AgentService
from orchestrator.agents.turn import (
    AgentRunner,
    Delta,
    Done,
    EarlyRecall,
    Meta,
    PhaseClock,
    TurnInput,
    as_stream_event,
)
from orchestrator.chat.repository import ConversationRepository
from orchestrator.keys.tenant import Tenant

HISTORY_MESSAGES = 200
TITLE_CHARS = 60
# Longer than any turn, so a crashed process cannot keep a conversation locked for long.
STREAM_LOCK_SECONDS = 300
CLEANUP_SECONDS = 5.0
STILL_WRITING = "a reply in this conversation is still being written; try again shortly"


async def _nothing() -> None:
    return None


# The conversation, the user's message and the earlier messages, as stored.
StoredTurn = tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]


def _user_meta(
    conversation: dict[str, Any], user_message: dict[str, Any], agent: AgentInfo
) -> ChatStreamEvent:
    """The stream's first event: where the user's (stored) message went."""
    return ChatStreamEvent(
        meta={
            "session_id": conversation["session_id"],
            "conversation_id": conversation["id"],
            "agent_id": str(agent.id),
            "user_message_id": user_message["id"],
        }
    )


@dataclass(frozen=True)
class NewConversation:
    """A conversation the turn is about to create: its id is chosen here, so it is locked before it exists."""

    id: UUID
    session_id: str | None

    @property
    def session(self) -> str:
        """What clients send back in X-Session-Id (a new conversation without one uses its own id)."""
        return self.session_id or str(self.id)


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ChatService:
    def __init__(
        self,
        repository: ConversationRepository,
        agents: AgentService,
        runner: AgentRunner,
        redis: aioredis.Redis,
    ) -> None:
        self.repository = repository
        self.agents = agents
        self.runner = runner
        self.redis = redis

    async def _agent(self, agent_ref: str | None, tenant: Tenant) -> AgentInfo:
        if agent_ref is None:
            return await self.agents.primary()
        try:
            return await self.agents.get(UUID(agent_ref), tenant=tenant)
        except ValueError as exc:
            raise NotFound(f"agent {agent_ref} not found") from exc

    async def stream(
        self, request: ChatStreamRequest, session_header: str | None, *, tenant: Tenant
    ) -> tuple[str, AsyncIterator[ChatStreamEvent]]:
        """Resolve the agent and conversation (404s and 409s happen here), then the turn's events."""
        clock = PhaseClock()
        session_id = session_header or request.session_id
        opening = NewConversation(id=uuid.uuid4(), session_id=session_id)
        # Independent, so at once: the agent (Redis), the session's conversation (PostgreSQL), and the lock of
        # the conversation this turn creates if the session is new. That id is chosen here, so no other turn can
        # hold its lock; when the session turns out to exist, the spare lock is dropped by the stream (or
        # expires, if the stream never starts: it guards a conversation that was never created).
        try:
            agent, conversation, locked = await asyncio.gather(
                self._agent(request.agent_id, tenant),
                self.repository.by_session(session_id) if session_id else _nothing(),
                self.redis.set(_stream_lock(opening.id), uuid.uuid4().hex, nx=True, ex=STREAM_LOCK_SECONDS),
            )
            clock.mark("agent_and_conversation")
            if request.research:
                await self.runner.check_research(agent, tenant)
            if conversation is not None and not tenant.may_see(_owner(conversation)):
                # Session ids are unique across tenants; continuing someone else's is refused without showing it.
                raise Conflict(f"session id {session_id} is taken; start a new session or choose another id")
        except Exception:
            # A 404 or 409 leaves no lock behind (a Redis failure would have failed the reads already).
            with contextlib.suppress(Exception):
                await self.redis.delete(_stream_lock(opening.id))
            raise
        # The recall needs only the agent and the message: it starts now and runs while the response starts,
        # the message is stored and the history read, instead of after them.
        early_recall = self.runner.start_recall(agent, tenant, request.message)
        if early_recall is not None:
            # Consumed by the stream; should the stream never start, its outcome must not be left unretrieved.
            early_recall.task.add_done_callback(_retrieve_outcome)
        if conversation is None:
            # A new conversation is created together with the user's message (one commit), from now on: while
            # the response starts and the turn prepares. The stream awaits it before the model is called. (Not
            # locked cannot really happen, the id being new; the stream then refuses, and nothing is written.)
            storing = None
            if locked:
                storing = asyncio.create_task(self._timed_store(request, agent, opening, tenant, clock))
                storing.add_done_callback(_retrieve_outcome)
            events = self._events(
                request, agent, opening, tenant, clock, early_recall, locked=bool(locked), storing=storing
            )
            return opening.session, events
        spare = _stream_lock(opening.id)
        events = self._events(request, agent, conversation, tenant, clock, early_recall, spare=spare)
        return conversation["session_id"], events

    async def _store_user_message(
        self,
        request: ChatStreamRequest,
        agent: AgentInfo,
        conversation: "dict[str, Any] | NewConversation",
        tenant: Tenant,
    ) -> "StoredTurn | None":
        """The conversation, the user's message (committed) and the earlier messages; None when a new
        conversation's session id was taken meanwhile."""
        title = _title(request.message)
        if isinstance(conversation, NewConversation):
            started = await self.repository.start_with_message(
                conversation.id,
                session_id=conversation.session_id,
                agent_id=str(agent.id),
                owner_kind=tenant.kind,
                api_key_id=tenant.api_key_id,
                content=request.message,
                title=title,
            )
            return None if started is None else (*started, [])
        conversation_id = UUID(conversation["id"])
        # Storing the message and reading the earlier ones are independent: both at once. The read may or may
        # not see the new message (it commits meanwhile), so it is left out there and put last by the caller.
        user_message, earlier = await asyncio.gather(
            self.repository.add_message(conversation_id, role="user", content=request.message, title=title),
            self.repository.messages(conversation_id, limit=HISTORY_MESSAGES),
        )
        return conversation, user_message, earlier

    async def _timed_store(
        self,
        request: ChatStreamRequest,
        agent: AgentInfo,
        opening: NewConversation,
        tenant: Tenant,
        clock: PhaseClock,
    ) -> StoredTurn | None:
        started = time.perf_counter()
        stored = await self._store_user_message(request, agent, opening, tenant)
        # The same phase as for a continued conversation, though it runs under the turn's preparation here.
        clock.add({"user_message_and_history": (time.perf_counter() - started) * 1000})
        return stored

    async def _events(
        self,
        request: ChatStreamRequest,
        agent: AgentInfo,
        opening: "dict[str, Any] | NewConversation",
        tenant: Tenant,
        clock: PhaseClock,
        early_recall: EarlyRecall | None,
        *,
        locked: bool = False,
        spare: str | None = None,
        storing: "asyncio.Task[StoredTurn | None] | None" = None,
    ) -> AsyncIterator[ChatStreamEvent]:
        """`locked`: the conversation's lock is held already; `spare`: a lock taken for nothing, to drop;
        `storing`: a new conversation's first message being written."""
        conversation_id = opening.id if isinstance(opening, NewConversation) else UUID(opening["id"])
        lock = _stream_lock(conversation_id)
        if not locked:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(lock, uuid.uuid4().hex, nx=True, ex=STREAM_LOCK_SECONDS)
                if spare is not None:
                    pipe.delete(spare)
                locked = bool((await pipe.execute())[0])
        if not locked:
            if early_recall is not None:
                await early_recall.discard()
            yield ChatStreamEvent(error=STILL_WRITING)
            return
        answer: list[str] = []
        finished = False
        try:
            clock.mark("stream_start_and_lock")
            if isinstance(opening, NewConversation):
                # A new conversation's turn needs the message, not its row: the row is written while the turn
                # prepares (agent status, config, sandbox, tools, prompt), and awaited before the first event
                # the turn yields, and in any case before the model is called (`before_model`).
                session_id = opening.session
                history = [Message(role="user", content=request.message)]
            else:
                stored_turn = await self._store_user_message(request, agent, opening, tenant)
                clock.mark("user_message_and_history")
                assert stored_turn is not None  # only a new conversation can find its session id taken
                conversation, user_message, earlier = stored_turn
                yield _user_meta(conversation, user_message, agent)
                session_id = conversation["session_id"]
                stored = [m for m in earlier if m["id"] != user_message["id"]][-(HISTORY_MESSAGES - 1) :]
                history = [
                    Message(role=m["role"], content=m["content"])
                    for m in [*stored, user_message]
                    if m["role"] in ("user", "assistant")
                ]
            turn = TurnInput(
                agent=agent,
                messages=history,
                tenant=tenant,
                model=request.model,
                session_id=session_id,
                metadata={"conversation_id": str(conversation_id)},
                stream=True,
                research=request.research,
                clock=clock,
                early_recall=early_recall,
                # The user's message is committed before the model is called, whatever the turn yields first.
                before_model=None if storing is None else functools.partial(asyncio.wait, [storing]),
            )
            try:
                # Closed explicitly, so the turn's own cleanup runs even when our caller stops early.
                async with aclosing(self.runner.run(turn)) as turn_events:
                    async for event in turn_events:
                        if storing is not None:
                            started, storing = await storing, None
                            if started is None:
                                # Another request started this session id at this moment and answers in it:
                                # as for a turn that finds the conversation's lock taken.
                                yield ChatStreamEvent(error=STILL_WRITING)
                                return
                            yield _user_meta(started[0], started[1], agent)
                            timings = event.data.get("timings_ms") if isinstance(event, Meta) else None
                            if isinstance(timings, dict):
                                # The turn took its timings before the write ended; it ended by now.
                                timings.update(_phase(clock, "user_message_and_history"))
                        if isinstance(event, Done):
                            outcome = event.outcome
                            reply = await self.repository.add_message(
                                conversation_id,
                                role="assistant",
                                content=outcome.response,
                                model=outcome.model,
                                metadata={
                                    "steps": [s.model_dump(mode="json") for s in outcome.steps],
                                    "input_tokens": outcome.input_tokens,
                                    "output_tokens": outcome.output_tokens,
                                    # Kept with the answer, so "why these memories" survives a reload.
                                    **({"recalled": outcome.recalled} if outcome.recalled else {}),
                                },
                            )
                            finished = True
                            yield ChatStreamEvent(
                                meta={
                                    "message_id": reply["id"],
                                    "model": outcome.model,
                                    "input_tokens": outcome.input_tokens,
                                    "output_tokens": outcome.output_tokens,
                                    "tool_calls": len(outcome.steps),
                                    "memory_saved": outcome.memory_saved,
                                }
                            )
                            continue
                        if isinstance(event, Delta):
                            answer.append(event.text)
                        rendered = as_stream_event(event)
                        if rendered is not None:
                            yield rendered
            except NovaError as exc:
                finished = True
                if storing is not None:
                    # The turn failed before its first event: the message is stored all the same, and said so.
                    started, storing = await storing, None
                    if started is not None:
                        yield _user_meta(started[0], started[1], agent)
                yield ChatStreamEvent(error=exc.detail)
        finally:
            # Runs also when the client left: the stream's task is then cancelled, so shield the cleanup.
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_SECONDS):
                if storing is not None:
                    # The client left before the turn's first event: the message is still written whole.
                    await asyncio.gather(storing, return_exceptions=True)
                # A client that left mid-answer still finds what was written so far.
                if not finished and answer:
                    await self.repository.add_message(
                        conversation_id,
                        role="assistant",
                        content="".join(answer),
                        metadata={"interrupted": True},
                    )
                await self.redis.delete(lock)
                if early_recall is not None:
                    # Awaited by the turn unless it failed first; then it must not outlive the request.
                    await early_recall.discard()

    async def recent(self, *, limit: int, offset: int, tenant: Tenant) -> list[ConversationSummary]:
        return [
            ConversationSummary.model_validate(c)
            for c in await self.repository.recent(limit=limit, offset=offset, owner=tenant.scope())
        ]

    async def _conversation(self, conversation_id: UUID, tenant: Tenant) -> dict[str, Any]:
        conversation = await self.repository.get(conversation_id)
        # Another tenant's conversation is "not found": its existence is not revealed.
        if conversation is None or not tenant.may_see(_owner(conversation)):
            raise NotFound(f"conversation {conversation_id} not found")
        return conversation

    async def get(self, conversation_id: UUID, *, tenant: Tenant, limit: int = 500) -> ConversationDetail:
        conversation = await self._conversation(conversation_id, tenant)
        messages = await self.repository.messages(conversation_id, limit=limit)
        return ConversationDetail.model_validate({**conversation, "messages": messages})

    async def messages(
        self, conversation_id: UUID, *, tenant: Tenant, limit: int, offset: int = 0
    ) -> list[StoredChatMessage]:
        await self._conversation(conversation_id, tenant)
        return [
            StoredChatMessage.model_validate(m)
            for m in await self.repository.messages(conversation_id, limit=limit, offset=offset)
        ]

    async def rename(self, conversation_id: UUID, title: str, *, tenant: Tenant) -> ConversationSummary:
        await self._conversation(conversation_id, tenant)
        if not await self.repository.rename(conversation_id, title):
            raise NotFound(f"conversation {conversation_id} not found")
        return ConversationSummary.model_validate(await self._conversation(conversation_id, tenant))

    async def delete(self, conversation_id: UUID, *, tenant: Tenant) -> None:
        await self._conversation(conversation_id, tenant)
        if not await self.repository.delete(conversation_id):
            raise NotFound(f"conversation {conversation_id} not found")


def _phase(clock: PhaseClock, name: str) -> dict[str, float]:
    return {name: clock.phases[name]} if name in clock.phases else {}


def _retrieve_outcome(task: "asyncio.Task[Any]") -> None:
    if not task.cancelled():
        task.exception()


def _stream_lock(conversation_id: UUID) -> str:
    """Held while a turn writes in the conversation, so two turns never interleave their messages."""
    return f"nova:chat:streaming:{conversation_id}"


def _owner(conversation: dict[str, Any]) -> Tenant:
    return Tenant.from_columns(conversation["owner_kind"], conversation["api_key_id"])
