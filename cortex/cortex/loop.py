"""The cycle: perceive → evaluate the drives → plan → act → record → reflect.

One cycle acts at most once (one attempt submitted, one maturation step, one tidy-up, one journal
summary), so a pause or a budget change takes effect by the next cycle. The order of writes makes a
crash at any point safe: an attempt is recorded (idempotently, per goal and number) and noted as in flight
before its pipeline task is submitted, and a task is looked for by the attempt's number before another is
submitted, so no attempt is ever submitted twice.
"""

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError
from redis.exceptions import RedisError

from cortex.budget import budget_status, publish_tier
from cortex.clients import GatewayClient, MemoryClient, OrchestratorClient
from cortex.config import Settings
from cortex.drives import CRITICAL_PEERS, Perception, evaluate, winner
from cortex.state import CortexState
from nova_common.lease import RedisLease
from nova_common.maintenance import MaintenanceFlag
from nova_contracts.cortex import (
    BudgetStatus,
    BudgetTier,
    CortexStatus,
    DriveName,
    DriveUrgency,
    InFlightIteration,
    JournalEntryCreate,
    JournalEntryKind,
)
from nova_contracts.goals import (
    CORTEX_STIMULI_KEY,
    Goal,
    GoalIterationCreate,
    GoalIterationUpdate,
    GoalStatus,
    IterationOutcome,
    MaturationStage,
    ReflectionCreate,
    SpecSubmit,
    Stimulus,
    StimulusType,
)
from nova_contracts.orchestrator import PipelineTaskInfo, PipelineTaskState, PipelineTaskSubmit

log = structlog.get_logger("cortex.loop")
PEER_PROBE_TIMEOUT = 2.0

_OUTCOMES = {
    PipelineTaskState.COMPLETE: IterationOutcome.SUCCEEDED,
    PipelineTaskState.FAILED: IterationOutcome.FAILED,
    PipelineTaskState.CANCELLED: IterationOutcome.CANCELLED,
}
_FAILURES = frozenset({IterationOutcome.FAILED, IterationOutcome.TIMED_OUT, IterationOutcome.CANCELLED})
_PLANNER = (
    "You are cortex, the planning mind of Nova, a self-hosted AI platform. Write the plan for the next "
    "attempt at the goal below as short, concrete instructions for the pipeline's agents. Learn from the "
    "earlier attempts and lessons: never repeat an approach that failed."
)


def fingerprint(plan: str) -> str:
    """The approach a plan takes, as 16 hex digits: the same plan modulo case, spacing and punctuation
    gives the same fingerprint, so a repeated approach is recognised."""
    normalised = " ".join(re.sub(r"[^\w\s]", " ", plan.lower()).split())
    return hashlib.sha256(normalised.encode()).hexdigest()[:16]


def _clip(text: str | None, limit: int = 2000) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Cortex:
    def __init__(
        self,
        settings: Settings,
        *,
        orchestrator: OrchestratorClient,
        gateway: GatewayClient,
        memory: MemoryClient,
        state: CortexState,
        lease: RedisLease,
        stimuli: aioredis.Redis,
        config_redis: aioredis.Redis,
    ) -> None:
        self.settings = settings
        self.orchestrator = orchestrator
        self.gateway = gateway
        self.memory = memory
        self.state = state
        self.lease = lease
        self.stimuli = stimuli
        self.config_redis = config_redis
        self.maintenance = MaintenanceFlag(config_redis)
        self.timeout = settings.cortex_active_interval
        self.tier: BudgetTier | None = None
        self.reconciled = False  # set once this replica has looked for attempts a crash left unnoted
        self.reported_degraded: frozenset[str] = frozenset()  # the peers the journal last said were down

    # The loop ------------------------------------------------------------------------------------------

    async def run_once(self) -> None:
        """Wait for stimuli (or the timeout), then run one cycle; used with `BackgroundLoops.forever`."""
        if not self.settings.cortex_enabled or not self.lease.held:
            # A replica without the lease leaves the stimuli to the one that holds it.
            await asyncio.sleep(self.settings.cortex_lease_seconds / 3)
            return
        # recovery is restoring (its maintenance flag): no cycle; the stimuli wait in their list.
        await self.maintenance.wait_until_clear()
        if not self.reconciled:
            await self.reconcile()
            self.reconciled = True
        stimuli = await self.next_stimuli(self.timeout)
        try:
            acted = await self.cycle(stimuli)
        except Exception:
            self.timeout = min(self.timeout * 3, self.settings.cortex_idle_interval)
            raise
        self.timeout = self.next_timeout(
            busy=acted or bool(stimuli), in_flight=bool(await self.state.in_flight())
        )

    def next_timeout(self, *, busy: bool, in_flight: bool) -> float:
        """Short while there is work, doubling towards the idle interval while there is none; attempts in
        flight are looked at every task-poll interval at least (their end also wakes the loop)."""
        s = self.settings
        timeout = s.cortex_active_interval if busy else min(self.timeout * 2, s.cortex_idle_interval)
        return min(timeout, s.cortex_task_poll_interval) if in_flight else timeout

    async def next_stimuli(self, wait_seconds: float) -> list[Stimulus]:
        popped = await self.stimuli.brpop([CORTEX_STIMULI_KEY], timeout=wait_seconds)
        if popped is None:
            return []
        raw = [popped[1]]
        more = await self.stimuli.rpop(CORTEX_STIMULI_KEY, self.settings.cortex_stimulus_batch - 1)
        raw.extend(more if isinstance(more, list) else [])
        stimuli = []
        for item in raw:
            try:
                stimuli.append(Stimulus.model_validate_json(item))
            except ValidationError:
                log.warning("stimulus_ignored", reason="not a Stimulus", sample=str(item)[:120])
        return stimuli

    async def wake(self) -> None:
        """Cut the current wait short (a route changed something the loop should see now)."""
        wake = Stimulus(type=StimulusType.GOAL_UPDATED, source="cortex", at=datetime.now(UTC))
        await self.stimuli.lpush(CORTEX_STIMULI_KEY, wake.model_dump_json())

    async def status(self) -> CortexStatus:
        snap = await self.state.snapshot()
        budget = await self.state.budget()
        return CortexStatus(
            status="paused" if snap.get("status") == "paused" else "running",
            acting=self.lease.held and self.settings.cortex_enabled,
            cycle_count=int(snap.get("cycle_count", 0)),
            last_cycle_at=snap.get("last_cycle_at") or None,
            current_drive=snap.get("current_drive") or None,
            last_action=snap.get("last_action"),
            budget_tier=budget.tier if budget else None,
            in_flight=await self.state.in_flight(),
        )

    # One cycle -----------------------------------------------------------------------------------------

    async def cycle(self, stimuli: list[Stimulus]) -> bool:
        """One pass; True when it did something (so the next wait is short)."""
        for stimulus in stimuli:
            if stimulus.type is StimulusType.GOAL_TRIGGERED and stimulus.goal_id is not None:
                await self.state.mark_due(stimulus.goal_id)
        budget = await self.check_budget()
        finished = await self.collect_finished()
        if await self.state.paused():
            await self.state.record_cycle(drive=None, action="paused", drives=[], budget=budget)
            return finished > 0
        await self.take_due_schedules()
        new_messages = await self.read_messages()
        goals = await self.orchestrator.active_goals(self.settings.cortex_goal_page_size)
        counters = await self.state.snapshot()
        perception = Perception(
            goals=goals,
            due=await self.state.due(),
            in_flight=await self.state.in_flight(),
            tier=budget.tier,
            max_in_flight=self.settings.cortex_max_in_flight,
            failed_last=await self.state.failed_last(),
            new_messages=new_messages,
            unacknowledged=int(counters.get("unacknowledged", 0)),
            unreflected=int(counters.get("unreflected", 0)),
            degraded=await self.peer_health(stimuli),
            reported_degraded=self.reported_degraded,
        )
        drives = evaluate(perception)
        chosen = winner(drives)
        action = await self.act(chosen, perception) if chosen else "idle"
        await self.state.record_cycle(
            drive=chosen.drive.value if chosen else None, action=action, drives=drives, budget=budget
        )
        log.info("cycle", drive=chosen.drive.value if chosen else None, action=action, tier=budget.tier.value)
        return chosen is not None or finished > 0

    # Perceive ------------------------------------------------------------------------------------------

    async def check_budget(self) -> BudgetStatus:
        status = budget_status(await self.orchestrator.spend_today(), self.settings.cortex_daily_budget_usd)
        await publish_tier(self.config_redis, status.tier)
        known = self.tier or (stored.tier if (stored := await self.state.budget()) else None)
        self.tier = status.tier
        # A first look (no earlier tier known) reports only a budget that already binds.
        if known is not status.tier and (known is not None or status.tier is not BudgetTier.BEST):
            previous = known.value if known else "unknown"

            await self.narrate(
                f"Today's spend is ${status.daily_spend_usd:.4f} of ${status.daily_budget_usd:.2f} "
                f"({status.percent_used:.0f} %): the budget tier moved from {previous} to {status.tier.value}."
                + (" Until tomorrow (UTC) I only do maintenance." if status.tier is BudgetTier.NONE else ""),
                JournalEntryKind.BUDGET,
            )
        return status

    async def take_due_schedules(self) -> None:
        """Take each due schedule once (the orchestrator refuses a second take) and remember the goal as due
        until it is served, so a restart between the two does not lose the run."""
        for goal in await self.orchestrator.due_goals():
            if await self.orchestrator.fire_schedule(goal.id) is not None:
                await self.state.mark_due(goal.id)

    async def read_messages(self) -> int:
        """The person's journal messages since the last cycle: kept for planning and to be acknowledged."""
        # A cortex with no cursor yet (first start, state lost) reads the last hour, not the whole history.
        cursor = await self.state.journal_cursor() or datetime.now(UTC) - timedelta(hours=1)
        page = await self.orchestrator.journal(role="user", since=cursor, limit=50)
        if not page.items:
            return 0
        newest_first = page.items
        await self.state.remember_messages([m.content for m in reversed(newest_first)])
        await self.state.set_journal_cursor(newest_first[0].created_at)
        await self.state.add_counter("unacknowledged", len(newest_first))
        return len(newest_first)

    async def collect_finished(self) -> int:
        """Look at each attempt in flight: record the finished ones, time out the stuck ones, and re-attach
        (or, when its task was never submitted, submit) one a crash left without a task id."""
        finished = 0
        for attempt in await self.state.in_flight():
            if attempt.iteration_id is None or attempt.task_id is None:
                attempt = await self.resume(attempt)
            assert attempt.task_id is not None and attempt.iteration_id is not None
            task = await self.orchestrator.task(attempt.task_id)
            if task is None:
                await self.finish(attempt, None, IterationOutcome.FAILED)
            elif task.status in _OUTCOMES:
                await self.finish(attempt, task, _OUTCOMES[task.status])
            elif (
                datetime.now(UTC) - attempt.started_at
            ).total_seconds() > self.settings.cortex_task_timeout_seconds:
                await self.orchestrator.cancel_task(attempt.task_id)
                await self.finish(attempt, task, IterationOutcome.TIMED_OUT)
            else:
                continue
            finished += 1
        return finished

    # Act -----------------------------------------------------------------------------------------------

    async def act(self, drive: DriveUrgency, p: Perception) -> str:
        goal = next((g for g in p.goals if g.id == drive.goal_id), None)
        if drive.drive is DriveName.MAINTAIN:
            if not p.over_limits() and frozenset(p.degraded) != p.reported_degraded:
                return await self.report_degraded(p.degraded)
            return await self.maintain(p.over_limits())
        if drive.drive in (DriveName.SERVE, DriveName.IMPROVE) and goal is not None:
            return await self.serve(goal, p, retry=drive.drive is DriveName.IMPROVE)
        if drive.drive is DriveName.LEARN:
            return await self.learn()
        if drive.drive is DriveName.REFLECT:
            return await self.reflect_summary()
        return "idle"

    async def trigger(self, goal_id: UUID) -> None:
        """Run the goal on the next cycle, whatever the drives say (it counts as due)."""
        await self.state.mark_due(goal_id)
        await self.wake()

    async def serve(self, goal: Goal, p: Perception, *, retry: bool) -> str:
        await self.state.served(goal.id)
        stage = goal.maturation_status
        if stage is MaturationStage.TRIAGE:
            return await self.triage(goal)
        if stage is MaturationStage.SCOPING:
            return await self.scope(goal)
        if stage is MaturationStage.SPECCING:
            return await self.write_spec(goal)
        if stage is MaturationStage.VERIFYING:
            return await self.verify(goal)
        return await self.attempt(goal, retry=retry)

    async def attempt(self, goal: Goal, *, retry: bool) -> str:
        """Plan the next attempt and note it in flight, then record it, then submit it: whatever point a crash
        interrupts, the note leads the next cycle to finish this attempt rather than start another."""
        latest = await self.orchestrator.iterations(goal.id, limit=1)
        if latest and latest[0].outcome is IterationOutcome.PENDING:
            # Recorded, but its note was lost (Redis emptied): finish that attempt, not a new one.
            number, plan = latest[0].iteration, latest[0].plan
        else:
            number = (latest[0].iteration if latest else 0) + 1
            plan = await self.plan(goal, number)
        attempt = InFlightIteration(
            goal_id=goal.id,
            iteration=number,
            fingerprint=fingerprint(plan),
            plan=_clip(plan, 10_000),
            started_at=datetime.now(UTC),
        )
        await self.state.put_in_flight(attempt)
        attempt = await self.resume(attempt)
        why = "retrying after a failed attempt" if retry else "it was due"
        await self.narrate(
            f"Goal “{goal.title}”: started attempt {attempt.iteration} ({why}). Plan: {_clip(attempt.plan, 600)}",
            goal_id=goal.id,
        )
        return f"attempt {attempt.iteration} of goal {goal.id}"

    async def resume(self, attempt: InFlightIteration) -> InFlightIteration:
        """Carry a noted attempt as far as it has not got: recorded (idempotent per goal and number), then
        submitted (once: an earlier submission is found by the attempt's number first)."""
        if attempt.iteration_id is None:
            recorded = await self.orchestrator.record_iteration(
                attempt.goal_id, GoalIterationCreate(iteration=attempt.iteration, plan=attempt.plan)
            )
            # A retry keeps the plan recorded first: the fingerprint must describe what actually ran.
            attempt = attempt.model_copy(
                update={
                    "iteration_id": recorded.id,
                    "task_id": recorded.pipeline_task_id,
                    "plan": recorded.plan,
                    "fingerprint": fingerprint(recorded.plan),
                }
            )
            await self.state.put_in_flight(attempt)
        if attempt.task_id is None:
            attempt = await self.submit_attempt(attempt)
        return attempt

    async def reconcile(self) -> None:
        """On taking the lease: goals whose latest attempt is still pending but not noted in flight (their
        note was lost) are noted again, so their tasks are followed instead of being started anew."""
        busy = {a.goal_id for a in await self.state.in_flight()}
        for goal in await self.orchestrator.active_goals(self.settings.cortex_goal_page_size):
            if goal.id in busy or goal.iteration_count == 0:
                continue
            latest = await self.orchestrator.iterations(goal.id, limit=1)
            if latest and latest[0].outcome is IterationOutcome.PENDING:
                item = latest[0]
                await self.state.put_in_flight(
                    InFlightIteration(
                        goal_id=goal.id,
                        iteration=item.iteration,
                        iteration_id=item.id,
                        task_id=item.pipeline_task_id,
                        fingerprint=fingerprint(item.plan),
                        plan=item.plan,
                        started_at=item.started_at,
                    )
                )

    async def submit_attempt(self, attempt: InFlightIteration) -> InFlightIteration:
        """The attempt's pipeline task: the one already submitted for it if any, else a new one."""
        existing = next(
            (
                t
                for t in await self.orchestrator.goal_tasks(attempt.goal_id)
                if t.metadata.get("iteration") == attempt.iteration
            ),
            None,
        )
        if existing is not None:
            task_id = existing.id
        else:
            goal = await self.orchestrator.goal(attempt.goal_id)
            title = goal.title if goal else "goal"
            task = await self.orchestrator.submit_task(
                PipelineTaskSubmit(
                    goal=f"{title}\n\n{attempt.plan}",
                    goal_id=attempt.goal_id,
                    metadata={
                        "source": "cortex",
                        "goal_id": str(attempt.goal_id),
                        "iteration": attempt.iteration,
                        "iteration_id": str(attempt.iteration_id),
                    },
                )
            )
            task_id = task.id
        attempt = attempt.model_copy(update={"task_id": task_id})
        await self.state.put_in_flight(attempt)
        assert attempt.iteration_id is not None
        await self.orchestrator.finish_iteration(
            attempt.goal_id, attempt.iteration_id, GoalIterationUpdate(pipeline_task_id=task_id)
        )
        return attempt

    async def plan(self, goal: Goal, number: int) -> str:
        iterations = await self.orchestrator.iterations(goal.id, limit=5)
        lessons = await self.orchestrator.reflections(goal.id, limit=5)
        comments = await self.orchestrator.comments(goal.id, limit=10)
        messages = await self.state.inbox()
        parts = [
            f"Goal: {goal.title}",
            f"Description: {goal.description or '(none)'}",
            f"This is attempt {number}.",
        ]
        if goal.spec:
            parts.append(f"Approved spec:\n{_clip(goal.spec, 4000)}")
        if iterations:
            parts.append(
                "Earlier attempts:\n"
                + "\n".join(
                    f"- #{i.iteration} {i.outcome.value}: {_clip(i.summary or i.plan, 300)}"
                    for i in iterations
                )
            )
        if lessons:
            parts.append("Lessons:\n" + "\n".join(f"- {_clip(r.lesson, 300)}" for r in lessons if r.lesson))
        if comments:
            parts.append("Comments:\n" + "\n".join(f"- {c.author}: {_clip(c.body, 300)}" for c in comments))
        if messages:
            parts.append("The person wrote recently:\n" + "\n".join(f"- {_clip(m, 300)}" for m in messages))
        answer = await self.gateway.complete(_PLANNER, "\n\n".join(parts), task_type="planning")
        return _clip(answer.content, 10_000) or f"Work towards: {goal.title}"

    # Maturation ----------------------------------------------------------------------------------------

    async def triage(self, goal: Goal) -> str:
        answer = await self.gateway.complete(
            "Decide whether a goal can be done in one straightforward attempt (answer SIMPLE) or needs scoping "
            "and a written spec a person approves first (answer COMPLEX). Answer with the one word.",
            f"Goal: {goal.title}\n\n{goal.description}",
            task_type="planning",
            max_tokens=10,
        )
        complex_ = "complex" in answer.content.lower()
        await self.orchestrator.advance(
            goal.id, SpecSubmit(stage=MaturationStage.SCOPING if complex_ else None)
        )
        verdict = "complex: I will scope it and write a spec for you to review" if complex_ else "simple"
        await self.narrate(f"Goal “{goal.title}” looks {verdict}.", JournalEntryKind.MATURATION, goal.id)
        return f"triaged goal {goal.id}"

    async def scope(self, goal: Goal) -> str:
        answer = await self.gateway.complete(
            "Scope this goal: what is in, what is out, the risks, and the questions a spec must answer.",
            f"Goal: {goal.title}\n\n{goal.description}",
            task_type="planning",
        )
        await self.orchestrator.advance(
            goal.id, SpecSubmit(stage=MaturationStage.SPECCING, spec=_clip(answer.content, 20_000) or None)
        )
        await self.narrate(
            f"Scoped goal “{goal.title}”; writing its spec next.", JournalEntryKind.MATURATION, goal.id
        )
        return f"scoped goal {goal.id}"

    async def write_spec(self, goal: Goal) -> str:
        prompt = f"Goal: {goal.title}\n\n{goal.description}\n\nScope notes:\n{goal.spec or '(none)'}"
        if goal.spec_feedback:
            prompt += f"\n\nThe person rejected the last spec: {goal.spec_feedback}"
        answer = await self.gateway.complete(
            "Write the spec for this goal: the outcome, the steps, and how to verify it is done.",
            prompt,
            task_type="planning",
            max_tokens=1500,
        )
        spec = _clip(answer.content, 20_000) or f"Deliver: {goal.title}"
        await self.orchestrator.advance(goal.id, SpecSubmit(stage=MaturationStage.REVIEW, spec=spec))
        await self.narrate(
            f"The spec for goal “{goal.title}” awaits your review: approve it or reject it with feedback on the "
            "goal's page.",
            JournalEntryKind.ESCALATION,
            goal.id,
        )
        return f"wrote the spec of goal {goal.id}"

    async def verify(self, goal: Goal) -> str:
        latest = await self.orchestrator.iterations(goal.id, limit=1)
        done = bool(latest) and latest[0].outcome is IterationOutcome.SUCCEEDED
        await self.orchestrator.advance(
            goal.id, SpecSubmit(stage=MaturationStage.DONE if done else MaturationStage.REVIEW)
        )
        text = "is built and verified: done" if done else "did not verify; its spec is back for your review"
        await self.narrate(f"Goal “{goal.title}” {text}.", JournalEntryKind.MATURATION, goal.id)
        return f"verified goal {goal.id}"

    # Record and reflect --------------------------------------------------------------------------------

    async def finish(
        self, attempt: InFlightIteration, task: PipelineTaskInfo | None, outcome: IterationOutcome
    ) -> None:
        assert attempt.iteration_id is not None  # collect_finished records an attempt before following it
        goal = await self.orchestrator.goal(attempt.goal_id)
        if goal is None:  # deleted meanwhile: nothing left to record against
            await self.state.drop_in_flight(attempt.goal_id)
            return
        cost = task.cost_usd if task else 0.0
        started = (task.started_at or task.created_at) if task else attempt.started_at
        ended = (task.completed_at if task else None) or datetime.now(UTC)
        summary = _clip((task.output or task.error) if task else "the pipeline task disappeared", 2000)
        progress = None
        if outcome is IterationOutcome.SUCCEEDED and goal.max_iterations:
            progress = min(1.0, attempt.iteration / goal.max_iterations)
        await self.orchestrator.finish_iteration(
            goal.id,
            attempt.iteration_id,
            GoalIterationUpdate.model_validate(
                {
                    "outcome": outcome,
                    "cost_usd": cost,
                    "duration_ms": max(0, int((ended - started).total_seconds() * 1000)),
                    **({"summary": summary} if summary else {}),
                    **({"progress": progress} if progress is not None else {}),
                }
            ),
        )
        lesson = (
            "this approach worked"
            if outcome is IterationOutcome.SUCCEEDED
            else f"this approach ended {outcome.value}: {_clip(task.error if task else summary, 500) or 'no reason given'}"
        )
        # A cycle that crashed after this write repeats the recording: the reflection is not written twice.
        recent = await self.orchestrator.reflections(goal.id, limit=5)
        if all(r.iteration_id != attempt.iteration_id for r in recent):
            await self.orchestrator.add_reflection(
                goal.id,
                ReflectionCreate(
                    approach_fingerprint=attempt.fingerprint,
                    outcome=outcome,
                    lesson=lesson,
                    iteration_id=attempt.iteration_id,
                ),
            )
        # Dropped only once everything above is recorded: a crash before this line repeats the (idempotent)
        # recording, never the attempt.
        await self.state.drop_in_flight(goal.id)
        await self.state.set_failed_last(goal.id, outcome in _FAILURES)
        await self.state.add_counter("unreflected", 1)
        await self.state.add_counter("unreflected_cost_micros", int(cost * 1_000_000))
        if outcome is not IterationOutcome.SUCCEEDED:
            await self.state.add_counter("unreflected_failed", 1)
        await self.narrate(
            f"Goal “{goal.title}”, attempt {attempt.iteration}: {outcome.value} (cost ${cost:.4f}). {_clip(summary, 400)}",
            goal_id=goal.id,
        )
        if outcome in _FAILURES:
            await self.memory.remember(
                f"cortex, goal “{goal.title}”: {lesson}",
                {"goal_id": str(goal.id), "fingerprint": attempt.fingerprint},
            )
            await self.check_stuck(goal)
        elif goal.maturation_status is MaturationStage.BUILDING:
            await self.orchestrator.advance(goal.id, SpecSubmit(stage=MaturationStage.VERIFYING))

    async def check_stuck(self, goal: Goal) -> None:
        """The same approach failing `cortex_stuck_threshold` times in a row: pause the goal and ask the person."""
        n = self.settings.cortex_stuck_threshold
        recent = await self.orchestrator.reflections(goal.id, limit=n)
        if len(recent) < n or any(r.outcome not in _FAILURES for r in recent):
            return
        if len({r.approach_fingerprint for r in recent}) != 1:
            return
        await self.orchestrator.update_goal(goal.id, status=GoalStatus.PAUSED.value)
        await self.state.set_failed_last(goal.id, False)
        await self.narrate(
            f"I am stuck on goal “{goal.title}”: the same approach ({recent[0].approach_fingerprint}) failed {n} "
            f"times in a row, last with: {_clip(recent[0].lesson, 300)}. I paused the goal; tell me how to proceed "
            "(comment on the goal or write here), then resume it.",
            JournalEntryKind.ESCALATION,
            goal.id,
        )

    async def peer_health(self, stimuli: list[Stimulus]) -> list[str]:
        """The peers cortex depends on that do not answer their liveness probe now, plus any another service
        reported degraded through a stimulus."""
        peers = {
            "orchestrator": self.orchestrator.client,
            "llm-gateway": self.gateway.client,
            "memory-service": self.memory.client,
        }
        down = {
            str(s.payload.get("service", s.source)) for s in stimuli if s.type is StimulusType.HEALTH_DEGRADED
        }
        for name, client in peers.items():
            if client is None:
                continue
            try:
                response = await client.get("/health/live", timeout=PEER_PROBE_TIMEOUT)
                if response.status_code != 200:
                    down.add(name)
            except Exception:  # any failure to answer is what this probe looks for
                down.add(name)
        return sorted(down)

    async def report_degraded(self, degraded: list[str]) -> str:
        """Tell the person once per change which services are down (cortex cannot restart them itself)."""
        now_down = frozenset(degraded)
        if now_down:
            await self.narrate(
                f"{', '.join(sorted(now_down))} {'is' if len(now_down) == 1 else 'are'} not answering"
                + (
                    ": I hold off new attempts until it is back (recovery can restart services)."
                    if now_down & CRITICAL_PEERS
                    else "; I carry on without it."
                ),
                JournalEntryKind.ESCALATION,
            )
        else:
            await self.narrate(f"{', '.join(sorted(self.reported_degraded))} answer again.")
        self.reported_degraded = now_down
        return f"reported peers down: {', '.join(sorted(now_down)) or 'none'}"

    async def maintain(self, capped: list[Goal]) -> str:
        """Complete goals that used their iterations and pause those that used their money."""
        for goal in capped:
            if goal.max_iterations is not None and goal.iteration_count >= goal.max_iterations:
                await self.orchestrator.update_goal(goal.id, status=GoalStatus.COMPLETED.value)
                text = f"Goal “{goal.title}” used its {goal.max_iterations} attempts: marked completed."
            else:
                await self.orchestrator.update_goal(goal.id, status=GoalStatus.PAUSED.value)
                text = f"Goal “{goal.title}” reached its cost cap (${goal.cost_usd:.4f} of ${goal.max_cost_usd}): paused."
            await self.narrate(text, goal_id=goal.id)
        return f"maintained {len(capped)} goals"

    async def learn(self) -> str:
        messages = await self.state.inbox(int((await self.state.snapshot()).get("unacknowledged", 0)) or 1)
        await self.state.reset_counters("unacknowledged")
        for message in messages:
            await self.memory.remember(f"The person told cortex: {message}", {"source": "journal"})
        quoted = "; ".join(f"“{_clip(m, 200)}”" for m in reversed(messages))
        await self.narrate(f"I read what you wrote ({quoted}) and will take it into account when planning.")
        return f"read {len(messages)} messages"

    async def reflect_summary(self) -> str:
        counters = await self.state.snapshot()
        total = int(counters.get("unreflected", 0))
        failed = int(counters.get("unreflected_failed", 0))
        cost = int(counters.get("unreflected_cost_micros", 0)) / 1_000_000
        await self.state.reset_counters("unreflected", "unreflected_failed", "unreflected_cost_micros")
        await self.narrate(
            f"Since my last summary: {total} attempts finished, {total - failed} succeeded, {failed} did not; "
            f"they cost ${cost:.4f}.",
            JournalEntryKind.REFLECTION,
        )
        return "summarised recent outcomes"

    async def narrate(
        self, content: str, kind: JournalEntryKind = JournalEntryKind.NARRATION, goal_id: UUID | None = None
    ) -> None:
        try:
            await self.orchestrator.narrate(
                JournalEntryCreate(kind=kind, content=_clip(content, 20_000), goal_id=goal_id)
            )
        except Exception as exc:  # the journal is a report: failing to write it must not undo the work
            log.warning("journal_entry_not_written", error=str(exc)[:200])


async def renew_lease(lease: RedisLease) -> None:
    try:
        await lease.renew()
    except (RedisError, OSError):
        lease.held = False
        raise
