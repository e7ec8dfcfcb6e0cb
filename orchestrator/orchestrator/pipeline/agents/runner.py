"""One pipeline agent = one `/complete` call asking for JSON by schema, validated, with one corrective retry."""

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from pydantic import ValidationError

from nova_contracts.llm import CompleteRequest, Message, ResponseFormat
from nova_contracts.orchestrator import PodAgentConfig
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.pipeline.agents.prompts import DEFAULT_PROMPTS
from orchestrator.pipeline.agents.schemas import OUTPUT_MODELS, output_schema


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


class AgentRunner:
    def __init__(self, gateway: LlmGatewayClient, *, timeout_seconds: float) -> None:
        self.gateway = gateway
        self.timeout_seconds = timeout_seconds

    async def run(
        self,
        agent: PodAgentConfig,
        *,
        task_id: uuid.UUID,
        default_model: str | None,
        brief: str,
    ) -> AgentAnswer:
        """Ask the agent; raise `AgentOutputInvalid` after two bad answers, `UpstreamUnavailable` if unreachable."""
        schema = agent.output_schema or output_schema(agent.role)
        messages = [
            Message(role="system", content=agent.system_prompt or DEFAULT_PROMPTS[agent.role]),
            Message(role="user", content=brief),
        ]
        answer = AgentAnswer(output={})
        for attempt in (1, 2):
            request = CompleteRequest(
                model=agent.model or default_model,
                messages=messages,
                temperature=agent.temperature,
                max_tokens=agent.max_tokens,
                response_format=ResponseFormat(
                    type="json_schema", json_schema={"name": f"{agent.role.value}_output", "schema": schema}
                ),
                metadata={"task_id": str(task_id), "agent_id": f"pipeline:{agent.name}", "attempt": attempt},
            )
            response = await self.gateway.complete(
                request, time_limit=min(agent.timeout_seconds, self.timeout_seconds)
            )
            answer.cost_usd += response.cost_usd or 0.0
            answer.model = response.model
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
