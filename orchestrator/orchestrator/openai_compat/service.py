"""The primary agent (memory and tools included) behind the OpenAI chat-completions API."""

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from nova_common.auth import Principal
from nova_common.errors import NovaError
from nova_contracts.llm import ContentBlock, Message
from orchestrator.agents.service import AgentService
from orchestrator.agents.turn import AgentRunner, Delta, Done, TurnInput
from orchestrator.keys.tenant import Tenant
from orchestrator.openai_compat.schemas import (
    NOVA_MODEL_ID,
    CompatChatRequest,
    OpenAIChatCompletion,
    OpenAIChoice,
    OpenAIChoiceMessage,
    OpenAIModel,
    OpenAIModelList,
    OpenAIUsage,
)
from orchestrator.tasks.service import caller_metadata


def _text(content: str | list[dict[str, Any]] | None) -> str | list[ContentBlock]:
    if content is None or isinstance(content, str):
        return content or ""
    blocks = [
        ContentBlock(type="text", text=part.get("text", ""))
        if part.get("type") == "text"
        else ContentBlock(type="image_url", image_url=part.get("image_url"))
        for part in content
        if part.get("type") in ("text", "image_url")
    ]
    return blocks or ""


def to_messages(request: CompatChatRequest) -> list[Message]:
    messages = []
    for m in request.messages:
        if m.role in ("tool", "function"):
            continue  # the client's own tools: Nova uses its own, so their results mean nothing here
        role = "system" if m.role == "developer" else m.role
        messages.append(Message(role=role, content=_text(m.content)))
    return messages


class OpenAICompatService:
    def __init__(self, agents: AgentService, runner: AgentRunner) -> None:
        self.agents = agents
        self.runner = runner

    def models(self) -> OpenAIModelList:
        return OpenAIModelList(data=[OpenAIModel(id=NOVA_MODEL_ID, created=int(time.time()))])

    async def _turn(
        self, request: CompatChatRequest, principal: Principal, session_id: str | None, *, stream: bool
    ) -> TurnInput:
        agent = await self.agents.primary()
        # "nova" means the agent's own model; any other id is passed through as a model override.
        override = None if request.model in ("", NOVA_MODEL_ID) else request.model
        return TurnInput(
            agent=agent,
            messages=to_messages(request),
            # The primary agent serves every caller; memories and the tool policy follow the caller.
            tenant=Tenant.of(principal),
            model=override,
            session_id=session_id or request.user,
            metadata={**caller_metadata(principal), "source": "openai-compat"},
            stream=stream,
        )

    async def complete(
        self, request: CompatChatRequest, principal: Principal, session_id: str | None
    ) -> OpenAIChatCompletion:
        outcome = await self.runner.complete(await self._turn(request, principal, session_id, stream=False))
        return OpenAIChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}",
            created=int(time.time()),
            model=request.model or NOVA_MODEL_ID,
            choices=[OpenAIChoice(message=OpenAIChoiceMessage(content=outcome.response))],
            usage=OpenAIUsage(
                prompt_tokens=outcome.input_tokens,
                completion_tokens=outcome.output_tokens,
                total_tokens=outcome.input_tokens + outcome.output_tokens,
            ),
        )

    async def stream(
        self, request: CompatChatRequest, principal: Principal, session_id: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        turn = await self._turn(request, principal, session_id, stream=True)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        model = request.model or NOVA_MODEL_ID

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        async def events() -> AsyncIterator[dict[str, Any]]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                # Closed explicitly, so the turn's own cleanup runs even when our caller stops early.
                async with aclosing(self.runner.run(turn)) as turn_events:
                    async for event in turn_events:
                        if isinstance(event, Delta) and event.text:
                            yield chunk({"content": event.text})
                        elif isinstance(event, Done):
                            yield chunk({}, "stop")
            except NovaError as exc:
                yield {"error": {"message": exc.detail, "type": exc.code, "code": exc.status_code}}

        return events()
