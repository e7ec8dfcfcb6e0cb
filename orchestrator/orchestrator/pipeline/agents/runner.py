"""One pipeline agent = `/complete` calls asking for JSON by schema, validated, with one corrective retry.

An agent with tools runs a bounded tool loop first: each round offers its tools next to the output schema;
a round that calls tools gets their results back and the model goes on, a round that calls none is the
answer. Past the round limit the tools are withheld and the model is told to answer with what it has.
"""

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from pydantic import ValidationError

from nova_contracts.llm import CompleteRequest, CompleteResponse, Message, ResponseFormat
from nova_contracts.orchestrator import PipelineRole, PodAgentConfig, ToolCallRecord
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.pipeline.agents.prompts import DEFAULT_PROMPTS
from orchestrator.pipeline.agents.schemas import OUTPUT_MODELS, output_schema
from orchestrator.pipeline.agents.tools import StageTools

# The stage output keeps each tool result's start; the model saw it whole (up to the tool service's cap).
RECORDED_RESULT_CHARS = 2_000
# The gateway's task types (llm-gateway routing/tiers.py), used when neither agent nor pod names a model.
STAGE_TASK_TYPES: dict[PipelineRole, str] = {
    PipelineRole.CONTEXT: "context_retrieval",
    PipelineRole.TASK: "task_execution",
    PipelineRole.GUARDRAIL: "guardrail",
    PipelineRole.CODE_REVIEW: "code_review",
    PipelineRole.DECISION: "decision",
    PipelineRole.DOCUMENTATION: "narration",
    PipelineRole.DIAGRAMMING: "narration",
    PipelineRole.SECURITY_REVIEW: "code_review",
    PipelineRole.MEMORY_EXTRACTION: "extraction",
}
TOOLS_USED_UP = (
    "[The tool budget of this stage is used up. Answer now with the JSON object, from what you have.]"
)

ToolCallListener = Callable[[ToolCallRecord], Awaitable[None]]


class AgentOutputInvalid(Exception):
    """The model's answer did not match the agent's schema, even after the corrective retry."""

    def __init__(self, detail: str, *, cost_usd: float = 0.0) -> None:
        super().__init__(detail)
        self.cost_usd = cost_usd


@dataclass
class AgentAnswer:
    output: dict[str, Any]
    cost_usd: float = 0.0
    model: str | None = None
    # Validation errors of rejected attempts, for the timeline.
    rejected: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


def _validate(agent: PodAgentConfig, content: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError as exc:
        raise AgentOutputInvalid(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise AgentOutputInvalid("the answer must be a JSON object")
    if agent.output_schema is not None:
        try:
            jsonschema.validate(value, agent.output_schema)
        except jsonschema.ValidationError as exc:
            raise AgentOutputInvalid(f"schema violation at {list(exc.absolute_path)}: {exc.message}") from exc
        return value
    try:
        return OUTPUT_MODELS[agent.role].model_validate(value).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        raise AgentOutputInvalid(f"schema violation at {list(first['loc'])}: {first['msg']}") from exc


class PipelineStageRunner:
    def __init__(
        self, gateway: LlmGatewayClient, *, timeout_seconds: float, max_tool_rounds: int = 5
    ) -> None:
        self.gateway = gateway
        self.timeout_seconds = timeout_seconds
        self.max_tool_rounds = max_tool_rounds

    async def run(
        self,
        agent: PodAgentConfig,
        *,
        task_id: uuid.UUID,
        default_model: str | None,
        brief: str,
        tools: StageTools | None = None,
        on_tool_call: ToolCallListener | None = None,
        instructions: str = "",
    ) -> AgentAnswer:
        """Ask the agent; raise `AgentOutputInvalid` after two bad answers, `UpstreamUnavailable` if unreachable."""
        schema = agent.output_schema or output_schema(agent.role)
        messages = [
            # `instructions`: the agent's skills and the admin's rules, after its own prompt.
            Message(
                role="system",
                content="\n\n".join(
                    filter(None, [agent.system_prompt or DEFAULT_PROMPTS[agent.role], instructions])
                ),
            ),
            Message(role="user", content=brief),
        ]
        answer = AgentAnswer(output={})
        rounds = 0
        calls = 0

        async def ask(offer: StageTools | None) -> CompleteResponse:
            nonlocal calls
            calls += 1
            request = CompleteRequest(
                model=agent.model or default_model,
                messages=messages,
                tools=offer.offered if offer else [],
                temperature=agent.temperature,
                max_tokens=agent.max_tokens,
                response_format=ResponseFormat(
                    type="json_schema", json_schema={"name": f"{agent.role.value}_output", "schema": schema}
                ),
                metadata={"task_id": str(task_id), "agent_id": f"pipeline:{agent.name}", "attempt": calls},
                # With no model named, the gateway picks one of the tier this kind of stage needs.
                task_type=STAGE_TASK_TYPES.get(agent.role),
            )
            response = await self.gateway.complete(
                request, time_limit=min(agent.timeout_seconds, self.timeout_seconds)
            )
            answer.cost_usd += response.cost_usd or 0.0
            answer.model = response.model
            return response

        for _attempt in (1, 2):
            while True:
                offer = tools if tools and tools.offered and rounds < self.max_tool_rounds else None
                response = await ask(offer)
                if offer is None or not response.tool_calls:
                    break
                rounds += 1
                messages.append(
                    Message(
                        role="assistant",
                        content=response.content,
                        tool_calls=[call.as_ref() for call in response.tool_calls],
                    )
                )
                for call in response.tool_calls:
                    outcome = await offer.execute(call, time_limit=agent.timeout_seconds)
                    record = ToolCallRecord(
                        round=rounds,
                        call=call,
                        result=outcome.text[:RECORDED_RESULT_CHARS],
                        is_error=outcome.is_error,
                        duration_ms=outcome.duration_ms,
                    )
                    answer.tool_calls.append(record)
                    if on_tool_call is not None:
                        await on_tool_call(record)
                    messages.append(
                        Message(role="tool", tool_call_id=call.id, name=call.name, content=outcome.text)
                    )
                if rounds >= self.max_tool_rounds:
                    messages.append(Message(role="user", content=TOOLS_USED_UP))
            try:
                answer.output = _validate(agent, response.content)
                return answer
            except AgentOutputInvalid as exc:
                answer.rejected.append(str(exc))
                messages = [
                    *messages,
                    Message(role="assistant", content=response.content[:20_000] or "(empty)"),
                    Message(
                        role="user",
                        content=f"That answer was invalid ({exc}). Answer again with only a JSON object matching "
                        f"this schema:\n{json.dumps(schema)}",
                    ),
                ]
        raise AgentOutputInvalid("; ".join(answer.rejected), cost_usd=answer.cost_usd)
