"""Every SQL statement about memories, facts and their history (search is in `search.py`)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from memory_service.db.models import FactRevisionRow, MemoryAccessRow, MemoryMergeRow, MemoryRow

FACT_KEY_INDEX = "memories_fact_key_unique"


def not_expired() -> ColumnElement[bool]:
    return or_(MemoryRow.expires_at.is_(None), MemoryRow.expires_at > func.now())


async def insert_memories(session: AsyncSession, values: list[dict[str, Any]]) -> list[MemoryRow]:
    """Insert rows given as attribute dicts; returns them in input order, server defaults filled in."""
    rows = list(
        await session.scalars(insert(MemoryRow).returning(MemoryRow, sort_by_parameter_order=True), values)
    )
    for row in rows:
        set_committed_value(row, "access", None)
    return rows


async def get_memory(
    session: AsyncSession, memory_id: uuid.UUID, *, for_update: bool = False
) -> MemoryRow | None:
    stmt = select(MemoryRow).where(MemoryRow.id == memory_id, not_expired())
    if for_update:
        # FOR UPDATE cannot lock the nullable side of the eager outer join, so lock the memory alone.
        stmt = stmt.with_for_update(of=MemoryRow)
    return (await session.scalars(stmt)).unique().first()


async def touch(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    """Count an access and reset the decay clock. Ids are locked in sorted order so concurrent readers
    of overlapping results cannot deadlock."""
    if not ids:
        return
    # FOR KEY SHARE: a memory deleted (e.g. merged by compaction) since the read is skipped rather than
    # failing the foreign key, and one still here cannot be deleted before this write commits. That replaces
    # a savepoint around the write (two round trips on every chat turn's recall).
    existing = (
        select(MemoryRow.id, literal(1), func.now())
        .where(MemoryRow.id.in_(sorted(set(ids))))
        .order_by(MemoryRow.id)
        .with_for_update(key_share=True)
    )
    stmt = pg_insert(MemoryAccessRow).from_select(["memory_id", "access_count", "last_accessed_at"], existing)
    stmt = stmt.on_conflict_do_update(
        index_elements=[MemoryAccessRow.memory_id],
        set_={"access_count": MemoryAccessRow.access_count + 1, "last_accessed_at": func.now()},
    )
    await session.execute(stmt)


async def set_access(
    session: AsyncSession, memory_id: uuid.UUID, access_count: int, last_accessed_at: Any
) -> None:
    stmt = pg_insert(MemoryAccessRow).values(
        memory_id=memory_id, access_count=access_count, last_accessed_at=last_accessed_at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[MemoryAccessRow.memory_id],
        set_={"access_count": access_count, "last_accessed_at": last_accessed_at},
    )
    await session.execute(stmt)


async def browse(
    session: AsyncSession,
    conditions: list[ColumnElement[bool]],
    order_by: list[Any],
    *,
    offset: int,
    limit: int,
) -> tuple[list[MemoryRow], int]:
    total = await session.scalar(
        select(func.count()).select_from(MemoryRow).where(not_expired(), *conditions)
    )
    stmt: Select[Any] = (
        select(MemoryRow)
        .outerjoin(MemoryRow.access)
        .options(contains_eager(MemoryRow.access))
        .where(not_expired(), *conditions)
        .order_by(*order_by, MemoryRow.id)
        .offset(offset)
        .limit(limit)
    )
    rows = list((await session.scalars(stmt)).unique())
    return rows, int(total or 0)


async def update_memory(session: AsyncSession, memory_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(
        update(MemoryRow).where(MemoryRow.id == memory_id).values(**values, updated_at=func.now())
    )


async def delete_memory(session: AsyncSession, memory_id: uuid.UUID) -> bool:
    result = await session.execute(delete(MemoryRow).where(MemoryRow.id == memory_id).returning(MemoryRow.id))
    return result.first() is not None


async def fact_for_update(
    session: AsyncSession, owner: str, project_id: str, category: str, key: str
) -> MemoryRow | None:
    stmt = (
        select(MemoryRow)
        .where(
            MemoryRow.tier == "semantic",
            MemoryRow.owner == owner,
            MemoryRow.project_id == project_id,
            MemoryRow.category == category,
            MemoryRow.key == key,
        )
        .with_for_update(of=MemoryRow)
    )
    return (await session.scalars(stmt)).unique().first()


async def add_revision(session: AsyncSession, memory_id: uuid.UUID, content: str, confidence: float) -> None:
    session.add(FactRevisionRow(memory_id=memory_id, content=content, confidence=confidence))
    await session.flush()


async def count_revisions(session: AsyncSession, memory_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(FactRevisionRow.memory_id == memory_id)
    return int(await session.scalar(stmt) or 0)


async def revisions(
    session: AsyncSession, memory_id: uuid.UUID, *, offset: int, limit: int
) -> list[FactRevisionRow]:
    stmt = (
        select(FactRevisionRow)
        .where(FactRevisionRow.memory_id == memory_id)
        .order_by(FactRevisionRow.replaced_at.desc(), FactRevisionRow.id)
        .offset(offset)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def merges(
    session: AsyncSession, memory_id: uuid.UUID, *, offset: int, limit: int
) -> list[MemoryMergeRow]:
    stmt = (
        select(MemoryMergeRow)
        .where(MemoryMergeRow.kept_id == memory_id)
        .order_by(MemoryMergeRow.merged_at.desc(), MemoryMergeRow.id)
        .offset(offset)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def vectors_of(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, list[float]]]:
    """Each embedded memory's (model/dimension tag, vector): only vectors with the same tag compare."""
    rows = await session.execute(
        select(MemoryRow.id, MemoryRow.embedding_model, MemoryRow.embedding_dim, MemoryRow.embedding).where(
            MemoryRow.id.in_(ids), MemoryRow.embedding.is_not(None)
        )
    )
    return {memory_id: (f"{model}/{dim}", list(vector)) for memory_id, model, dim, vector in rows}
