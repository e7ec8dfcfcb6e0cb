"""Typed calls to voice-service: a voice message to text, and a reply to speech.

The bridge calls as a Nova service (the service token, `X-Nova-Caller: chat-bridge`). voice-service is
opt-in (profile `voice`): when nothing listens on its port, `VoiceServiceDown` lets the adapters say that
voice is not enabled instead of failing the turn.
"""

import httpx

from nova_common.errors import NovaError, UpstreamUnavailable
from nova_common.http import ServiceClient, peer_error
from nova_contracts.llm import CALLER_HEADER
from nova_contracts.voice import AudioFormat, SynthesisRequest, Transcription

# Transcription runs at about real time offline, on clips of up to a few minutes.
TRANSCRIBE_TIMEOUT = httpx.Timeout(300.0, connect=3.0)
SYNTHESIZE_TIMEOUT = httpx.Timeout(120.0, connect=3.0)
_CALLER = {CALLER_HEADER: "chat-bridge"}


class VoiceServiceDown(UpstreamUnavailable):
    """voice-service does not answer at all: the voice profile is off (or it is restarting)."""


class BridgeVoiceClient:
    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def transcribe(self, audio: bytes, *, filename: str, media_type: str) -> Transcription:
        try:
            response = await self._service.post(
                "/api/v1/voice/transcribe",
                files={"file": (filename, audio, media_type)},
                headers=_CALLER,
                timeout=TRANSCRIBE_TIMEOUT,
            )
        except UpstreamUnavailable as exc:
            raise VoiceServiceDown(exc.detail) from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"voice-service failed ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise peer_error("voice-service", response)
        return Transcription.model_validate_json(response.content)

    async def synthesize(self, text: str, fmt: AudioFormat, *, max_bytes: int) -> bytes:
        """The whole clip (a chat upload needs its length first), refused past `max_bytes`."""
        body = SynthesisRequest(text=text, format=fmt)
        request = self._service.http.build_request(
            "POST",
            "/api/v1/voice/synthesize",
            content=body.model_dump_json(exclude_none=True),
            headers={**_CALLER, "Content-Type": "application/json"},
            timeout=SYNTHESIZE_TIMEOUT,
        )
        try:
            response = await self._service.http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise VoiceServiceDown(f"voice-service is unreachable ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"voice-service failed ({type(exc).__name__})") from exc
        try:
            if response.status_code != 200:
                await response.aread()
                raise peer_error("voice-service", response)
            audio = bytearray()
            async for chunk in response.aiter_bytes():
                audio += chunk
                if len(audio) > max_bytes:
                    raise NovaError(f"the spoken reply is over {max_bytes} bytes")
            return bytes(audio)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"voice-service stream failed ({type(exc).__name__})") from exc
        finally:
            await response.aclose()

    async def is_live(self) -> bool:
        try:
            response = await self._service.http.get("/health/live", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
