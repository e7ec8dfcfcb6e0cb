"""The pipeline task state machine: every allowed transition is listed here and nowhere else."""

from enum import StrEnum

from nova_contracts.orchestrator import TERMINAL_STATES, PipelineRole, PipelineTaskState

S = PipelineTaskState

RUNNING_STATES: frozenset[S] = frozenset(
    {S.CONTEXT_RUNNING, S.TASK_RUNNING, S.GUARDRAIL_RUNNING, S.REVIEW_RUNNING, S.COMPLETING}
)

# A claimed task may start (or resume from its checkpoint) at any running state; a running stage may hand
# over to any later stage, loop back to the task stage (review → refactor, guardrail → redaction), pause, or
# go back to `queued` when the reaper takes it from a dead worker.
_FORWARD: dict[S, frozenset[S]] = {
    S.SUBMITTED: frozenset({S.QUEUED}),
    S.QUEUED: RUNNING_STATES,
    S.CONTEXT_RUNNING: frozenset(
        {
            S.TASK_RUNNING,
            S.GUARDRAIL_RUNNING,
            S.REVIEW_RUNNING,
            S.COMPLETING,
            S.CLARIFICATION_NEEDED,
            S.PENDING_HUMAN_REVIEW,
            S.QUEUED,
        }
    ),
    S.TASK_RUNNING: frozenset(
        {S.GUARDRAIL_RUNNING, S.REVIEW_RUNNING, S.COMPLETING, S.PENDING_HUMAN_REVIEW, S.QUEUED}
    ),
    S.GUARDRAIL_RUNNING: frozenset(
        {S.TASK_RUNNING, S.REVIEW_RUNNING, S.COMPLETING, S.PENDING_HUMAN_REVIEW, S.QUEUED}
    ),
    S.REVIEW_RUNNING: frozenset({S.TASK_RUNNING, S.COMPLETING, S.PENDING_HUMAN_REVIEW, S.QUEUED}),
    # Approval re-queues the task so a worker runs the post-pipeline agents and completes it.
    S.PENDING_HUMAN_REVIEW: frozenset({S.QUEUED}),
    S.CLARIFICATION_NEEDED: frozenset({S.QUEUED}),
    S.COMPLETING: frozenset({S.COMPLETE, S.QUEUED}),
}

TRANSITIONS: dict[S, frozenset[S]] = {
    state: (
        _FORWARD.get(state, frozenset())
        | ({S.FAILED, S.CANCELLED} if state not in TERMINAL_STATES else set())
    )
    for state in S
}


class Guard(StrEnum):
    """A condition on the task row that a guarded transition requires; the repository checks it in the
    same compare-and-set UPDATE, so it cannot change between the check and the move."""

    DEAD_LETTERED = "dead_lettered"


# The only ways out of a terminal state: an administrator re-queues a task from the dead letter (failed
# because its retries ran out, not because a stage or a human rejected it).
GUARDED: dict[tuple[S, S], Guard] = {(S.FAILED, S.QUEUED): Guard.DEAD_LETTERED}


class IllegalTransition(Exception):
    def __init__(self, current: S, target: S) -> None:
        super().__init__(f"a task in state {current.value} cannot move to {target.value}")
        self.current = current
        self.target = target


def check_transition(current: S, target: S) -> Guard | None:
    """The guard `current → target` needs (None: none); raise `IllegalTransition` if the machine forbids it."""
    if target in TRANSITIONS[current]:
        return None
    guard = GUARDED.get((current, target))
    if guard is None:
        raise IllegalTransition(current, target)
    return guard


def is_terminal(state: S) -> bool:
    return state in TERMINAL_STATES


def running_state_for(role: PipelineRole) -> S:
    """The state a task is in while an agent of `role` runs."""
    return {
        PipelineRole.CONTEXT: S.CONTEXT_RUNNING,
        PipelineRole.TASK: S.TASK_RUNNING,
        PipelineRole.PASSTHROUGH: S.TASK_RUNNING,
        PipelineRole.GUARDRAIL: S.GUARDRAIL_RUNNING,
        PipelineRole.CODE_REVIEW: S.REVIEW_RUNNING,
        PipelineRole.DECISION: S.REVIEW_RUNNING,
    }.get(role, S.COMPLETING)
