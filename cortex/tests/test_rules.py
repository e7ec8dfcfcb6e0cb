"""cortex's rules that need no other service: budget tiers, approach fingerprints, the drives."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from cortex.budget import tier_for
from cortex.drives import Perception, evaluate, winner
from cortex.loop import fingerprint
from nova_contracts.cortex import BudgetTier, DriveName, InFlightIteration
from nova_contracts.goals import Goal

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def goal(**fields: Any) -> Goal:
    values: dict[str, Any] = {
        "id": uuid4(),
        "title": "A goal",
        "priority": 3,
        "status": "active",
        "progress": 0,
        "check_interval_seconds": 3600,
        "created_by": "admin",
        "owner": "admin",
        "created_at": NOW - timedelta(days=1),
        "updated_at": NOW - timedelta(days=1),
        **fields,
    }
    return Goal.model_validate(values)


def perceive(goals: list[Goal], **fields: Any) -> Perception:
    values: dict[str, Any] = {
        "goals": goals,
        "due": set(),
        "in_flight": [],
        "tier": BudgetTier.BEST,
        "max_in_flight": 3,
        "now": NOW,
        **fields,
    }
    return Perception(**values)


def in_flight(goal_id: Any) -> InFlightIteration:
    return InFlightIteration(goal_id=goal_id, iteration=1, fingerprint="ab", started_at=NOW)


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        (0, "best"),
        (2.49, "best"),
        (2.5, "mid"),
        (3.99, "mid"),
        (4.0, "cheap"),
        (4.99, "cheap"),
        (5, "none"),
        (9, "none"),
    ],
)
def test_budget_tier_follows_the_share_of_the_daily_budget_spent(spend: float, tier: str) -> None:
    assert tier_for(spend, 5.0) == tier


def test_a_zero_budget_allows_no_spending() -> None:
    assert tier_for(0, 0) is BudgetTier.NONE


def test_the_same_plan_written_differently_has_the_same_fingerprint_and_another_plan_does_not() -> None:
    first = fingerprint("Run the migration, then check the logs.")
    assert first == fingerprint("  run the MIGRATION then check the logs ")
    assert len(first) == 16 and int(first, 16) >= 0
    assert first != fingerprint("Roll back the migration.")


def test_a_due_goal_makes_serve_win_and_is_chosen_before_a_more_important_stale_one() -> None:
    due, stale = goal(schedule_cron="* * * * *", priority=4), goal(priority=1)
    drives = evaluate(perceive([stale, due], due={due.id}))
    chosen = winner(drives)
    assert chosen is not None and chosen.drive is DriveName.SERVE and chosen.goal_id == due.id
    assert chosen.urgency == pytest.approx(0.9)


def test_a_scheduled_goal_that_is_not_due_gives_serve_nothing_to_do() -> None:
    scheduled = goal(schedule_cron="0 9 * * 1", last_checked_at=NOW - timedelta(days=30))
    assert winner(evaluate(perceive([scheduled]))) is None


def test_a_goal_checked_within_its_interval_waits_and_one_past_it_is_served() -> None:
    fresh = goal(last_checked_at=NOW - timedelta(minutes=10))
    old = goal(last_checked_at=NOW - timedelta(hours=2))
    chosen = winner(evaluate(perceive([fresh, old])))
    assert chosen is not None and chosen.goal_id == old.id


def test_a_spec_awaiting_review_is_never_worked_on() -> None:
    assert winner(evaluate(perceive([goal(maturation_status="review")]))) is None


def test_no_new_attempt_starts_while_the_most_attempts_allowed_are_in_flight() -> None:
    goals = [goal() for _ in range(3)]
    busy = [in_flight(g.id) for g in goals[:2]]
    serve = next(
        d for d in evaluate(perceive(goals, in_flight=busy, max_in_flight=2)) if d.drive is DriveName.SERVE
    )
    assert serve.urgency == 0


def test_at_budget_tier_none_only_maintenance_may_act() -> None:
    capped = goal(max_iterations=2, iteration_count=2)
    waiting = goal(priority=1)
    drives = evaluate(perceive([capped, waiting], due={waiting.id}, tier=BudgetTier.NONE, unacknowledged=3))
    chosen = winner(drives)
    assert chosen is not None and chosen.drive is DriveName.MAINTAIN and chosen.goal_id == capped.id
    assert all(d.score == 0 for d in drives if d.drive is not DriveName.MAINTAIN)
    assert winner(evaluate(perceive([waiting], due={waiting.id}, tier=BudgetTier.NONE))) is None


def test_a_cheap_tier_damps_serving_but_not_maintenance() -> None:
    waiting = goal(priority=1)
    best = next(d for d in evaluate(perceive([waiting])) if d.drive is DriveName.SERVE)
    cheap = next(
        d for d in evaluate(perceive([waiting], tier=BudgetTier.CHEAP)) if d.drive is DriveName.SERVE
    )
    assert cheap.score == pytest.approx(best.score * 0.3, abs=1e-3)


def test_a_failed_unscheduled_goal_is_retried_by_improve_before_its_check_interval() -> None:
    failed = goal(last_checked_at=NOW - timedelta(minutes=1), priority=2)
    chosen = winner(evaluate(perceive([failed], failed_last={failed.id})))
    assert chosen is not None and chosen.drive is DriveName.IMPROVE and chosen.goal_id == failed.id


def test_unread_messages_make_learn_act_and_several_outcomes_make_reflect_act() -> None:
    learn = winner(evaluate(perceive([], unacknowledged=1)))
    assert learn is not None and learn.drive is DriveName.LEARN
    reflect = winner(evaluate(perceive([], unreflected=5)))
    assert reflect is not None and reflect.drive is DriveName.REFLECT
    assert winner(evaluate(perceive([], unreflected=2))) is None


def test_an_idle_nova_has_no_winning_drive() -> None:
    assert winner(evaluate(perceive([]))) is None


def test_a_peer_that_is_down_makes_maintenance_win_over_a_stale_goal() -> None:
    stale = goal(priority=1)
    healthy = evaluate(perceive([stale]))
    assert next(d for d in healthy if d.drive is DriveName.MAINTAIN).score == 0
    drives = evaluate(perceive([stale], degraded=["llm-gateway"]))
    chosen = winner(drives)
    assert chosen is not None and chosen.drive is DriveName.MAINTAIN
    assert "llm-gateway" in chosen.reason


def test_memory_service_down_is_reported_but_does_not_stop_serving() -> None:
    due = goal(priority=1)
    drives = evaluate(perceive([due], due={due.id}, degraded=["memory-service"]))
    serve = next(d for d in drives if d.drive is DriveName.SERVE)
    maintain = next(d for d in drives if d.drive is DriveName.MAINTAIN)
    assert serve.score > 0 and maintain.score > 0


def test_a_reported_outage_is_not_reported_again_but_still_stops_attempts() -> None:
    stale = goal(priority=1)
    drives = evaluate(
        perceive([stale], degraded=["llm-gateway"], reported_degraded=frozenset({"llm-gateway"}))
    )
    assert winner(drives) is None  # told once already; nothing can be attempted until it is back
    recovered = evaluate(perceive([stale], degraded=[], reported_degraded=frozenset({"llm-gateway"})))
    chosen = winner(recovered)
    assert chosen is not None and chosen.drive is DriveName.SERVE  # work resumes at once
    maintain = next(d for d in recovered if d.drive is DriveName.MAINTAIN)
    assert maintain.score > 0  # and the recovery is told when nothing more urgent is left
