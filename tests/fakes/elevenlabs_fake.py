"""A fake ElevenLabs: text-to-speech streaming, Scribe speech-to-text and the voice list, with `xi-api-key` auth."""

from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .openai_audio_fake import chunked, sample_audio

VOICES = [
    {"voice_id": "JBFqnCBsd6RMkjVDRZzb", "name": "George", "labels": {"language": "en"}},
    {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "labels": {"language": "en"}},
]


class FakeElevenLabs:
    def __init__(self, *, api_key: str, transcript: str = "hello from the fake scribe") -> None:
        self.api_key = api_key
        self.transcript = transcript
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/text-to-speech/{voice_id}/stream", self.speak, methods=["POST"]),
                Route("/v1/speech-to-text", self.scribe, methods=["POST"]),
                Route("/v1/voices", self.voices, methods=["GET"]),
            ]
        )

    def _refused(self, request: Request) -> JSONResponse | None:
        if request.headers.get("xi-api-key") == self.api_key:
            return None
        detail = {"status": "invalid_api_key", "message": "Invalid API key"}
        return JSONResponse({"detail": detail}, status_code=401)

    async def speak(self, request: Request) -> Response:
        body = await request.json()
        voice_id = request.path_params["voice_id"]
        params = dict(request.query_params)
        self.requests.append({"path": request.url.path, "voice_id": voice_id, "params": params, "json": body})
        if refused := self._refused(request):
            return refused
        if voice_id not in {v["voice_id"] for v in VOICES}:
            detail = {
                "status": "voice_not_found",
                "message": f"A voice with voice_id {voice_id} was not found.",
            }
            return JSONResponse({"detail": detail}, status_code=404)
        output = params.get("output_format", "mp3_44100_128")
        fmt = output.split("_")[0]
        media = {"mp3": "audio/mpeg", "opus": "audio/ogg", "pcm": "application/octet-stream"}[fmt]
        return StreamingResponse(chunked(sample_audio(fmt, body.get("text", ""))), media_type=media)

    async def scribe(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        audio = await upload.read() if isinstance(upload, UploadFile) else b""
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        self.requests.append({"path": request.url.path, "fields": fields, "audio": audio})
        if refused := self._refused(request):
            return refused
        words: list[dict[str, Any]] = []
        for i, word in enumerate(self.transcript.split()):
            if i:
                words.append(
                    {"text": " ", "start": i * 0.3, "end": i * 0.3, "type": "spacing", "logprob": 0.0}
                )
            words.append(
                {"text": word, "start": i * 0.3, "end": i * 0.3 + 0.25, "type": "word", "logprob": -0.05}
            )
        return JSONResponse(
            {
                "language_code": fields.get("language_code", "eng"),
                "language_probability": 0.98,
                "text": self.transcript,
                "words": words,
            }
        )

    async def voices(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        return JSONResponse({"voices": VOICES})
