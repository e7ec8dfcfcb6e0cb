"""Journal routes: cortex narrates (service token), the person writes (admin), both read."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status

from nova_common.auth import AdminAuth, ServiceAuth
from nova_contracts.cortex import (
    JournalEntry,
    JournalEntryCreate,
    JournalMessageCreate,
    JournalPage,
    UtcInstant,
)
from orchestrator.deps import Page, Services
from orchestrator.journal.repository import JournalRepository
from orchestrator.journal.service import JournalService

router = APIRouter(prefix="/api/v1/journal", tags=["journal"])


async def get_journal(request: Request) -> JournalService:  # async: no thread hop per request
    services: Services = request.app.state.services
    return JournalService(JournalRepository(request.app.state.resources.pg), services.goals.notify)


Journal = Annotated[JournalService, Depends(get_journal)]


@router.get("", response_model=JournalPage)
async def read_journal(
    _: ServiceAuth,
    journal: Journal,
    page: Page,
    role: Annotated[
        Literal["user", "assistant"] | None, Query(description="user: the person's messages")
    ] = None,
    since: Annotated[UtcInstant | None, Query(description="only entries written after this instant")] = None,
) -> JournalPage:
    """The journal, newest first: cortex's entries and the person's messages."""
    return await journal.read(role=role, since=since, limit=page.limit, offset=page.offset)


@router.post("/entries", response_model=JournalEntry, status_code=status.HTTP_201_CREATED)
async def add_journal_entry(body: JournalEntryCreate, _: ServiceAuth, journal: Journal) -> JournalEntry:
    """For cortex: narrate what it did and why, or escalate to the person."""
    return await journal.narrate(body)


@router.post("/messages", response_model=JournalEntry, status_code=status.HTTP_201_CREATED)
async def write_journal_message(body: JournalMessageCreate, _: AdminAuth, journal: Journal) -> JournalEntry:
    """The person writes to cortex; it reads the message on its next cycle."""
    return await journal.write(body)
