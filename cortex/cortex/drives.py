"""The five drives: each turns what cortex perceived into an urgency in 0..1; weighted, the highest acts.

The rules are written out in cortex/README.md; keep the two in step.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from nova_contracts.cortex import BudgetTier, DriveName, DriveUrgency, InFlightIteration
from nova_contracts.goals import Goal, MaturationStage

# Maturation stages where cortex itself has the next step (review waits for the person).
MATURATION_WORK = frozenset(
    {MaturationStage.TRIAGE, MaturationStage.SCOPING, MaturationStage.SPECCING, MaturationStage.VERIFYING}
)
# Peers without which no attempt can succeed (memory-service is optional: recall is skipped without it).
CRITICAL_PEERS = frozenset({"orchestrator", "llm-gateway"})
# Below this score nothing is worth a cycle's action: cortex idles.
MIN_SCORE = 0.05


def priority_weight(priority: int) -> float:
    """Priority 1 weighs 1.0, priority 5 weighs 0.2."""
    return (6 - priority) / 5


@dataclass
class Perception:
    goals: list[Goal]
    due: set[UUID]
    in_flight: list[InFlightIteration]
    tier: BudgetTier
    max_in_flight: int
    failed_last: set[UUID] = field(default_factory=set)  # goals whose latest attempt failed
    new_messages: int = 0
    unacknowledged: int = 0
    unreflected: int = 0
    degraded: list[str] = field(default_factory=list)  # peers not answering their liveness probe
    reported_degraded: frozenset[str] = frozenset()  # what the journal last said was down
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def busy(self) -> set[UUID]:
        return {a.goal_id for a in self.in_flight}

    def over_limits(self) -> list[Goal]:
        """Active goals at their iteration or cost cap: maintenance completes or pauses them."""
        return [
            g
            for g in self.goals
            if g.id not in self.busy
            and (
                (g.max_iterations is not None and g.iteration_count >= g.max_iterations)
                or (g.max_cost_usd is not None and g.cost_usd >= g.max_cost_usd)
            )
        ]

    def stale(self, goal: Goal) -> bool:
        """An unscheduled goal not looked at for its check interval (or never) is due for another attempt."""
        if goal.schedule_cron is not None:
            return False
        if goal.last_checked_at is None:
            return True
        return (self.now - goal.last_checked_at).total_seconds() >= goal.check_interval_seconds

    def servable(self) -> list[Goal]:
        """Goals serve may act on now: due or triggered, with maturation work, or stale; never one in flight or
        one whose spec awaits the person."""
        capped = {g.id for g in self.over_limits()}
        out = []
        for goal in self.goals:
            if goal.id in self.busy or goal.id in capped or goal.maturation_status is MaturationStage.REVIEW:
                continue
            if goal.id in self.due or goal.maturation_status in MATURATION_WORK or self.stale(goal):
                out.append(goal)
        return sorted(out, key=self.order)

    def retryable(self) -> list[Goal]:
        """Unscheduled goals whose latest attempt failed: improve retries them at once, with the lesson."""
        capped = {g.id for g in self.over_limits()}
        return sorted(
            (
                g
                for g in self.goals
                if g.id in self.failed_last
                and g.id not in self.busy
                and g.id not in capped
                and g.schedule_cron is None
                and g.maturation_status is not MaturationStage.REVIEW
            ),
            key=self.order,
        )

    def order(self, goal: Goal) -> tuple[int, int, datetime]:
        never = datetime.min.replace(tzinfo=UTC)
        return (0 if goal.id in self.due else 1, goal.priority, goal.last_checked_at or never)


def _drive(
    name: DriveName, urgency: float, weight: float, reason: str, goal: Goal | None = None
) -> DriveUrgency:
    urgency = max(0.0, min(1.0, urgency))
    return DriveUrgency(
        drive=name,
        urgency=round(urgency, 3),
        weight=round(weight, 3),
        score=round(urgency * weight, 4),
        reason=reason,
        goal_id=goal.id if goal else None,
    )


# Budget: at `none` only maintenance may act; when money is short, work that spends it yields.
_BUDGET_FACTOR: dict[BudgetTier, dict[DriveName, float]] = {
    BudgetTier.BEST: {},
    BudgetTier.MID: {DriveName.IMPROVE: 0.5, DriveName.LEARN: 0.5},
    BudgetTier.CHEAP: {DriveName.SERVE: 0.3, DriveName.IMPROVE: 0.3, DriveName.LEARN: 0.3},
    BudgetTier.NONE: {
        DriveName.SERVE: 0.0,
        DriveName.IMPROVE: 0.0,
        DriveName.LEARN: 0.0,
        DriveName.REFLECT: 0.0,
    },
}


def evaluate(p: Perception) -> list[DriveUrgency]:
    """Every drive's urgency, highest score first."""
    drives: list[DriveUrgency] = []
    full = len(p.in_flight) >= p.max_in_flight

    servable = p.servable()
    if full:
        drives.append(
            _drive(DriveName.SERVE, 0, 1, f"{len(p.in_flight)} attempts in flight (the most allowed)")
        )
    elif not servable:
        drives.append(_drive(DriveName.SERVE, 0, 1, "no goal needs work now"))
    else:
        top = servable[0]
        if top.id in p.due:
            urgency, reason = 0.9, "a scheduled or triggered goal is due"
        elif top.maturation_status in MATURATION_WORK:
            urgency, reason = 0.7, f"a goal waits at maturation stage {top.maturation_status}"
        else:
            urgency = 0.3 + 0.6 * len(servable) / max(len(p.goals), 1)
            reason = f"{len(servable)} of {len(p.goals)} active goals are due for another attempt"
        if p.new_messages:
            urgency += 0.1
        drives.append(_drive(DriveName.SERVE, urgency, priority_weight(top.priority), reason, top))

    capped = p.over_limits()
    if capped:
        drives.append(
            _drive(
                DriveName.MAINTAIN,
                0.6 + 0.1 * len(capped),
                1.0,
                f"{len(capped)} goals reached a cap",
                capped[0],
            )
        )
    elif frozenset(p.degraded) != p.reported_degraded:
        # A change in which peers are down is told to the person once; then maintenance has nothing to add.
        drives.append(
            _drive(
                DriveName.MAINTAIN,
                0.7 + len(p.degraded) / 10,
                1.0,
                f"not answering: {', '.join(sorted(p.degraded))}",
            )
        )
    else:
        drives.append(_drive(DriveName.MAINTAIN, 0, 1.0, "nothing to tidy"))

    retry = [] if full else p.retryable()
    drives.append(
        _drive(
            DriveName.IMPROVE,
            0.5,
            priority_weight(retry[0].priority),
            "a goal's last attempt failed",
            retry[0],
        )
        if retry
        else _drive(DriveName.IMPROVE, 0, 0.5, "no failed attempt to retry")
    )

    drives.append(
        _drive(DriveName.LEARN, 0.5 + 0.1 * p.unacknowledged, 0.8, f"{p.unacknowledged} unread messages")
        if p.unacknowledged
        else _drive(DriveName.LEARN, 0, 0.8, "no new message from the person")
    )

    drives.append(
        _drive(
            DriveName.REFLECT,
            min(0.8, 0.1 * p.unreflected),
            0.5,
            f"{p.unreflected} outcomes since the last summary",
        )
        if p.unreflected >= 3
        else _drive(DriveName.REFLECT, 0, 0.5, "too little happened to summarise")
    )

    factors = dict(_BUDGET_FACTOR[p.tier])
    why = f"budget tier {p.tier.value}"
    if CRITICAL_PEERS & set(p.degraded):
        # Without the orchestrator or the gateway every plan fails: only maintenance (telling the person) acts.
        factors = {drive: 0.0 for drive in DriveName if drive is not DriveName.MAINTAIN}
        why = f"{', '.join(sorted(CRITICAL_PEERS & set(p.degraded)))} down"
    weighted = [
        d
        if d.drive not in factors
        else d.model_copy(
            update={
                "urgency": round(d.urgency * factors[d.drive], 3),
                "score": round(d.urgency * factors[d.drive] * d.weight, 4),
                "reason": f"{d.reason} ({why})",
            }
        )
        for d in drives
    ]
    return sorted(weighted, key=lambda d: d.score, reverse=True)


def winner(drives: list[DriveUrgency]) -> DriveUrgency | None:
    best = drives[0] if drives else None
    return best if best is not None and best.score >= MIN_SCORE else None
