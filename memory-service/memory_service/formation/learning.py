"""Learning what helps: each context assembly is recorded, and the turn's feedback moves the importance of
the memories it used: up after a good outcome, down after a bad one, a share of the way to the bound so it
never leaves [importance_floor, importance_ceiling]."""

import asyncio
import uuid
from dataclasses import dataclass, field

from memory_service.config import Settings
from memory_service.db.engine import Sessions
from memory_service.formation import repository
from nova_common.errors import Conflict, NotFound
from nova_contracts.memory import FeedbackOutcome, FeedbackRequest, FeedbackResult


@dataclass(frozen=True)
class Retrieval:
    """One context assembly: which memories it surfaced, for `POST /feedback` to refer to by `id`."""

    owner: str | None
    agent_id: str | None
    query: str
    surfaced: list[uuid.UUID]
    id: uuid.UUID = field(default_factory=uuid.uuid4)


class LearningService:
    def __init__(self, sessions: Sessions, settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        # The retrievals being written. A context's retrieval is written after its response is sent, so
        # feedback on it could, on a stalled database, arrive first: it waits for the row instead of a 404.
        self._writing: dict[uuid.UUID, asyncio.Event] = {}

    async def record_retrieval(self, retrieval: Retrieval) -> None:
        """Record which memories a context assembly surfaced, and count them as accessed, in one statement."""
        written = self._writing.setdefault(retrieval.id, asyncio.Event())
        try:
            async with self.sessions() as session:
                await repository.record_retrieval(
                    session,
                    retrieval_id=retrieval.id,
                    owner=retrieval.owner,
                    agent_id=retrieval.agent_id,
                    query=retrieval.query[:2000],
                    surfaced=retrieval.surfaced,
                )
        finally:
            written.set()
            self._writing.pop(retrieval.id, None)

    async def feedback(self, request: FeedbackRequest) -> FeedbackResult:
        step = {
            FeedbackOutcome.SUCCESS: self.settings.feedback_step,
            FeedbackOutcome.FAILURE: -self.settings.feedback_step,
            FeedbackOutcome.NEUTRAL: 0.0,
        }[request.outcome]
        writing = self._writing.get(request.retrieval_id)
        if writing is not None:
            await writing.wait()
        async with self.sessions.begin() as session:
            retrieval = await repository.retrieval_for_update(session, request.retrieval_id)
            if retrieval is None:
                raise NotFound(f"retrieval {request.retrieval_id} not found")
            if retrieval.feedback_at is not None:
                # Counting one turn twice would double its effect on importance.
                raise Conflict(f"retrieval {request.retrieval_id} already has feedback")
            surfaced = set(retrieval.surfaced)
            used = list(dict.fromkeys(m for m in request.used_memory_ids if m in surfaced))
            ignored = [m for m in request.used_memory_ids if m not in surfaced]
            await repository.record_feedback(session, retrieval.id, used, request.outcome.value)
            importance: dict[uuid.UUID, float] = {}
            if step:
                importance = await repository.shift_importance(
                    session,
                    used,
                    step=step,
                    floor=self.settings.importance_floor,
                    ceiling=self.settings.importance_ceiling,
                )
        return FeedbackResult(retrieval_id=request.retrieval_id, importance=importance, ignored=ignored)
