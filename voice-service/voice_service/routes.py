"""HTTP routes under /api/v1/voice: parse, call the voice service, return the contract model or the audio.

Every route takes an API key, the admin secret (the dashboard) or the service token (chat-bridge).
"""

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from nova_contracts.voice import ProvidersReport, SynthesisRequest, Transcription, VoiceList, VoiceProvider
from voice_service.deps import Caller, Voice
from voice_service.uploads import LANGUAGE_PATTERN, MAX_PROMPT_CHARS, read_audio_form

PREFIX = "/api/v1/voice"
TRANSCRIBE_PATH = f"{PREFIX}/transcribe"
router = APIRouter(prefix=PREFIX, tags=["voice"])

# The body is parsed by `read_audio_form` (counted as it streams), so OpenAPI is told its shape here.
_TRANSCRIBE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "webm/opus, ogg, mp3, m4a or wav",
                        },
                        "language": {
                            "type": "string",
                            "pattern": LANGUAGE_PATTERN,
                            "description": "a language code, e.g. en",
                        },
                        "prompt": {
                            "type": "string",
                            "maxLength": MAX_PROMPT_CHARS,
                            "description": "words to expect",
                        },
                        "provider": {"type": "string", "enum": [p.value for p in VoiceProvider]},
                    },
                }
            }
        },
    }
}
_AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"audio/mpeg": {}, "audio/ogg": {}, "audio/wav": {}},
        "description": "The audio, streamed as the provider produces it",
    }
}


@router.post(
    "/transcribe",
    response_model=Transcription,
    openapi_extra=_TRANSCRIBE_BODY,
    responses={413: {"description": "upload too large or too long"}, 415: {"description": "not audio"}},
)
async def transcribe_audio(request: Request, voice: Voice, caller: Caller) -> Transcription:
    """Speech to text; silence or a clip too short for speech gives empty text."""
    form = await read_audio_form(request, voice.settings.voice_max_upload_bytes)
    try:
        return await voice.transcribe(
            form.file, caller, language=form.language, prompt=form.prompt, provider=form.provider
        )
    finally:
        await form.file.close()


@router.post("/synthesize", response_class=StreamingResponse, responses=_AUDIO_RESPONSES)
async def synthesize_speech(body: SynthesisRequest, voice: Voice, caller: Caller) -> StreamingResponse:
    """Text to speech, streamed as it is produced."""
    audio = await voice.synthesize(body, caller)
    return StreamingResponse(
        audio.chunks, media_type=audio.media_type, headers={"X-Voice-Provider": audio.provider.value}
    )


@router.get("/voices", response_model=VoiceList)
async def list_voices(
    voice: Voice, _: Caller, provider: VoiceProvider | None = Query(default=None)
) -> VoiceList:
    """The voices of a provider (default: the text-to-speech provider in force)."""
    return await voice.voices(provider)


@router.get("/providers", response_model=ProvidersReport)
async def list_providers(voice: Voice, _: Caller) -> ProvidersReport:
    """Every provider: configured, usable, and why not; and which ones are in force."""
    return await voice.providers()
