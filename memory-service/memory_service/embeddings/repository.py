"""Every SQL statement about vectors: the L2 cache, the embedding target, the backlog and re-embed jobs."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from memory_service.db.models import EmbeddingCacheRow, EmbeddingTargetRow, MemoryRow, ReembedJobRow


@dataclass(frozen=True)
class EmbeddingTarget:
    """The model and dimension that new vectors are made with."""

    model: str
    dim: int


@dataclass(frozen=True)
class BacklogItem:
    id: uuid.UUID
    content: str
    content_hash: str
    stale: bool  # has a vector, from another model


def off_target(target: EmbeddingTarget) -> ColumnElement[bool]:
    return or_(MemoryRow.embedding_model != target.model, MemoryRow.embedding_dim != target.dim)


async def load_target(session: AsyncSession) -> EmbeddingTarget | None:
    row = await session.get(EmbeddingTargetRow, 1)
    return EmbeddingTarget(row.model, row.dim) if row else None


async def replace_target(session: AsyncSession, target: EmbeddingTarget) -> bool:
    """Record `target`; False when it was already the target (another replica may have got there first)."""
    upsert = insert(EmbeddingTargetRow).values(id=1, model=target.model, dim=target.dim)
    stmt = upsert.on_conflict_do_update(
        index_elements=[EmbeddingTargetRow.id],
        set_={"model": target.model, "dim": target.dim, "changed_at": func.now()},
        where=or_(EmbeddingTargetRow.model != target.model, EmbeddingTargetRow.dim != target.dim),
    ).returning(EmbeddingTargetRow.id)
    return (await session.execute(stmt)).first() is not None


async def cached_vectors(
    session: AsyncSession, hashes: Sequence[str], target: EmbeddingTarget
) -> dict[str, list[float]]:
    rows = await session.execute(
        select(EmbeddingCacheRow.content_hash, EmbeddingCacheRow.embedding).where(
            EmbeddingCacheRow.content_hash.in_(hashes),
            EmbeddingCacheRow.model == target.model,
            EmbeddingCacheRow.dim == target.dim,
        )
    )
    return {content_hash: vector for content_hash, vector in rows}


async def cache_vectors(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """`entries`: dicts of content_hash, model, dim, embedding."""
    if entries:
        await session.execute(insert(EmbeddingCacheRow).on_conflict_do_nothing(), entries)


async def backlog(session: AsyncSession, target: EmbeddingTarget | None, limit: int) -> list[BacklogItem]:
    """Memories without a vector first, then those whose vector came from another model."""
    needs_vector: ColumnElement[bool] = MemoryRow.embedding_model.is_(None)
    if target is not None:
        needs_vector = or_(needs_vector, off_target(target))
    rows = await session.execute(
        select(
            MemoryRow.id, MemoryRow.content, MemoryRow.content_hash, MemoryRow.embedding_model.is_not(None)
        )
        .where(needs_vector)
        .order_by(MemoryRow.embedding_model.is_not(None), MemoryRow.created_at)
        .limit(limit)
    )
    return [BacklogItem(*row) for row in rows]


async def store_vectors(session: AsyncSession, items: list[dict[str, Any]]) -> int:
    """`items`: dicts of b_id, b_hash, b_embedding, b_model, b_dim. A row whose content changed since it
    was read keeps its state (its new content gets its own vector)."""
    if not items:
        return 0
    table = MemoryRow.__table__
    if not isinstance(table, Table):  # for the type checker: a declarative class maps one Table
        raise TypeError("memories is not a Table")
    stmt = (
        update(table)
        .where(and_(table.c.id == bindparam("b_id"), table.c.content_hash == bindparam("b_hash")))
        .values(
            embedding=bindparam("b_embedding", type_=table.c.embedding.type),
            embedding_model=bindparam("b_model"),
            embedding_dim=bindparam("b_dim"),
            embedded_at=func.now(),
        )
    )
    # Core executemany: the ORM's bulk UPDATE would key on the primary key alone.
    connection = await session.connection()
    await connection.execute(stmt, items)
    return len(items)


async def count_unembedded(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(MemoryRow.embedding_model.is_(None))) or 0)


async def count_stale(session: AsyncSession, target: EmbeddingTarget) -> int:
    stmt = select(func.count()).where(MemoryRow.embedding_model.is_not(None), off_target(target))
    return int(await session.scalar(stmt) or 0)


async def running_job(session: AsyncSession) -> ReembedJobRow | None:
    stmt = (
        select(ReembedJobRow)
        .where(ReembedJobRow.state == "running")
        .order_by(ReembedJobRow.started_at.desc())
    )
    return (await session.scalars(stmt.limit(1))).first()


async def latest_job(session: AsyncSession) -> ReembedJobRow | None:
    stmt = select(ReembedJobRow).order_by(ReembedJobRow.started_at.desc()).limit(1)
    return (await session.scalars(stmt)).first()


async def start_job(session: AsyncSession, target: EmbeddingTarget, total: int) -> ReembedJobRow:
    job = ReembedJobRow(
        target_model=target.model, target_dim=target.dim, total=total, done=0, state="running"
    )
    session.add(job)
    await session.flush()
    return job


async def end_job(session: AsyncSession, job_id: uuid.UUID, state: str, error: str | None = None) -> None:
    await session.execute(
        update(ReembedJobRow)
        .where(ReembedJobRow.id == job_id)
        .values(state=state, error=error, finished_at=func.now())
    )


async def record_job_progress(session: AsyncSession, job_id: uuid.UUID, remaining: int) -> None:
    await session.execute(
        update(ReembedJobRow)
        .where(ReembedJobRow.id == job_id)
        .values(done=func.greatest(0, ReembedJobRow.total - remaining))
    )
