"""Dependency aliases for the route handlers, declared once."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from nova_common.auth import SERVICE_HEADER
from voice_service.callers import VoiceCaller, identify_caller
from voice_service.service import VoiceService


async def _voice(request: Request) -> VoiceService:
    service: VoiceService = request.app.state.voice
    return service


Voice = Annotated[VoiceService, Depends(_voice)]

# Declared for the OpenAPI document (the lock icons); `identify_caller` reads the headers itself.
_api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_service_scheme = APIKeyHeader(name=SERVICE_HEADER, auto_error=False, scheme_name="ServiceToken")


async def _caller(
    request: Request,
    voice: Voice,
    _key: str | None = Depends(_api_key_scheme),
    _token: str | None = Depends(_service_scheme),
) -> VoiceCaller:
    return await identify_caller(request, voice.key_limiter)


Caller = Annotated[VoiceCaller, Depends(_caller)]
