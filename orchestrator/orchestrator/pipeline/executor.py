"""Runs one claimed task through its pod's agents, checkpointing each stage before the next one starts.

Every write is fenced by the claim (worker id + attempt number): once the reaper has handed the task to another
worker, or a user has cancelled it, this worker's next write matches no row and it stops. Stage outputs live in
`checkpoint` by agent name (null = to be run again), so a resumed task starts at its first unfinished stage.
A stage's checkpoint, its records and the move to what comes next (the next stage, or completion when nothing
else is due) are one write, batched with other tasks' writes by the `TaskWriter`.
"""

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from nova_common.errors import UpstreamUnavailable
from nova_contracts.orchestrator import (
    POST_PIPELINE_ROLES,
    TERMINAL_STATES,
    OnFailure,
    PipelineRole,
    PipelineTaskState,
    PodAgentConfig,
    RunCondition,
    SandboxTier,
    Severity,
    ToolCallRecord,
)
from orchestrator.agents.policy import key_policy
from orchestrator.keys.tenant import Tenant
from orchestrator.pipeline.agents.recall import ContextRecall, Recall
from orchestrator.pipeline.agents.runner import AgentAnswer, AgentOutputInvalid, PipelineStageRunner
from orchestrator.pipeline.agents.tools import PipelineToolbox, StageTools, StageToolsUnavailable
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.repository import Fence, Hop, Note, PipelineRepository, StageRecords, TaskWrite
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.pipeline.state import running_state_for
from orchestrator.pipeline.writer import TaskWriter
from orchestrator.tools.sandbox import narrower

log = structlog.get_logger("orchestrator.pipeline")
S = PipelineTaskState
R = PipelineRole
_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
POST_STAGE = "post_pipeline"
# What a stage may fail with before its on-failure policy applies.
STAGE_FAILURES = (AgentOutputInvalid, UpstreamUnavailable, TimeoutError, StageToolsUnavailable)
TIMELINE_TOOL_CHARS = 300


class StageLost(Exception):
    """A fenced write matched nothing: the task was cancelled or taken over. Stop without touching it."""


def holds(condition: RunCondition, flags: dict[str, bool], tags: list[str]) -> bool:
    kind = condition.type
    if kind == "always":
        return True
    if kind == "never":
        return False
    if kind == "on_flag":
        return bool(flags.get(condition.value or ""))
    if kind == "not_flag":
        return not flags.get(condition.value or "")
    if kind == "has_tag":
        return condition.value in tags
    results = (holds(c, flags, tags) for c in condition.conditions)
    return all(results) if kind == "and" else any(results)


@dataclass
class PodPlan:
    main: list[PodAgentConfig]
    decision: PodAgentConfig | None
    post: list[PodAgentConfig]

    @classmethod
    def of(cls, pod: dict[str, Any]) -> "PodPlan":
        agents = sorted(
            (PodAgentConfig.model_validate(a) for a in pod.get("agents", [])),
            key=lambda a: (a.position, a.name),
        )
        agents = [a for a in agents if a.enabled]
        return cls(
            main=[a for a in agents if a.role not in POST_PIPELINE_ROLES and a.role != R.DECISION],
            decision=next((a for a in agents if a.role == R.DECISION), None),
            post=[a for a in agents if a.role in POST_PIPELINE_ROLES],
        )


def next_stage(task: dict[str, Any], plan: PodPlan | None = None) -> tuple[PodAgentConfig | None, S]:
    """The first unfinished main stage and the state it runs in; (None, completing) when all are done."""
    checkpoint = task["checkpoint"]
    flags = checkpoint.get("_flags", {})
    for agent in (plan or PodPlan.of(task["pod"])).main:
        if checkpoint.get(agent.name) is None and holds(agent.run_condition, flags, task["tags"]):
            return agent, running_state_for(agent.role)
    return None, S.COMPLETING


def _brief(
    task: dict[str, Any],
    agent: PodAgentConfig,
    *,
    tools: StageTools | None = None,
    recall: Recall | None = None,
) -> str:
    """What the agent is told: the goal, recalled context, earlier stage outputs, answers, review feedback."""
    checkpoint = task["checkpoint"]
    parts = [f"# Goal\n{task['goal']}"]
    clarification = checkpoint.get("_clarification")
    if clarification:
        qa = "\n".join(
            f"Q: {q}\nA: {a}"
            for q, a in zip(clarification["questions"], clarification["answers"], strict=False)
        )
        parts.append(f"# Clarifications from the user\n{qa}")
    if recall is not None:
        parts.append(recall.as_brief())
    earlier = {
        k: v for k, v in checkpoint.items() if not k.startswith("_") and v is not None and k != agent.name
    }
    if earlier:
        parts.append("# Earlier stages\n" + json.dumps(earlier, indent=1)[:200_000])
    if agent.role == R.TASK and checkpoint.get("_feedback"):
        parts.append(f"# Review feedback to address\n{checkpoint['_feedback']}")
    if tools is not None:
        sandbox = tools.sandbox
        where = (
            "no filesystem or shell"
            if sandbox.root is None
            else f"files and commands in the {sandbox.tier.value} sandbox, paths relative to its root"
        )
        lines = [f"Call tools before answering if they help ({where}); then answer with the JSON object."]
        if tools.offered:
            lines.append("Available: " + ", ".join(sorted(t.name for t in tools.offered)))
        else:
            lines.append(f"None of the allowed tools can run in the {sandbox.tier.value} sandbox.")
        parts.append("# Tools\n" + "\n".join(lines))
    return "\n\n".join(parts)


def _timeline_line(record: ToolCallRecord) -> str:
    arguments = json.dumps(record.call.arguments, ensure_ascii=False)[:TIMELINE_TOOL_CHARS]
    result = record.result[:TIMELINE_TOOL_CHARS]
    return f"tool {record.call.name} {arguments} → {'error' if record.is_error else 'ok'}: {result}"


class PipelineExecutor:
    def __init__(
        self,
        repository: PipelineRepository,
        runner: PipelineStageRunner,
        publisher: ProgressPublisher,
        settings: PipelineSettings,
        *,
        writer: TaskWriter,
        recall: ContextRecall,
        toolbox: PipelineToolbox | None = None,
    ) -> None:
        self.writer = writer
        self.repository = repository
        self.runner = runner
        self.publisher = publisher
        self.settings = settings
        self.recall = recall
        self.toolbox = toolbox

    async def run(self, task: dict[str, Any], fence: Fence) -> None:
        try:
            await self._run(task, fence)
        except StageLost:
            log.info("pipeline_task_lost", task_id=str(task["id"]), worker=fence.worker_id)

    async def _write(
        self, task: dict[str, Any], fence: Fence, hops: list[Hop], **changes: Any
    ) -> dict[str, Any]:
        """One fenced `TaskWrite`, batched with other tasks' writes; `StageLost` when the task was cancelled or
        taken over meanwhile. Its transitions are published once committed."""
        written = await self.writer.write(
            TaskWrite(task["id"], S(task["status"]), hops=hops, fence=fence, **changes)
        )
        if written is None:
            raise StageLost
        return {**task, **written}

    async def _move(
        self, task: dict[str, Any], fence: Fence, target: S, *, stage: str | None = None, detail: str | None = None,
        values: dict[str, Any] | None = None, notes: list[Note] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        if S(task["status"]) == target and not notes:
            return task
        hops = [] if S(task["status"]) == target else [Hop(target, stage, detail)]
        return await self._write(task, fence, hops, values=values or {}, notes=notes or [])

    async def _fail(
        self, task: dict[str, Any], fence: Fence, reason: str, notes: list[Note] | None = None
    ) -> None:
        await self._move(task, fence, S.FAILED, detail=reason, values={"error": reason}, notes=notes)

    async def _over_budget(self, task: dict[str, Any]) -> str | None:
        pod = task["pod"]
        limit_seconds = pod.get("max_execution_seconds")
        started = task.get("first_started_at")
        if limit_seconds and started is not None:
            elapsed = (datetime.now(UTC) - started).total_seconds()
            if elapsed > limit_seconds:
                return f"run time exceeded: {elapsed:.0f}s of the pod's {limit_seconds}s"
        limit_cost = pod.get("max_cost_usd")
        if limit_cost is not None:
            spent = max(float(task.get("cost_usd") or 0.0), await self.repository.spend(task["id"]))
            if spent > limit_cost:
                return f"budget exceeded: ${spent:.6f} spent of the pod's ${limit_cost:.6f}"
        return None

    def _time_left(self, task: dict[str, Any]) -> float | None:
        limit = task["pod"].get("max_execution_seconds")
        started = task.get("first_started_at")
        if not limit or started is None:
            return None
        return max(0.0, limit - (datetime.now(UTC) - started).total_seconds())

    async def _stage_tools(self, task: dict[str, Any], agent: PodAgentConfig) -> StageTools | None:
        """The tools of an agent whose `allowed_tools` names some, under its pod's sandbox tier."""
        if not agent.allowed_tools:
            return None
        if self.toolbox is None:
            raise StageToolsUnavailable("this orchestrator runs the pipeline without the tool service")
        pod = task["pod"]
        owner = Tenant.from_columns(task["owner_kind"], task["api_key_id"])
        tier = SandboxTier(pod.get("sandbox_tier") or SandboxTier.WORKSPACE)
        if not owner.sees_everything:
            # A key's goal drives the pod's agents: they act under the key's default agent policy, like its
            # own agents (no shell or git unless the admin's `agents.key_default_tools` grants them).
            policy = await key_policy(self.toolbox.tools.config)
            tier = narrower(tier, policy.tier)
            agent = agent.model_copy(update={"allowed_tools": policy.narrow_tools(list(agent.allowed_tools))})
        return await self.toolbox.for_stage(agent, pod_id=pod.get("id"), tier=tier, owner=owner)

    async def _ask(self, task: dict[str, Any], agent: PodAgentConfig) -> AgentAnswer:
        """The agent's validated answer, within what is left of the pod's run time."""
        if agent.role == R.PASSTHROUGH:
            return AgentAnswer(output={"output": task["goal"]})
        left = self._time_left(task)
        if left is None:
            return await self._ask_model(task, agent)
        async with asyncio.timeout(left):
            return await self._ask_model(task, agent)

    async def _instructions(self, agent: PodAgentConfig) -> str:
        """The agent's skills and the admin's rules, for its system prompt."""
        skills = self.toolbox.tools.rules if self.toolbox is not None else None
        if skills is None:
            return ""
        return "\n\n".join(filter(None, [await skills.skill_text(agent.skills), await skills.rules_text()]))

    async def _ask_model(self, task: dict[str, Any], agent: PodAgentConfig) -> AgentAnswer:
        recall = await self.recall.gather(task) if agent.role == R.CONTEXT else None
        if recall is not None and recall.memory_unavailable:
            await self.repository.note(
                task["id"], "note", stage=agent.name,
                detail=f"memory-service unavailable, continuing without memories: {recall.memory_unavailable}",
            )  # fmt: skip
        tools = await self._stage_tools(task, agent)

        async def record_tool_call(record: ToolCallRecord) -> None:
            await self.repository.note(
                task["id"], "tool_call", stage=agent.name, detail=_timeline_line(record)
            )

        answer = await self.runner.run(
            agent,
            task_id=task["id"],
            default_model=task["pod"].get("default_model"),
            brief=_brief(task, agent, tools=tools, recall=recall),
            tools=tools,
            on_tool_call=record_tool_call,
            instructions=await self._instructions(agent),
        )
        if answer.tool_calls:
            answer.output["tool_calls"] = [r.model_dump(mode="json") for r in answer.tool_calls]
        if recall is not None:
            answer.output["recall"] = recall.as_output()
        return answer

    async def _run(self, task: dict[str, Any], fence: Fence) -> None:
        plan = PodPlan.of(task["pod"])
        # Checked here for a task resumed after a pause; after each stage, by the stage's own write.
        reason = await self._over_budget(task)
        if reason is not None:
            await self._fail(task, fence, reason)
            return
        while True:
            agent, state = next_stage(task, plan)
            if agent is None:
                break
            task = await self._move(task, fence, state, stage=agent.name)
            result = await self._stage(task, fence, agent, plan)
            if result is None:
                return
            task = result
        checkpoint = task["checkpoint"]
        flags = checkpoint.get("_flags", {})
        if not checkpoint.get("_review_approved"):
            pause = await self._needs_human(task, fence, plan, flags)
            if pause is None:
                return
            if pause:
                await self._move(task, fence, S.PENDING_HUMAN_REVIEW, detail=pause)
                return
        await self._complete(task, fence, plan)

    async def _stage(
        self, task: dict[str, Any], fence: Fence, agent: PodAgentConfig, plan: PodPlan
    ) -> dict[str, Any] | None:
        """Run one main stage and save it together with the move to whatever comes next (the next stage's
        state, completion, or failure over budget) in one write. Return the task after it, or None when the
        task stopped here."""
        checkpoint = task["checkpoint"]
        iteration = int(checkpoint.get("_iteration", 0))
        try:
            answer = await self._ask(task, agent)
        except STAGE_FAILURES as exc:
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError) and self._time_left(task) == 0:
                await self._fail(task, fence, f"run time exceeded during stage {agent.name}")
                return None
            return await self._on_failure(task, fence, agent, detail)
        notes = [Note("stage_retry", agent.name, f"invalid output, retried: {r}") for r in answer.rejected]
        output = answer.output
        flags = dict(checkpoint.get("_flags", {}))
        patch: dict[str, Any] = {agent.name: output}
        records = StageRecords()
        refactor = False
        if agent.role == R.CONTEXT and output.get("needs_clarification") and output.get("questions"):
            if not checkpoint.get("_clarification"):
                questions = [str(q) for q in output["questions"]][:10]
                await self._move(
                    task, fence, S.CLARIFICATION_NEEDED, stage=agent.name, detail="the context agent has questions",
                    values={"clarification_questions": questions}, notes=notes,
                )  # fmt: skip
                return None
        if agent.role == R.TASK:
            records.artifacts.append(
                {"name": f"{agent.name}-output", "artifact_type": agent.artifact_type or "answer",
                 "content": str(output.get("output", ""))}
            )  # fmt: skip
        if agent.role == R.GUARDRAIL:
            flags["guardrail_blocked"] = bool(output.get("blocked"))
            records.findings = list(output.get("findings", []))
        if agent.role == R.CODE_REVIEW:
            verdict = output["verdict"]
            records.review = {**output, "verdict": verdict}
            limit = min(agent.max_retries, self.settings.max_refactor_iterations)
            if verdict == "needs_refactor" and iteration < limit:
                # Loop back: the task, guardrail and review stages run again with the review's issues.
                refactor = True
                for other in plan.main:
                    if other.role in (R.TASK, R.GUARDRAIL, R.CODE_REVIEW, R.PASSTHROUGH):
                        patch[other.name] = None
                patch["_iteration"] = iteration + 1
                patch["_feedback"] = (
                    json.dumps(output.get("issues", []))[:50_000] + "\n" + output.get("summary", "")
                )
            else:
                flags["code_review_passed"] = verdict == "pass"
                flags["code_review_rejected"] = verdict != "pass"
        patch["_flags"] = flags
        notes.append(Note("stage_completed", agent.name, f"iteration {iteration}" if iteration else None))
        after = {
            **task,
            "checkpoint": {**checkpoint, **patch},
            "cost_usd": float(task.get("cost_usd") or 0.0) + answer.cost_usd,
        }
        hops, values, current_stage = await self._after_stage(after, plan, refactor=refactor)
        saved = await self._write(
            task, fence, hops, checkpoint_patch=patch, cost_usd=answer.cost_usd, notes=notes, records=records,
            records_stage=agent.name, iteration=iteration, values={"current_stage": current_stage, **values},
        )  # fmt: skip
        return saved if S(saved["status"]) not in TERMINAL_STATES else None

    async def _after_stage(
        self, after: dict[str, Any], plan: PodPlan, *, refactor: bool
    ) -> tuple[list[Hop], dict[str, Any], str | None]:
        """Where a task goes once a stage is saved (`after` is the task with it): hops, values, current stage.

        Only the moves that need no further work are made here; a pause for a human, the decision agent and
        the post-pipeline agents go through `_run`'s own steps."""
        state = S(after["status"])
        reason = await self._over_budget(after)
        if reason is not None:
            return [Hop(S.FAILED, None, reason)], {"error": reason}, None
        agent, next_state = next_stage(after, plan)
        if agent is not None:
            hops = (
                [Hop(next_state, agent.name, "refactor" if refactor else None)] if next_state != state else []
            )
            return hops, {}, agent.name
        if self._completes_without_more_work(after, plan):
            return (
                [Hop(S.COMPLETING, POST_STAGE), Hop(S.COMPLETE)],
                {"output": final_output(after, plan)},
                None,
            )
        return [], {}, None

    @staticmethod
    def _completes_without_more_work(task: dict[str, Any], plan: PodPlan) -> bool:
        """No human review, decision or post-pipeline agent is due: the task can complete right away."""
        checkpoint = task["checkpoint"]
        flags = checkpoint.get("_flags", {})
        if not checkpoint.get("_review_approved") and (
            flags.get("code_review_rejected")
            or flags.get("guardrail_blocked")
            or task["pod"].get("require_human_review")
        ):
            return False
        return not any(
            checkpoint.get(a.name) is None and holds(a.run_condition, flags, task["tags"]) for a in plan.post
        )

    async def _on_failure(
        self, task: dict[str, Any], fence: Fence, agent: PodAgentConfig, detail: str
    ) -> dict[str, Any] | None:
        policy = agent.on_failure
        notes = [
            Note("stage_failed", agent.name, detail),
            Note("policy", agent.name, f"on_failure={policy.value}"),
        ]
        if policy == OnFailure.ABORT:
            await self._fail(task, fence, f"stage {agent.name} failed ({detail}); on_failure=abort", notes)
            return None
        if policy == OnFailure.ESCALATE:
            await self._move(
                task, fence, S.PENDING_HUMAN_REVIEW, stage=agent.name,
                detail=f"stage {agent.name} failed ({detail}); on_failure=escalate", notes=notes,
            )  # fmt: skip
            return None
        notes.append(Note("stage_completed", agent.name))
        return await self._write(
            task, fence, [], checkpoint_patch={agent.name: {"_skipped": detail}}, notes=notes
        )

    async def _needs_human(
        self, task: dict[str, Any], fence: Fence, plan: PodPlan, flags: dict[str, bool]
    ) -> str | None:
        """Why the task must wait for a human ("" = it need not); None when the task stopped meanwhile."""
        checkpoint = task["checkpoint"]
        if flags.get("code_review_rejected"):
            decision = plan.decision
            if decision is None or not holds(decision.run_condition, flags, task["tags"]):
                return "code review rejected the output"
            if checkpoint.get(decision.name) is None:
                task = await self._move(task, fence, S.REVIEW_RUNNING, stage=decision.name)
                saved = await self._decide(task, fence, decision)
                if saved is None:
                    return None
                checkpoint = saved["checkpoint"]
            outcome = checkpoint.get(decision.name) or {}
            if outcome.get("action") != "override":
                return outcome.get("escalation_message") or "the decision agent escalated a rejected output"
        if flags.get("guardrail_blocked"):
            threshold = _SEVERITY_RANK[Severity(task["pod"].get("escalation_threshold", "high"))]
            worst = max(
                (_SEVERITY_RANK[Severity(f["severity"])] for f in await self.repository.findings(task["id"])),
                default=-1,
            )
            if worst >= threshold:
                return "guardrail blocked the output with findings at or above the pod's escalation threshold"
        if task["pod"].get("require_human_review"):
            return "the pod requires human review"
        return ""

    async def _decide(
        self, task: dict[str, Any], fence: Fence, agent: PodAgentConfig
    ) -> dict[str, Any] | None:
        try:
            answer = await self._ask(task, agent)
        except STAGE_FAILURES as exc:
            return await self._on_failure(task, fence, agent, str(exc) or type(exc).__name__)
        output = answer.output
        records = StageRecords(
            artifacts=[
                {"name": "adr", "artifact_type": agent.artifact_type or "adr", "content": output["adr"]}
            ]
        )
        return await self._write(
            task, fence, [], checkpoint_patch={agent.name: output}, cost_usd=answer.cost_usd, records=records,
            records_stage=agent.name, notes=[Note("stage_completed", agent.name)],
        )  # fmt: skip

    async def _complete(self, task: dict[str, Any], fence: Fence, plan: PodPlan) -> None:
        task = await self._move(task, fence, S.COMPLETING, stage=POST_STAGE)
        checkpoint = task["checkpoint"]
        flags = checkpoint.get("_flags", {})
        pending = [
            a
            for a in plan.post
            if checkpoint.get(a.name) is None and holds(a.run_condition, flags, task["tags"])
        ]
        output = final_output(task, plan)
        if not pending:
            await self._move(task, fence, S.COMPLETE, values={"output": output})
            await self.recall.remember_task(task, output)
            return
        # Best effort, in parallel: a failing post-pipeline agent is noted and never fails the task.
        answers = await asyncio.gather(*(self._ask(task, a) for a in pending), return_exceptions=True)
        patch: dict[str, Any] = {}
        records = StageRecords()
        cost = 0.0
        notes: list[Note] = []
        for agent, answer in zip(pending, answers, strict=True):
            if isinstance(answer, BaseException):
                if isinstance(answer, asyncio.CancelledError):
                    raise answer
                notes.append(
                    Note(
                        "stage_failed",
                        POST_STAGE,
                        f"{agent.name}: {answer or type(answer).__name__} (best effort)",
                    )
                )
                patch[agent.name] = {"_skipped": str(answer)}
                continue
            cost += answer.cost_usd
            patch[agent.name] = answer.output
            records.artifacts.append(
                {"name": agent.name, "artifact_type": agent.artifact_type or str(answer.output.get("artifact_type")),
                 "content": str(answer.output.get("content", ""))}
            )  # fmt: skip
        notes.append(Note("stage_completed", POST_STAGE))
        await self._write(
            task, fence, [Hop(S.COMPLETE)], checkpoint_patch=patch, cost_usd=cost, records=records,
            records_stage=POST_STAGE, notes=notes, values={"output": output},
        )  # fmt: skip
        await self.recall.remember_task(task, output)


def final_output(task: dict[str, Any], plan: PodPlan) -> str:
    checkpoint = task["checkpoint"]
    output = ""
    for agent in plan.main:
        value = checkpoint.get(agent.name) or {}
        if agent.role in (R.TASK, R.PASSTHROUGH) and "output" in value:
            output = str(value["output"])
    if checkpoint.get("_flags", {}).get("guardrail_blocked") and not checkpoint.get("_review_approved"):
        return "The output was withheld: the guardrail blocked it. See the task's findings."
    return output


def claim_target(task: dict[str, Any]) -> tuple[str, S]:
    """Where a claimed task starts: its first unfinished stage, else completion."""
    agent, state = next_stage(task)
    if agent is None:
        return POST_STAGE, S.COMPLETING
    return agent.name, state
