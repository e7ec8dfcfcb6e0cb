"""Dashboard chat with the primary agent: the user's message is stored before the model is called, the
answer after it, and each exchange becomes an episodic memory.

Conversations belong to their caller (keys are tenants): the admin sees all of them, anyone else only its
own, and another tenant's conversation is "not found".
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
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
    PhaseClock,
    Preparation,
    TurnInput,
    as_stream_event,
    discard,
)
from orchestrator.chat.repository import ConversationRepository, OpenedSession
from orchestrator.keys.tenant import Tenant

HISTORY_MESSAGES = 200
TITLE_CHARS = 60
# Longer than any turn, so a crashed process cannot keep a conversation locked for long.
STREAM_LOCK_SECONDS = 300
CLEANUP_SECONDS = 5.0
STILL_WRITING = "a reply in this conversation is still being written; try again shortly"


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


async def _refusal(error: str) -> AsyncIterator[ChatStreamEvent]:
    yield ChatStreamEvent(error=error)


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

    async def _agent_and_lock(
        self, agent_ref: str | None, tenant: Tenant, lock: str
    ) -> tuple[AgentInfo, bool]:
        """The turn's agent (the primary unless the request names one), read in the round trip that takes
        `lock`; whether it was taken."""
        try:
            agent_id = None if agent_ref is None else UUID(agent_ref)
        except ValueError as exc:
            raise NotFound(f"agent {agent_ref} not found") from exc
        return await self.agents.get_and_lock(
            agent_id, tenant=tenant, lock=lock, token=uuid.uuid4().hex, seconds=STREAM_LOCK_SECONDS
        )

    async def stream(
        self,
        request: ChatStreamRequest,
        session_header: str | None,
        *,
        tenant: Tenant,
        clock: PhaseClock | None = None,
    ) -> tuple[str, AsyncIterator[ChatStreamEvent]]:
        """Resolve the agent and the session's conversation, which a new session starts with the user's
        message (404s and 409s happen here), then the turn's events. `clock`: a route's that began earlier."""
        clock = clock or PhaseClock()
        session_id = session_header or request.session_id
        # The id of the conversation this turn starts if the session is new, chosen here so that no other turn
        # can hold its lock: taken with the agent's read, and dropped by the stream when the session exists (or
        # left to expire if the stream never starts: it then guards a conversation that was never created).
        new_id = uuid.uuid4()
        spare = _stream_lock(new_id)
        early_recall: EarlyRecall | None = None
        preparation: asyncio.Task[Preparation] | None = None
        try:
            agent, locked = await self._agent_and_lock(request.agent_id, tenant, spare)
            clock.mark("agent")
            if request.research:
                await self.runner.check_research(agent, tenant)
            # The recall needs only the agent and the message: it starts now and runs while the conversation is
            # opened, the response starts and the turn prepares, instead of after them.
            early_recall = self.runner.start_recall(agent, tenant, request.message)
            # So is the rest of the turn's preparation (config, sandbox, tools), which runs in the wait for the
            # conversation's round trip below.
            preparation = self.runner.start_preparing(
                agent, tenant, model=request.model, research=request.research
            )
            # One round trip: the session's conversation, or a new one holding the user's message, committed
            # here, before the model is ever called. (Not locked cannot really happen, the id being new.)
            opened = None
            if locked:
                opened = await self.repository.open_session(
                    new_id,
                    session_id=session_id,
                    agent_id=str(agent.id),
                    owner_kind=tenant.kind,
                    api_key_id=tenant.api_key_id,
                    content=request.message,
                    title=_title(request.message),
                )
            clock.mark("conversation")
            if (
                opened is not None
                and opened.user_message is None
                and not tenant.may_see(_owner(opened.conversation))
            ):
                # Session ids are unique across tenants; continuing someone else's is refused without showing it.
                raise Conflict(f"session id {session_id} is taken; start a new session or choose another id")
        except Exception:
            # A 404 or 409 leaves no lock behind (a Redis failure would have failed the reads already), and no
            # recall running for nothing.
            with contextlib.suppress(Exception):
                await self.redis.delete(spare)
            await _discard_early(early_recall, preparation)
            raise
        if opened is None:
            # Another request started this session id at this moment and answers in it: as for a turn that
            # finds the conversation's lock taken.
            await self.redis.delete(spare)
            await _discard_early(early_recall, preparation)
            return session_id or str(new_id), _refusal(STILL_WRITING)
        # Consumed by the stream; should the stream never start, their outcomes must not be left unretrieved.
        for task in (early_recall.task if early_recall is not None else None, preparation):
            if task is not None:
                task.add_done_callback(_retrieve_outcome)
        started_here = opened.user_message is not None
        assert preparation is not None  # begun once the agent was known, as the recall
        events = self._events(
            request,
            agent,
            opened,
            tenant,
            clock,
            early_recall,
            preparation,
            spare=None if started_here else spare,
        )
        return opened.conversation["session_id"], events

    async def _store_user_message(
        self, request: ChatStreamRequest, conversation: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A continued conversation: the user's message (committed) and the earlier messages."""
        conversation_id = UUID(conversation["id"])
        # Storing the message and reading the earlier ones are independent: both at once. The read may or may
        # not see the new message (it commits meanwhile), so it is left out there and put last by the caller.
        user_message, earlier = await asyncio.gather(
            self.repository.add_message(
                conversation_id, role="user", content=request.message, title=_title(request.message)
            ),
            self.repository.messages(conversation_id, limit=HISTORY_MESSAGES),
        )
        return user_message, earlier

    async def _events(
        self,
        request: ChatStreamRequest,
        agent: AgentInfo,
        opened: OpenedSession,
        tenant: Tenant,
        clock: PhaseClock,
        early_recall: EarlyRecall | None,
        preparation: "asyncio.Task[Preparation]",
        *,
        spare: str | None,
    ) -> AsyncIterator[ChatStreamEvent]:
        """`spare`: None when this turn started the conversation (its lock is held already); otherwise the lock
        taken for a conversation that was not needed, dropped while the conversation's own is taken."""
        conversation = opened.conversation
        conversation_id = UUID(conversation["id"])
        lock = _stream_lock(conversation_id)
        if spare is not None:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(lock, uuid.uuid4().hex, nx=True, ex=STREAM_LOCK_SECONDS)
                pipe.delete(spare)
                locked = bool((await pipe.execute())[0])
            if not locked:
                await _discard_early(early_recall, preparation)
                yield ChatStreamEvent(error=STILL_WRITING)
                return
        answer: list[str] = []
        finished = False
        try:
            clock.mark("stream_start_and_lock")
            if opened.user_message is not None:
                user_message, stored = opened.user_message, []
            else:
                user_message, earlier = await self._store_user_message(request, conversation)
                clock.mark("user_message_and_history")
                stored = [m for m in earlier if m["id"] != user_message["id"]][-(HISTORY_MESSAGES - 1) :]
            yield _user_meta(conversation, user_message, agent)
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
                session_id=conversation["session_id"],
                metadata={"conversation_id": str(conversation_id)},
                stream=True,
                research=request.research,
                clock=clock,
                early_recall=early_recall,
                preparation=preparation,
            )
            try:
                # Closed explicitly, so the turn's own cleanup runs even when our caller stops early.
                async with aclosing(self.runner.run(turn)) as turn_events:
                    async for event in turn_events:
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
                yield ChatStreamEvent(error=exc.detail)
        finally:
            # Runs also when the client left: the stream's task is then cancelled, so shield the cleanup.
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_SECONDS):
                # A client that left mid-answer still finds what was written so far.
                if not finished and answer:
                    await self.repository.add_message(
                        conversation_id,
                        role="assistant",
                        content="".join(answer),
                        metadata={"interrupted": True},
                    )
                await self.redis.delete(lock)
                # Awaited by the turn unless it failed first; then they must not outlive the request.
                await _discard_early(early_recall, preparation)

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


async def _discard_early(
    early_recall: EarlyRecall | None, preparation: "asyncio.Task[Preparation] | None"
) -> None:
    """What was begun ahead of a turn that will not use it (or has used it): cancelled, its outcome consumed."""
    if early_recall is not None:
        await early_recall.discard()
    if preparation is not None:
        await discard(preparation)


def _retrieve_outcome(task: "asyncio.Task[Any]") -> None:
    if not task.cancelled():
        task.exception()


def _stream_lock(conversation_id: UUID) -> str:
    """Held while a turn writes in the conversation, so two turns never interleave their messages."""
    return f"nova:chat:streaming:{conversation_id}"


def _owner(conversation: dict[str, Any]) -> Tenant:
    return Tenant.from_columns(conversation["owner_kind"], conversation["api_key_id"])
