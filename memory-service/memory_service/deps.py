"""Dependency aliases for the route handlers, declared once (async: a plain `def` costs a thread hop per request)."""

from typing import Annotated

from fastapi import Depends, Request

from memory_service.context.service import ContextService
from memory_service.embeddings.backlog import EmbeddingBacklog
from memory_service.formation import Formation
from memory_service.memories.service import MemoryService


async def _memories(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.memories
    return service


async def _context(request: Request) -> ContextService:
    service: ContextService = request.app.state.context
    return service


async def _backlog(request: Request) -> EmbeddingBacklog:
    backlog: EmbeddingBacklog = request.app.state.backlog
    return backlog


async def _formation(request: Request) -> Formation:
    formation: Formation = request.app.state.formation
    return formation


Memories = Annotated[MemoryService, Depends(_memories)]
Context = Annotated[ContextService, Depends(_context)]
Backlog = Annotated[EmbeddingBacklog, Depends(_backlog)]
FormationParts = Annotated[Formation, Depends(_formation)]
