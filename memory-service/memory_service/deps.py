"""Dependency aliases for the route handlers, declared once."""

from typing import Annotated

from fastapi import Depends, Request

from memory_service.context.service import ContextService
from memory_service.embeddings.backlog import EmbeddingBacklog
from memory_service.memories.service import MemoryService


def _memories(request: Request) -> MemoryService:
    service: MemoryService = request.app.state.memories
    return service


def _context(request: Request) -> ContextService:
    service: ContextService = request.app.state.context
    return service


def _backlog(request: Request) -> EmbeddingBacklog:
    backlog: EmbeddingBacklog = request.app.state.backlog
    return backlog


Memories = Annotated[MemoryService, Depends(_memories)]
Context = Annotated[ContextService, Depends(_context)]
Backlog = Annotated[EmbeddingBacklog, Depends(_backlog)]
