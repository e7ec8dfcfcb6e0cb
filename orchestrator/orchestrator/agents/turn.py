"""One agent turn: memories, prompt, the tool loop through llm-gateway, the answer, the episodic memory.

Each round is one model call with the tools offered; a round that calls no tool is the answer, so nothing
is generated twice. Whole-answer callers (POST /tasks, non-streaming OpenAI) use `/complete`; streaming
callers use `/stream`, whose text reaches the user as it is generated and whose last chunk carries the
round's tool calls, assembled by the gateway. Rounds are bounded in number and wall time; past the round
limit the model answers with tools withheld. Every tool call and its result is recorded in order.
"""

import asyncio
import functools
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog
from pydantic import ValidationError

from nova_common.errors import Conflict, Forbidden, NovaError, UpstreamUnavailable
from nova_contracts.chat import ChatStreamEvent
from nova_contracts.goals import GoalCreator
from nova_contracts.llm import CallMetadata, CompleteRequest, Message, StreamChunk, ToolCall, ToolDefinition
from nova_contracts.memory import (
    ContextRequest,
    ContextResponse,
    FeedbackOutcome,
    FeedbackRequest,
    IngestRequest,
    MemoryCreate,
    MemoryTier,
    SourceInfo,
    SourceKind,
)
from nova_contracts.orchestrator import AgentInfo, AgentStatus, SandboxTier, ToolCallRecord
from orchestrator.agents.policy import expand, key_policy, narrow_tools
from orchestrator.agents.prompt import conversation_history, fit_tools, system_prompt
from orchestrator.agents.service import AgentService
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.config import Settings
from orchestrator.goals.service import GoalService, goal_card, parse_goal
from orchestrator.keys.tenant import Tenant
from orchestrator.platform_config.service import ContextBudget, PlatformConfigService
from orchestrator.tools.registry import RESEARCH_TOOLS, ToolContext, ToolError
from orchestrator.tools.sandbox import Sandbox, Sandboxes, SandboxViolation, narrower
from orchestrator.tools.service import ToolService, switched_off_message
from orchestrator.tools.web_search import NOT_CONFIGURED

log = structlog.get_logger("orchestrator.turn")

MEMORY_CONTENT_LIMIT = 50_000
# A tool result is kept whole in the task record; the live stream carries only its start.
STREAMED_RESULT_CHARS = 2_000
FINAL_ANSWER_NOTE = (
    "[The tool budget of this turn is used up. Answer now from what you have; no more tool calls.]"
)


RECALL_QUERY_CHARS = 10_000


@dataclass(frozen=True)
class EarlyRecall:
    """Memory recall begun before the turn, so it overlaps the caller's own steps (storing the user's message,
    reading the history). The caller owns the task: it cancels it if the turn never awaits it."""

    query: str
    task: "asyncio.Task[ContextResponse]"

    async def discard(self) -> None:
        """Cancel the recall if still running, and consume its outcome either way (no orphaned error)."""
        await discard(self.task)


async def discard(task: "asyncio.Task[Any]") -> None:
    """Cancel a task begun ahead of its turn if still running, and consume its outcome either way."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@dataclass(frozen=True)
class Preparation:
    """What a turn needs before its prompt that owes nothing to the conversation: the agent as the turn may
    use it, the model, the context budget, the sandbox, the tools offered, the identity. The chat starts it
    (`AgentRunner.start_preparing`) while the conversation is being opened, so it runs in that round trip's
    wait rather than after it."""

    agent: AgentInfo
    model: str
    budget: ContextBudget
    sandbox: Sandbox
    tools: list[ToolDefinition]
    left_out: list[str]
    ai_name: str
    persona: str
    # Its own steps in milliseconds (config, sandbox, tools): reported as `preparation_*`.
    phases: dict[str, float]


@dataclass
class PhaseClock:
    """Where a turn's time goes before its first model call: milliseconds per phase, in the order they ran.

    The chat stream reports it (`meta.timings_ms`) just before the model is called, so a client, the
    dashboard or `bench/chat_overhead.py` can see which step of a slow first token was slow.
    """

    phases: dict[str, float] = field(default_factory=dict)
    _last: float = field(default_factory=time.perf_counter)

    @classmethod
    def since(cls, started: float) -> "PhaseClock":
        """A clock whose first phase began at `started` (a `time.perf_counter()` reading)."""
        return cls(_last=started)

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = round(self.phases.get(phase, 0.0) + (now - self._last) * 1000, 3)
        self._last = now

    def add(self, phases: dict[str, float]) -> None:
        """Phases measured elsewhere (memory-service's own split of a recall)."""
        for name, ms in phases.items():
            self.phases[name] = round(ms, 3)


@dataclass(frozen=True)
class TurnInput:
    agent: AgentInfo
    messages: list[Message]
    # Who the turn runs for: memories are written and recalled as this owner, and a caller without the admin
    # secret (or an agent such a caller owns) runs under the default agent policy.
    tenant: Tenant
    model: str | None = None
    session_id: str | None = None
    # Tags passed to the gateway with every call (task_id, api_key_id…); they end up in usage records.
    metadata: CallMetadata = field(default_factory=dict)
    sandbox: SandboxTier | None = None
    remember: bool = True
    delegated: bool = False
    # A delegated turn may use no tool its parent could not (None: no ceiling).
    tools_ceiling: frozenset[str] | None = None
    # Set by callers that report where the time before the first model call went (the chat stream).
    clock: PhaseClock | None = None
    # A recall the caller started before the turn (`AgentRunner.start_recall`), used if its query is the turn's.
    early_recall: "EarlyRecall | None" = None
    # The turn's preparation, begun by the caller (`AgentRunner.start_preparing`) for this agent and tenant.
    preparation: "asyncio.Task[Preparation] | None" = None
    # Streaming callers get each round through /stream, so text reaches them as it is generated.
    stream: bool = False
    # A research turn is also given web_search and web_fetch (checked first with `check_research`).
    research: bool = False


@dataclass(frozen=True)
class Status:
    text: str


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    round: int
    call: ToolCall


@dataclass(frozen=True)
class ToolFinished:
    record: ToolCallRecord


@dataclass(frozen=True)
class Meta:
    data: dict[str, object]


@dataclass
class TurnOutcome:
    response: str = ""
    model: str | None = None
    steps: list[ToolCallRecord] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    memory_saved: bool | None = None
    # The memories recalled for the turn and why (scores, source): shown beside the answer.
    recalled: list[dict[str, object]] = field(default_factory=list)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [s.call for s in self.steps]


@dataclass
class RoundResult:
    """What one model call produced, after its text was passed on."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Done:
    outcome: TurnOutcome


TurnEvent = Status | Delta | ToolStarted | ToolFinished | Meta | Done


# A recalled memory counts as used when the answer repeats this many of its distinctive words (or its id):
# a cheap proxy until the model is asked to cite what it used.
USED_MEMORY_SHARED_WORDS = 2
_WORD = re.compile(r"[^\W\d_]{5,}")


def _distinctive_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _held_to_policy(tenant: Tenant, agent: AgentInfo) -> bool:
    """A turn for a caller without the admin's view, or of an agent such a caller owns, is held to the
    API keys' default agent policy."""
    return not (tenant.sees_everything and Tenant.from_owner(agent.owner).sees_everything)


def _session_uri(session_id: str | None) -> str | None:
    return f"nova:session:{session_id}"[:2000] if session_id else None


class AgentRunner:
    def __init__(
        self,
        *,
        settings: Settings,
        agents: AgentService,
        gateway: LlmGatewayClient,
        memory: MemoryServiceClient,
        tools: ToolService,
        config: PlatformConfigService,
        web_fetch: Callable[[str, int], Awaitable[str]],
        service_health: Callable[[], Awaitable[dict[str, str]]],
        goals: GoalService | None = None,
        web_search: Callable[[str, int], Awaitable[str]] | None = None,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.gateway = gateway
        self.memory = memory
        self.tools = tools
        self.config = config
        self.web_fetch = web_fetch
        self.service_health = service_health
        self.goals = goals
        self.web_search = web_search
        # Shared with the pipeline's stages (`pipeline/runtime.py`).
        self.sandboxes = Sandboxes(
            workspace=settings.workspace, nova_root=settings.nova_root, allow_host=settings.allow_host_sandbox
        )

    async def _create_goal(self, tenant: Tenant, args: dict[str, Any]) -> str:
        """The `create_goal` tool: a goal owned by the turn's caller, validated like an API request."""
        assert self.goals is not None
        fields = ("title", "description", "schedule_cron", "priority", "max_completions")
        body = parse_goal({k: args[k] for k in fields if args.get(k) is not None} | {"complex": False})
        try:
            goal = await self.goals.create_for(body, tenant, GoalCreator.CHAT)
        except NovaError as exc:
            raise ToolError(exc.detail) from exc
        return goal_card(goal)

    async def run(self, turn: TurnInput) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events; a dependency that is down raises `UpstreamUnavailable` naming it."""
        agent = turn.agent
        if agent.status in (AgentStatus.PAUSED, AgentStatus.STOPPED):
            raise Conflict(f"agent {agent.config.name} is {agent.status.value}")
        # Marked running while the turn prepares, not before it (a Redis round trip on every turn's path); the
        # final mark waits for it, so the two always land in order.
        running = asyncio.ensure_future(self.agents.mark(agent.id, AgentStatus.RUNNING))
        final_status = AgentStatus.IDLE
        try:
            # Every nested generator is closed explicitly: a client that leaves closes the gateway stream now.
            async with aclosing(self._run(turn)) as events:
                async for event in events:
                    yield event
        except NovaError:
            final_status = AgentStatus.ERROR
            raise
        finally:
            # Also when the caller went away mid-turn (its task cancelled): the agent must not stay running.
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                [marked] = await asyncio.gather(running, return_exceptions=True)
                if isinstance(marked, Exception):
                    log.warning("agent_status_not_marked", agent_id=str(agent.id), error=str(marked))
                await self.agents.mark(agent.id, final_status)

    async def _sandbox_tier(self, turn: TurnInput) -> SandboxTier:
        configured = turn.agent.config.metadata.get("sandbox") or await self.config.value(
            "sandbox.default_tier"
        )
        try:
            tier = SandboxTier(configured) if configured else self.settings.default_sandbox
        except ValueError:
            tier = self.settings.default_sandbox
        return narrower(tier, turn.sandbox) if turn.sandbox else tier

    async def _held(self, turn: TurnInput) -> tuple[AgentInfo, SandboxTier]:
        """The agent as this turn may use it, and its sandbox tier.

        A turn for a caller without the admin's view, or of an agent such a caller owns, is held under the
        default agent policy whatever the agent's config says: its `metadata.sandbox` was never the admin's
        to vouch for. A delegated turn is also held to its parent's tools.
        """
        agent, tier = turn.agent, await self._sandbox_tier(turn)
        tools = agent.config.tools
        if turn.research and tools:
            # For this turn only; an empty list already means every tool.
            tools = sorted(expand(tools) | RESEARCH_TOOLS)
        if _held_to_policy(turn.tenant, agent):
            policy = await key_policy(self.config)
            tier = narrower(tier, policy.tier)
            tools = policy.narrow_tools(tools)
        if turn.tools_ceiling is not None:
            tools = narrow_tools(tools, turn.tools_ceiling)
        if tools != agent.config.tools:
            agent = agent.model_copy(update={"config": agent.config.model_copy(update={"tools": tools})})
        return agent, tier

    def start_recall(self, agent: AgentInfo, tenant: Tenant, query: str) -> EarlyRecall | None:
        """Begin the recall a turn of `agent` on `query` will need, when it needs one."""
        if not agent.config.memory_tiers or not query.strip():
            return None
        task = asyncio.create_task(self._recall(agent, tenant, query), name=f"recall:{agent.id}")
        return EarlyRecall(query[:RECALL_QUERY_CHARS], task)

    async def _recall(self, agent: AgentInfo, tenant: Tenant, query: str) -> ContextResponse:
        budget = await self.config.context_budget(agent.config.max_context_tokens)
        return await self.memory.context(
            str(agent.id),
            ContextRequest(
                query=query[:RECALL_QUERY_CHARS],
                token_budget=max(64, budget.memory),
                tiers=list(agent.config.memory_tiers),
                owner=tenant.owner,
            ),
        )

    async def check_research(self, agent: AgentInfo, tenant: Tenant) -> None:
        """Refuse a research turn before it starts: 403 when the caller's tool policy leaves out the web
        tools, 409 when the administrator switched them off or no search backend is configured."""
        if _held_to_policy(tenant, agent):
            missing = sorted(RESEARCH_TOOLS - (await key_policy(self.config)).tools)
            if missing:
                raise Forbidden(
                    f"research needs the web tools ({', '.join(missing)}), which the API keys' tool policy "
                    "(agents.key_default_tools) does not allow; ask the administrator"
                )
        if not (await self.tools.permissions()).groups["web"]:
            raise Conflict(f"research needs the web tools, but {switched_off_message('web')}")
        if self.web_search is None:
            raise Conflict(f"research needs a search backend, and {NOT_CONFIGURED}")

    def start_preparing(
        self, agent: AgentInfo, tenant: Tenant, *, model: str | None, research: bool
    ) -> "asyncio.Task[Preparation]":
        """Begin the preparation of a turn of `agent` for `tenant` (a chat turn: no sandbox override, not
        delegated). The caller passes it on in `TurnInput.preparation`, or discards it."""
        turn = TurnInput(agent=agent, messages=[], tenant=tenant, model=model, research=research)
        return asyncio.create_task(self._prepare(turn), name=f"prepare:{agent.id}")

    async def _prepare(self, turn: TurnInput) -> Preparation:
        clock = PhaseClock()
        agent, tier = await self._held(turn)
        model = turn.model or agent.config.model or await self.config.value("llm.default_chat_model")
        budget = await self.config.context_budget(agent.config.max_context_tokens)
        clock.mark("config")
        try:
            sandbox = await self.sandboxes.get(tier)
        except SandboxViolation as exc:
            raise Conflict(f"agent {agent.config.name}: {exc}") from exc
        clock.mark("sandbox")
        offered = await self.tools.offered(
            agent, has_filesystem=sandbox.has_filesystem, delegated=turn.delegated, research=turn.research
        )
        tools, left_out = fit_tools(offered[:128], budget.tools)
        identity = await self.config.identity()
        persona = str(await self.config.value("nova.persona"))
        clock.mark("tools")
        return Preparation(
            agent=agent,
            model=model,
            budget=budget,
            sandbox=sandbox,
            tools=tools,
            left_out=left_out,
            ai_name=identity.name,
            persona=persona,
            phases=clock.phases,
        )

    async def _run(self, turn: TurnInput) -> AsyncGenerator[TurnEvent, None]:
        settings = self.settings
        clock = turn.clock or PhaseClock()
        deadline = time.monotonic() + settings.agent_turn_timeout_seconds
        prepared = await (turn.preparation or self._prepare(turn))
        # What this turn waited for its preparation (little when it ran ahead), then the preparation's own steps.
        clock.mark("preparation")
        clock.add({f"preparation_{name}": ms for name, ms in prepared.phases.items()})
        agent, model, budget, sandbox = prepared.agent, prepared.model, prepared.budget, prepared.sandbox

        history, caller_instructions = conversation_history(turn.messages, budget.history)
        if not history or history[-1].role != "user":
            raise Conflict("the conversation must end with a user message")
        query = history[-1].text

        memory_context = ""
        recalled: ContextResponse | None = None
        if agent.config.memory_tiers and query.strip():
            yield Status("recalling memories")
            early = turn.early_recall
            if early is not None and early.query == query[:RECALL_QUERY_CHARS]:
                context = recalled = await early.task
            else:
                context = recalled = await self._recall(agent, turn.tenant, query)
            memory_context = context.context
            clock.mark("recall")
            clock.add({f"recall_{name}": ms for name, ms in context.timings_ms.items()})
            if context.items:
                yield Meta(
                    {
                        "memories": len(context.items),
                        "memory_tokens": context.total_tokens,
                        "recalled": recalled_summary(context),
                    }
                )

        tools, left_out = prepared.tools, prepared.left_out
        if left_out:
            log.warning("tools_left_out_of_context", agent_id=str(agent.id), tools=left_out)
            yield Meta({"tools_left_out": left_out})
        prompt = system_prompt(
            agent=agent,
            ai_name=prepared.ai_name,
            persona=prepared.persona,
            model=model,
            sandbox=sandbox,
            tools=tools,
            memory_context=memory_context,
            caller_instructions=caller_instructions,
            system_budget=budget.system,
        )
        conversation = [Message(role="system", content=prompt), *history]
        clock.mark("prompt")
        if turn.clock is not None:
            yield Meta({"timings_ms": dict(clock.phases)})
        metadata: CallMetadata = {**turn.metadata, "agent_id": str(agent.id)}
        if turn.session_id:
            metadata["session_id"] = turn.session_id
        ctx = ToolContext(
            agent=agent,
            sandbox=sandbox,
            memory=self.memory,
            shell_timeout=settings.shell_timeout_seconds,
            web_fetch=self.web_fetch,
            list_agents=functools.partial(self.agents.list, tenant=turn.tenant),
            service_health=self.service_health,
            run_subtask=None if turn.delegated else self._subtask_runner(turn, agent, sandbox.tier),
            create_goal=None if self.goals is None else functools.partial(self._create_goal, turn.tenant),
            # The memory tools write and search as the turn's owner.
            extra={"memory_owner": turn.tenant.owner},
            web_search=self.web_search,
            research=turn.research,
        )
        outcome = TurnOutcome(model=model, recalled=recalled_summary(recalled) if recalled else [])
        spoken: list[str] = []
        round_number = 0
        while True:
            round_number += 1
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                raise UpstreamUnavailable(
                    f"the turn used its {settings.agent_turn_timeout_seconds:.0f}s before llm-gateway answered"
                )
            # Past the round limit the model answers with what it has: tools withheld, and told so.
            exhausted = round_number > settings.agent_max_tool_rounds
            offered_now = [] if exhausted else tools
            if exhausted and outcome.steps:
                conversation.append(Message(role="user", content=FINAL_ANSWER_NOTE))
                yield Status("writing the answer")
            elif round_number > 1:
                yield Status(f"thinking (round {round_number})")
            request = CompleteRequest(
                model=model, messages=conversation, tools=offered_now, metadata=metadata
            )
            result, round_spoke = RoundResult(), False
            async with aclosing(self._round(request, stream=turn.stream, time_limit=remaining)) as items:
                async for item in items:
                    if isinstance(item, RoundResult):
                        result = item
                        continue
                    # A new round's text starts a new paragraph of what the user reads.
                    if spoken and not round_spoke and not spoken[-1].endswith("\n"):
                        spoken.append("\n\n")
                        yield Delta("\n\n")
                    round_spoke = True
                    spoken.append(item.text)
                    yield item
            outcome.model = result.model or outcome.model
            outcome.input_tokens += result.input_tokens
            outcome.output_tokens += result.output_tokens
            if not result.tool_calls or not offered_now:
                break
            conversation.append(
                Message(
                    role="assistant",
                    content=result.content,
                    tool_calls=[call.as_ref() for call in result.tool_calls],
                )
            )
            for call in result.tool_calls:
                yield ToolStarted(round_number, call)
                executed = await self.tools.execute(
                    call, ctx, time_limit=max(1.0, deadline - time.monotonic())
                )
                record = ToolCallRecord(
                    round=round_number,
                    call=call,
                    result=executed.text,
                    is_error=executed.is_error,
                    duration_ms=executed.duration_ms,
                )
                outcome.steps.append(record)
                yield ToolFinished(record)
                conversation.append(
                    Message(role="tool", tool_call_id=call.id, name=call.name, content=executed.text)
                )
        outcome.response = "".join(spoken).strip()

        # An agent without memory tiers neither recalls nor remembers.
        if turn.remember and agent.config.memory_tiers and outcome.response.strip():
            outcome.memory_saved = await self._remember(turn, query, outcome.response)
        if recalled is not None and recalled.retrieval_id is not None:
            await self._report_feedback(recalled, outcome)
        yield Done(outcome)

    async def _round(
        self, request: CompleteRequest, *, stream: bool, time_limit: float
    ) -> AsyncGenerator[Delta | RoundResult, None]:
        """One model call: streamed (text as it comes, tool calls assembled in the last chunk) or whole."""
        limit = min(time_limit, self.settings.llm_call_timeout_seconds)
        if not stream:
            response = await self.gateway.complete(request, time_limit=limit)
            if response.content:
                yield Delta(response.content)
            yield RoundResult(
                content=response.content,
                tool_calls=response.tool_calls,
                model=response.model,
                input_tokens=response.input_tokens,
                output_tokens=response.output_tokens,
            )
            return
        parts: list[str] = []
        last: StreamChunk | None = None
        async with aclosing(self.gateway.stream(request, time_limit=time_limit)) as chunks:
            async for chunk in chunks:
                last = chunk
                if chunk.delta:
                    parts.append(chunk.delta)
                    yield Delta(chunk.delta)
        yield RoundResult(
            content="".join(parts),
            tool_calls=last.tool_calls if last else [],
            model=last.model if last else None,
            input_tokens=(last.input_tokens or 0) if last else 0,
            output_tokens=(last.output_tokens or 0) if last else 0,
        )

    async def _remember(self, turn: TurnInput, user_text: str, answer: str) -> bool:
        """Write the exchange as an episodic memory; a failure is logged, the answer already stands."""
        content = f"User: {user_text}\n\nAssistant: {answer}"[:MEMORY_CONTENT_LIMIT]
        metadata: dict[str, object] = {"source": "chat"}
        if turn.session_id:
            metadata["session_id"] = turn.session_id
        try:
            await self.memory.store(
                MemoryCreate(
                    content=content,
                    tier=MemoryTier.EPISODIC,
                    agent_id=str(turn.agent.id),
                    metadata=metadata,
                    owner=turn.tenant.owner,
                )
            )
        except UpstreamUnavailable as exc:
            log.warning("episodic_memory_not_saved", agent_id=str(turn.agent.id), error=exc.detail)
            return False
        # Formation (facts, preferences, entities) runs in memory-service's queue; this is one LPUSH away.
        # The exchange is stored above, so formation adds no episode of its own (keep_episode=False).
        try:
            await self.memory.ingest(
                IngestRequest(
                    content=content,
                    # A turn outside a session (POST /tasks) is still traceable: to the agent it ran on.
                    source=SourceInfo(
                        kind=SourceKind.CHAT,
                        uri=_session_uri(turn.session_id) or f"nova:agent:{turn.agent.id}",
                        title=f"Chat with {turn.agent.config.name}"[:200],
                    ),
                    owner=turn.tenant.owner,
                    agent_id=str(turn.agent.id),
                    metadata=metadata,
                    keep_episode=False,
                )
            )
        except UpstreamUnavailable as exc:
            log.warning("memory_ingestion_not_queued", agent_id=str(turn.agent.id), error=exc.detail)
        except ValidationError as exc:  # text memory cannot store: the answer stands all the same
            log.warning("memory_ingestion_not_queued", agent_id=str(turn.agent.id), error=str(exc)[:300])
        return True

    async def _report_feedback(self, recalled: ContextResponse, outcome: TurnOutcome) -> None:
        """Tell memory-service which recalled memories the answer drew on and how the turn ended, so
        memories that help gain importance; a failure is logged, the answer already stands."""
        if recalled.retrieval_id is None:
            return
        if not outcome.response.strip():
            result = FeedbackOutcome.FAILURE
        elif any(step.is_error for step in outcome.steps):
            result = FeedbackOutcome.NEUTRAL
        else:
            result = FeedbackOutcome.SUCCESS
        answer_words = _distinctive_words(outcome.response)
        used = [
            item.id
            for item in recalled.items
            if str(item.id) in outcome.response
            or len(_distinctive_words(item.content) & answer_words) >= USED_MEMORY_SHARED_WORDS
        ]
        try:
            await self.memory.feedback(
                FeedbackRequest(retrieval_id=recalled.retrieval_id, used_memory_ids=used, outcome=result)
            )
        except UpstreamUnavailable as exc:
            log.warning("memory_feedback_not_sent", error=exc.detail)

    def _subtask_runner(
        self, parent: TurnInput, held: AgentInfo, tier: SandboxTier
    ) -> Callable[[str, str], Awaitable[str]]:
        """Delegation to another agent of the same caller, never wider than the parent: its tier and tools."""

        async def run_subtask(agent_ref: str, instruction: str) -> str:
            agents = await self.agents.list(tenant=parent.tenant)
            target = next(
                (a for a in agents if str(a.id) == agent_ref or a.config.name.lower() == agent_ref.lower()),
                None,
            )
            if target is None:
                return f"no agent named {agent_ref!r}; known: {', '.join(a.config.name for a in agents)}"
            if target.id == parent.agent.id:
                return "an agent cannot delegate to itself"
            outcome = await self.complete(
                TurnInput(
                    agent=target,
                    messages=[Message(role="user", content=instruction)],
                    tenant=parent.tenant,
                    metadata=parent.metadata,
                    sandbox=tier,
                    remember=False,
                    delegated=True,
                    tools_ceiling=frozenset(expand(held.config.tools)) if held.config.tools else None,
                )
            )
            return outcome.response or "(the agent gave no answer)"

        return run_subtask

    async def complete(self, turn: TurnInput) -> TurnOutcome:
        """Run a turn to the end and return its outcome (non-streaming callers)."""
        outcome = TurnOutcome()
        # Closed explicitly, so the turn's own cleanup runs even when our caller stops early.
        async with aclosing(self.run(turn)) as turn_events:
            async for event in turn_events:
                if isinstance(event, Done):
                    outcome = event.outcome
        return outcome


RECALLED_CONTENT_CHARS = 300


def recalled_summary(context: ContextResponse) -> list[dict[str, object]]:
    """Each recalled memory with why it was recalled (fused and per-arm scores, source), its text shortened."""
    return [
        {
            **item.model_dump(mode="json", exclude={"content"}),
            "content": item.content[:RECALLED_CONTENT_CHARS],
        }
        for item in context.items
    ]


def as_stream_event(event: TurnEvent) -> ChatStreamEvent | None:
    """How a turn event reaches SSE clients (`Done` is the caller's to render)."""
    if isinstance(event, Delta):
        return ChatStreamEvent(delta=event.text)
    if isinstance(event, Status):
        return ChatStreamEvent(status=event.text[:200])
    if isinstance(event, ToolStarted):
        call = event.call
        return ChatStreamEvent(
            status=f"calling {call.name}"[:200],
            meta={
                "tool_call": {
                    "round": event.round,
                    "id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
            },
        )
    if isinstance(event, ToolFinished):
        record = event.record
        return ChatStreamEvent(
            meta={
                "tool_result": {
                    "id": record.call.id,
                    "name": record.call.name,
                    "is_error": record.is_error,
                    "duration_ms": record.duration_ms,
                    "result": record.result[:STREAMED_RESULT_CHARS],
                }
            }
        )
    if isinstance(event, Meta):
        return ChatStreamEvent(meta=dict(event.data))
    return None
