"""Dependency aliases for the route handlers, declared once."""

from typing import Annotated

from fastapi import Depends, Request

from voice_service.service import VoiceService


async def _voice(request: Request) -> VoiceService:
    service: VoiceService = request.app.state.voice
    return service


Voice = Annotated[VoiceService, Depends(_voice)]
