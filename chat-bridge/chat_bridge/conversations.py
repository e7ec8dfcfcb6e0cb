"""What every adapter does with a user's text: find the chat's Nova session, ask the orchestrator, and turn
any failure into a sentence the user can act on (never silence)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import structlog

from chat_bridge.clients.orchestrator import BridgeAgentMissing, BridgeOrchestratorClient
from chat_bridge.sessions import BridgeSessionStore
from nova_common.errors import NovaError, RateLimited, Unauthorized, UpstreamUnavailable
from nova_contracts.chat import BridgeSession
from nova_contracts.llm import Message

log = structlog.get_logger("chat_bridge.conversations")

UNREACHABLE = "Nova can't be reached right now. Please try again in a minute."
EMPTY_ANSWER = "(Nova returned an empty answer.)"


@dataclass(frozen=True)
class Reply:
    text: str
    ok: bool = True


class Conversations:
    def __init__(
        self,
        *,
        sessions: BridgeSessionStore,
        orchestrator: BridgeOrchestratorClient,
        agent_name: str,
        model: str | None,
        agent_tools: list[str],
        refusal_repeat_seconds: int,
    ) -> None:
        self.sessions = sessions
        self.orchestrator = orchestrator
        self.agent_name = agent_name
        self.model = model
        self.agent_tools = agent_tools
        self.refusal_repeat_seconds = refusal_repeat_seconds
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._agent_lock = asyncio.Lock()
        # The stored agent whose tools this process has checked against `agent_tools`.
        self._checked_agent: str | None = None

    @asynccontextmanager
    async def _one_turn_at_a_time(self, key: str) -> AsyncIterator[None]:
        # Platforms deliver a chat's messages concurrently; answering them in order keeps the history right.
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def ask(self, platform: str, platform_id: str, text: str) -> Reply:
        async with self._one_turn_at_a_time(f"{platform}:{platform_id}"):
            session = await self.sessions.get_or_create(platform, platform_id)
            try:
                return await self._ask(platform, platform_id, session, text)
            except UpstreamUnavailable as exc:
                log.warning("orchestrator_unreachable", platform=platform, detail=exc.detail)
                return Reply(UNREACHABLE, ok=False)
            except RateLimited as exc:
                return Reply(
                    f"Nova is busy right now; please try again in {exc.retry_after} seconds.", ok=False
                )
            except Unauthorized as exc:
                log.error("bridge_credentials_refused", platform=platform, detail=exc.detail)
                return Reply(
                    "This bridge is not allowed to talk to Nova; an admin needs to check its API key.", False
                )
            except NovaError as exc:
                log.warning("turn_failed", platform=platform, detail=exc.detail)
                return Reply(f"Sorry, that failed: {exc.detail}", ok=False)

    async def _ask(self, platform: str, platform_id: str, session: BridgeSession, text: str) -> Reply:
        history = await self.sessions.history(session.session_id)
        turn = [*history, Message(role="user", content=text)]
        for attempt in range(2):
            try:
                agent_id = await self._agent_id()
                reply = await self.orchestrator.ask(
                    agent_id=agent_id, session_id=session.session_id, messages=turn, channel=platform
                )
                break
            except BridgeAgentMissing:
                # Someone deleted the bridge's agent: make a new one, once.
                await self.sessions.set_bridge_agent_id(None)
                self._checked_agent = None
                if attempt == 1:
                    raise
        if reply.error:
            log.warning("answer_error", platform=platform, error=reply.error[:300])
            partial = f"{reply.text}\n\n" if reply.text else ""
            return Reply(f"{partial}Sorry, I couldn't finish the answer: {reply.error}", ok=False)
        await self.sessions.record_turn(platform, platform_id, session, text, reply.text)
        return Reply(reply.text or EMPTY_ANSWER)

    async def _agent_id(self) -> UUID:
        # Chats starting together must not each create an agent.
        async with self._agent_lock:
            stored = await self.sessions.bridge_agent_id()
            if stored and stored == self._checked_agent:
                return UUID(stored)
            if stored:
                # An agent made before the bridge limited its tools (or edited since) gets the configured
                # list back before it answers anyone: `tools: []` would mean every tool, the shell included.
                agent_id = UUID(stored)
                await self.orchestrator.limit_tools(agent_id, self.agent_tools)
            else:
                agent_id = await self.orchestrator.create_agent(self.agent_name, self.model, self.agent_tools)
                await self.sessions.set_bridge_agent_id(str(agent_id))
            self._checked_agent = str(agent_id)
            return agent_id

    async def refusal_due(self, platform: str, platform_id: str) -> bool:
        """Whether a chat that is not allowed should be told so now (once per `refusal_repeat_seconds`)."""
        return await self.sessions.claim_refusal(
            platform, platform_id, every_seconds=self.refusal_repeat_seconds
        )

    async def orchestrator_reachable(self) -> bool:
        return await self.orchestrator.is_live()

    async def reset(self, platform: str, platform_id: str) -> bool:
        return await self.sessions.reset(platform, platform_id)

    async def describe(self, platform: str, platform_id: str) -> str:
        session = await self.sessions.get(platform, platform_id)
        if session is None:
            return "No conversation yet: send a message to start one."
        return (
            f"Session {session.session_id[:8]}, {session.message_count} exchange(s) since "
            f"{session.created_at:%Y-%m-%d %H:%M} UTC."
        )
