"""HTTP routes under /api/v1/memories: parse, call the service layer, return the contract model.

Static paths (`/browse`, `/reembed`…) are declared before `/{memory_id}` so they are never read as ids.
Every route takes the service token (the orchestrator) or the admin secret (the dashboard). Memories carry
their writer (`owner`): the orchestrator names it for each caller and is trusted to, since nothing else holds
the service token; reads with an `owner` see that owner's memories and the shared ones, reads without one
(the dashboard) see everything. Only the admin shares a memory.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Response
from pydantic import AfterValidator

from memory_service.deps import Backlog, Context, Memories
from memory_service.memories.service import BrowseQuery
from nova_common.auth import Principal, require_service
from nova_contracts.memory import (
    ContextRequest,
    ContextResponse,
    FactUpsert,
    FactUpsertResult,
    Memory,
    MemoryBulkCreate,
    MemoryCreate,
    MemoryHistory,
    MemoryPage,
    MemorySearchRequest,
    MemorySearchResponse,
    MemorySort,
    MemoryTier,
    MemoryUpdate,
    Owner,
    ReembedStatus,
    SortOrder,
)

router = APIRouter(prefix="/api/v1/memories", tags=["memories"], dependencies=[Depends(require_service)])

AgentId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-/@]+$")]


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL: refused here as a 422 rather than failing in the query.
    if value is not None and "\x00" in value:
        raise ValueError("may not contain NUL (\\u0000) characters")
    return value


FilterText = Annotated[str | None, Query(min_length=1, max_length=200), AfterValidator(_no_nul)]
# Every list takes a page: at most 200 items (a larger limit is a 422, not silently cut).
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]
# The caller, to tell the admin secret (the dashboard) from the service token (the orchestrator).
Caller = Annotated[Principal, Depends(require_service)]


@router.post("", status_code=201, response_model=Memory)
async def store_memory(body: MemoryCreate, memories: Memories, caller: Caller) -> Memory:
    """Store one memory; it is embedded now, or in the background if the gateway is unavailable."""
    [memory] = await memories.store([body], caller_is_admin=caller.kind == "admin")
    return memory


@router.post("/bulk", status_code=201, response_model=list[Memory])
async def store_memories(body: MemoryBulkCreate, memories: Memories, caller: Caller) -> list[Memory]:
    """Store up to 1000 memories at once, in order."""
    return await memories.store(body.items, caller_is_admin=caller.kind == "admin")


@router.post("/search", response_model=MemorySearchResponse)
async def search_memories(body: MemorySearchRequest, memories: Memories) -> MemorySearchResponse:
    """Hybrid vector + keyword search; falls back to keywords alone (flagged) when embeddings are down."""
    return await memories.search(body)


@router.post("/facts", response_model=FactUpsertResult)
async def upsert_fact(body: FactUpsert, memories: Memories, caller: Caller) -> FactUpsertResult:
    """Create or update the fact (owner, project_id, category, key), keeping the previous value in its history."""
    return await memories.upsert_fact(body, caller_is_admin=caller.kind == "admin")


@router.get("/browse", response_model=MemoryPage)
async def browse_memories(
    memories: Memories,
    tier: MemoryTier | None = None,
    agent_id: FilterText = None,
    project_id: FilterText = None,
    owner: Annotated[
        Owner | None, Query(description="only this owner's memories and the shared ones")
    ] = None,
    source_id: Annotated[
        uuid.UUID | None, Query(description="only the memories formed from this source")
    ] = None,
    sort: MemorySort = MemorySort.CREATED_AT,
    order: SortOrder = SortOrder.DESC,
    offset: Offset = 0,
    limit: Limit = 50,
) -> MemoryPage:
    """Page through memories, optionally of one tier, agent, project or source."""
    query = BrowseQuery(
        tier=tier,
        agent_id=agent_id,
        project_id=project_id,
        owner=owner,
        source_id=source_id,
        sort=sort,
        order=order,
        offset=offset,
        limit=limit,
    )
    return await memories.browse(query)


@router.get("/reembed", response_model=ReembedStatus)
async def get_reembed_status(backlog: Backlog) -> ReembedStatus:
    """Progress of the latest re-embed job (started automatically when the embedding model changes)."""
    return await backlog.status()


@router.get("/{memory_id}", response_model=Memory)
async def get_memory(memory_id: uuid.UUID, memories: Memories) -> Memory:
    """One memory; reading it counts as an access."""
    return await memories.get(memory_id)


@router.get("/{memory_id}/history", response_model=MemoryHistory)
async def get_memory_history(
    memory_id: uuid.UUID, memories: Memories, offset: Offset = 0, limit: Limit = 50
) -> MemoryHistory:
    """A fact's earlier values and the near-duplicates compaction merged into this memory, newest first."""
    return await memories.history(memory_id, offset=offset, limit=limit)


@router.patch("/{memory_id}", response_model=Memory)
async def update_memory(
    memory_id: uuid.UUID, body: MemoryUpdate, memories: Memories, caller: Caller
) -> Memory:
    """Change some fields; new content is re-embedded. Only the admin changes `shared`."""
    return await memories.update(memory_id, body, caller_is_admin=caller.kind == "admin")


@router.delete("/{memory_id}", status_code=204, response_class=Response)
async def delete_memory(memory_id: uuid.UUID, memories: Memories) -> Response:
    """Delete a memory for good."""
    await memories.delete(memory_id)
    return Response(status_code=204)


@router.post("/{agent_id}/context", response_model=ContextResponse)
async def build_context(
    agent_id: AgentId, body: ContextRequest, context: Context, background: BackgroundTasks
) -> ContextResponse:
    """The agent's most relevant memories for a query, facts first, within a token budget. The retrieval
    that `POST /feedback` refers to (`retrieval_id`) is written just after the response is sent."""
    response, retrieval = await context.build(agent_id, body)
    if retrieval is not None:
        background.add_task(context.record, retrieval)
    return response
