"""Context assembly: the memories that best answer a query, deduplicated, facts first, within a token budget.

The block it renders is meant to be pasted into a prompt as is:

    Facts:
    - [<id>] (confidence 0.82) The deploy target is eu-west-1.
    Memories:
    - [<id>] (episodic) Deployed 1.4 after the migration was reviewed.
"""

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from memory_service.context.tokens import count_tokens
from memory_service.formation.learning import LearningService, Retrieval
from memory_service.memories.decay import effective_confidence
from memory_service.memories.search import ScoredMemory, SearchFilters
from memory_service.memories.service import MemoryService
from nova_contracts.memory import (
    ContextItem,
    ContextRequest,
    ContextResponse,
    MemorySearchRequest,
    MemoryTier,
)

FACTS_HEADER = "Facts:"
MEMORIES_HEADER = "Memories:"
_WHITESPACE = re.compile(r"\s+")
# Up to this many characters of memories, counting their tokens takes less time than a trip to a worker
# thread and back (about 0.2 ms on a busy 2-core host), so a turn's handful of short memories is counted on
# the event loop; a longer list still goes to a thread.
INLINE_TOKENIZE_CHARS = 2000

log = structlog.get_logger("memory_service.context")


@dataclass(frozen=True)
class Candidate:
    id: uuid.UUID
    tier: MemoryTier
    line: str
    content: str
    confidence: float | None
    tokens: int
    score: float | None = None
    vector_score: float | None = None
    keyword_score: float | None = None
    source_id: uuid.UUID | None = None


def _line(hit: ScoredMemory, confidence: float | None) -> str:
    content = _WHITESPACE.sub(" ", hit.row.content).strip()
    label = f"confidence {confidence:.2f}" if confidence is not None else hit.row.tier
    return f"- [{hit.row.id}] ({label}) {content}"


def near_duplicates(hits: list[ScoredMemory]) -> set[uuid.UUID]:
    """Ids to drop: each memory whose vector nearly repeats a better-ranked kept one's (the search compared
    them: `duplicates_of`)."""
    kept: set[uuid.UUID] = set()
    dropped: set[uuid.UUID] = set()
    for hit in hits:
        if any(better in kept for better in hit.duplicates_of):
            dropped.add(hit.row.id)
        else:
            kept.add(hit.row.id)
    return dropped


def fit_to_budget(
    facts: list[Candidate], others: list[Candidate], budget: int
) -> tuple[str, list[Candidate], bool, int]:
    """Greedy in rank order (facts first); an item that does not fit is skipped for smaller ones after it.
    Returns the block, the items in it, whether any was left out, and the block's exact token count.

    Line counts plus one newline token estimate the block; the rendered block is then counted exactly
    and, in the rare case BPE merges across a line break make it exceed the budget, trimmed from the end.
    """
    header_cost = {
        FACTS_HEADER: count_tokens(FACTS_HEADER) + 1,
        MEMORIES_HEADER: count_tokens(MEMORIES_HEADER) + 1,
    }
    chosen: list[tuple[str, Candidate]] = []
    used = 0
    skipped = False
    for header, group in ((FACTS_HEADER, facts), (MEMORIES_HEADER, others)):
        opened = False
        for candidate in group:
            cost = candidate.tokens + 1 + (0 if opened else header_cost[header])
            if used + cost > budget:
                skipped = True
                continue
            chosen.append((header, candidate))
            used += cost
            opened = True
    while True:
        text = _render(chosen)
        total = count_tokens(text)
        if total <= budget or not chosen:
            return text, [c for _, c in chosen], skipped, total
        chosen.pop()
        skipped = True


def _rounded(score: float | None) -> float | None:
    return round(score, 4) if score is not None else None


def _lap(timings: dict[str, float], step: str, since: float) -> float:
    """Record the milliseconds of `step` since `since`; the new starting point."""
    now = time.perf_counter()
    timings[step] = (now - since) * 1000
    return now


def _render(chosen: list[tuple[str, Candidate]]) -> str:
    lines: list[str] = []
    current = None
    for header, candidate in chosen:
        if header != current:
            lines.append(header)
            current = header
        lines.append(candidate.line)
    return "\n".join(lines)


class ContextService:
    def __init__(
        self,
        memories: MemoryService,
        learning: LearningService,
        *,
        candidates: int,
        dedup_similarity: float,
    ) -> None:
        self.memories = memories
        self.learning = learning
        self.candidates = candidates
        self.dedup_similarity = dedup_similarity

    async def build(self, agent_id: str, request: ContextRequest) -> tuple[ContextResponse, Retrieval | None]:
        """The agent's own and shared memories that best match the query, rendered within the budget, and
        the retrieval to record (`record`) once the response is on its way; None if nothing was searched."""
        tiers = list(request.tiers or MemoryTier)
        if not request.include_facts:
            tiers = [t for t in tiers if t is not MemoryTier.SEMANTIC]
        if not tiers:
            return ContextResponse(context="", total_tokens=0), None
        search = MemorySearchRequest(
            query=request.query,
            tiers=tiers,
            project_id=request.project_id,
            limit=self.candidates,
            owner=request.owner,
        )
        filters = SearchFilters(
            tiers=[t.value for t in tiers],
            agent_id=agent_id,
            include_shared=True,
            project_id=request.project_id,
            owner=request.owner,
        )
        timings: dict[str, float] = {}
        hits, _, _, _ = await self.memories.ranked(
            search, filters, touch=False, duplicate_similarity=self.dedup_similarity, timings=timings
        )
        step = time.perf_counter()
        hits = self._deduplicated(hits)
        step = _lap(timings, "dedup", step)
        if sum(len(hit.row.content) for hit in hits) <= INLINE_TOKENIZE_CHARS:
            text, chosen, truncated, total = self._fit(hits, request.token_budget)
        else:
            # Tokenizing is CPU work (tiktoken releases the GIL): one trip to a thread for all of it.
            text, chosen, truncated, total = await asyncio.to_thread(self._fit, hits, request.token_budget)
        _lap(timings, "fit", step)
        # What feedback refers to (`POST /feedback`): which memories this turn was shown (and touched).
        retrieval = Retrieval(
            owner=request.owner, agent_id=agent_id, query=request.query, surfaced=[c.id for c in chosen]
        )
        response = ContextResponse(
            timings_ms={name: round(ms, 3) for name, ms in timings.items()},
            retrieval_id=retrieval.id,
            context=text,
            total_tokens=total,
            items=[
                ContextItem(
                    id=c.id,
                    tier=c.tier,
                    content=c.content,
                    confidence=c.confidence,
                    tokens=c.tokens,
                    score=_rounded(c.score),
                    vector_score=_rounded(c.vector_score),
                    keyword_score=_rounded(c.keyword_score),
                    source_id=c.source_id,
                )
                for c in chosen
            ],
            truncated=truncated,
            memory_ids=[c.id for c in chosen],
        )
        return response, retrieval

    async def record(self, retrieval: Retrieval) -> None:
        """Write a context's retrieval and count its memories as accessed. Run after the context's response
        is sent, so a chat turn's first token does not wait for the write; a failure is logged, the context
        having been served (feedback on it then gets a 404)."""
        try:
            await self.learning.record_retrieval(retrieval)
        except Exception as exc:
            log.warning("retrieval_not_recorded", retrieval_id=str(retrieval.id), error=str(exc)[:300])

    def _deduplicated(self, hits: list[ScoredMemory]) -> list[ScoredMemory]:
        dropped = near_duplicates(hits)
        seen_hashes: set[str] = set()
        unique: list[ScoredMemory] = []
        for hit in hits:
            if hit.row.id in dropped or hit.row.content_hash in seen_hashes:
                continue
            seen_hashes.add(hit.row.content_hash)
            unique.append(hit)
        return unique

    def _fit(self, hits: list[ScoredMemory], budget: int) -> tuple[str, list[Candidate], bool, int]:
        facts, others = self._candidates(hits)
        return fit_to_budget(facts, others, budget)

    def _candidates(self, hits: list[ScoredMemory]) -> tuple[list[Candidate], list[Candidate]]:
        facts: list[Candidate] = []
        others: list[Candidate] = []
        settings = self.memories.settings
        now = datetime.now(UTC)
        for hit in hits:
            row = hit.row
            is_fact = row.tier == MemoryTier.SEMANTIC.value
            confidence = None
            if is_fact:
                last_access = row.access.last_accessed_at if row.access else row.created_at
                confidence = effective_confidence(
                    row.tier, row.confidence, last_access, now, settings.decay_exponent
                )
            line = _line(hit, confidence)
            candidate = Candidate(
                id=row.id,
                tier=MemoryTier(row.tier),
                line=line,
                content=row.content,
                confidence=confidence,
                tokens=count_tokens(line),
                score=hit.score,
                vector_score=hit.vector_score,
                keyword_score=hit.keyword_score,
                source_id=row.source_id,
            )
            (facts if is_fact else others).append(candidate)
        return facts, others
