"""What the Context agent is given besides the goal: memories from memory-service and similar prior tasks.

memory-service is best effort here: when it is down the stage goes on without memories, and both the
prompt and the stage output say so, so a weak context is explained rather than silent.
"""

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError

from nova_common.errors import UpstreamUnavailable
from nova_contracts.memory import IngestRequest, MemorySearchRequest, SourceInfo, SourceKind
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.keys.tenant import Tenant
from orchestrator.pipeline.repository import PipelineRepository

log = structlog.get_logger("orchestrator.pipeline.recall")

MEMORY_LIMIT = 8
PRIOR_TASK_LIMIT = 5
# Prior tasks are looked for among this many most recently completed ones.
PRIOR_TASK_CANDIDATES = 500
MEMORY_CHARS = 2_000
PRIOR_OUTPUT_CHARS = 1_500
# What of a finished task is queued for memory formation (the contract takes up to 50,000 characters).
INGEST_CHARS = 20_000
_WORD = re.compile(r"\w+")


@dataclass
class Recall:
    memories: list[dict[str, Any]] = field(default_factory=list)
    prior_tasks: list[dict[str, Any]] = field(default_factory=list)
    # None when memory-service answered; otherwise why it could not.
    memory_unavailable: str | None = None

    def as_output(self) -> dict[str, Any]:
        """The part of the context stage's output that records what was recalled."""
        return {
            "memory_service": "unavailable" if self.memory_unavailable else "available",
            **({"memory_error": self.memory_unavailable} if self.memory_unavailable else {}),
            "memories": self.memories,
            "prior_tasks": [{k: v for k, v in t.items() if k != "output"} for t in self.prior_tasks],
        }

    def as_brief(self) -> str:
        """The sections of the Context agent's prompt."""
        if self.memory_unavailable:
            memories = (
                f"memory-service was unavailable ({self.memory_unavailable}); no memories were recalled. "
                "Say so in curated_context."
            )
        elif self.memories:
            memories = "\n".join(
                f"- [{m['tier']}] {m['content']} (score {m['score']:.2f})" for m in self.memories
            )
        else:
            memories = "Nothing in memory matches the goal."
        parts = [f"# Memories (memory-service)\n{memories}"]
        if self.prior_tasks:
            tasks = "\n\n".join(
                f"## Task {t['id']} ({t['completed_at']})\nGoal: {t['goal']}\nOutput:\n{t['output']}"
                for t in self.prior_tasks
            )
            parts.append(f"# Prior tasks with a similar goal\n{tasks}")
        return "\n\n".join(parts)


def similarity_query(goal: str) -> str:
    """A full-text query matching any word of the goal (`add | function`); words only, so nothing to escape."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(goal)))
    return " | ".join(words[:64])


class ContextRecall:
    def __init__(self, memory: MemoryServiceClient | None, repository: PipelineRepository) -> None:
        self.memory = memory
        self.repository = repository

    async def gather(self, task: dict[str, Any]) -> Recall:
        recall = Recall()
        memories, prior = await asyncio.gather(
            self._memories(task["goal"], Tenant.from_columns(task["owner_kind"], task["api_key_id"]).owner),
            self.repository.similar_completed(
                task["id"],
                similarity_query(task["goal"]),
                limit=PRIOR_TASK_LIMIT,
                candidates=PRIOR_TASK_CANDIDATES,
            ),
        )
        if isinstance(memories, str):
            recall.memory_unavailable = memories
        else:
            recall.memories = memories
        recall.prior_tasks = [
            {
                "id": str(row["id"]),
                "goal": row["goal"][:PRIOR_OUTPUT_CHARS],
                "output": (row["output"] or "")[:PRIOR_OUTPUT_CHARS],
                "pod": row["pod_name"],
                "completed_at": row["completed_at"].isoformat(),
            }
            for row in prior
        ]
        return recall

    async def remember_task(self, task: dict[str, Any], output: str) -> None:
        """Queue the finished task (goal and output) for memory formation, as its owner's; one HTTP call,
        and a failure is logged, never raised: the task is complete either way."""
        if self.memory is None or not output.strip():
            return
        content = f"Task: {task['goal']}\n\nResult: {output}"[:INGEST_CHARS]
        try:
            await self.memory.ingest(
                IngestRequest(
                    content=content,
                    source=SourceInfo(
                        kind=SourceKind.TASK,
                        uri=f"nova:pipeline-task:{task['id']}",
                        title=" ".join(str(task["goal"]).split())[:200] or None,
                    ),
                    owner=Tenant.from_columns(task["owner_kind"], task["api_key_id"]).owner,
                    metadata={"task_id": str(task["id"])},
                )
            )
        except UpstreamUnavailable as exc:
            log.warning("task_memory_not_queued", task_id=str(task["id"]), error=exc.detail)
        except ValidationError as exc:  # text memory cannot store (a NUL in the output): the task stands
            log.warning("task_memory_not_queued", task_id=str(task["id"]), error=str(exc)[:300])

    async def _memories(self, goal: str, owner: str) -> list[dict[str, Any]] | str:
        """The memories of the task's owner (and shared ones) matching `goal`, or why memory-service could not
        be asked."""
        if self.memory is None:
            return "memory-service is not configured for the pipeline"
        try:
            found = await self.memory.search(
                MemorySearchRequest(query=goal[:10_000], limit=MEMORY_LIMIT, owner=owner)
            )
        except UpstreamUnavailable as exc:
            log.warning("context_memories_unavailable", error=exc.detail)
            return exc.detail
        return [
            {
                "id": str(hit.memory.id),
                "tier": hit.memory.tier.value,
                "content": hit.memory.content[:MEMORY_CHARS],
                "score": round(hit.score, 4),
            }
            for hit in found.hits
        ]
