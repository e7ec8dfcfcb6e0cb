"""A fake OpenAI audio API: `/v1/audio/transcriptions` (multipart) and `/v1/audio/speech` (streamed audio).

With `kokoro_voices` it also answers `/v1/audio/voices` as Kokoro-FastAPI does, so it stands in for an
OpenAI-compatible audio server as well.

fake = FakeOpenAIAudio(api_key="sk-test")
with serve_in_thread(fake.app) as live:  # base URL for clients: f"{live.url}/v1"
    ...
fake.requests  # what it was asked: path, headers, form fields or JSON body, audio size
"""

import io
import math
import struct
import wave
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# The first bytes of each format, so a client can tell the formats apart; the rest is filler.
_MAGIC = {
    "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "opus": b"OggS\x00\x02",
    "aac": b"\xff\xf1",
    "flac": b"fLaC",
}
CHUNK_BYTES = 4096


def tone_wav(seconds: float = 1.0, *, rate: int = 16_000, amplitude: float = 0.3) -> bytes:
    """A 440 Hz tone as a complete WAV file: loud enough to count as sound, not silence."""
    frames = int(seconds * rate)
    samples = (int(amplitude * 32767 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def sample_audio(fmt: str, text: str) -> bytes:
    """What a fake speaks for `text`: a real WAV for wav/pcm, format-tagged filler otherwise; longer text, more bytes."""
    seconds = max(0.5, len(text) / 15)
    if fmt in ("wav", "pcm"):
        audio = tone_wav(seconds, rate=22_050)
        return audio if fmt == "wav" else audio[44:]
    body = bytes((i * 7) % 251 for i in range(int(seconds * 4000)))
    return _MAGIC.get(fmt, b"") + body


def chunked(data: bytes) -> Any:
    async def gen() -> Any:
        for i in range(0, len(data), CHUNK_BYTES):
            yield data[i : i + CHUNK_BYTES]

    return gen()


class FakeOpenAIAudio:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        transcript: str = "hello from the fake transcriber",
        kokoro_voices: list[str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.transcript = transcript
        self.kokoro_voices = kokoro_voices
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/audio/transcriptions", self.transcriptions, methods=["POST"]),
                Route("/v1/audio/speech", self.speech, methods=["POST"]),
                Route("/v1/audio/voices", self.voices, methods=["GET"]),
            ]
        )

    def _refused(self, request: Request) -> JSONResponse | None:
        if self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        body = {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
        return JSONResponse(body, status_code=401)

    async def transcriptions(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("file")
        audio = await upload.read() if isinstance(upload, UploadFile) else b""
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        self.requests.append(
            {
                "path": request.url.path,
                "authorization": request.headers.get("authorization"),
                "fields": fields,
                "audio": audio,
                "filename": upload.filename if isinstance(upload, UploadFile) else None,
                "content_type": upload.content_type if isinstance(upload, UploadFile) else None,
            }
        )
        if refused := self._refused(request):
            return refused
        if not audio:
            return JSONResponse(
                {"error": {"message": "file is required", "type": "invalid_request_error"}}, 400
            )
        if fields.get("response_format") == "verbose_json":
            return JSONResponse(
                {
                    "task": "transcribe",
                    "language": "english",
                    "duration": 1.0,
                    "text": self.transcript,
                    "segments": [
                        {
                            "id": 0,
                            "seek": 0,
                            "start": 0.0,
                            "end": 1.0,
                            "text": self.transcript,
                            "tokens": [1, 2, 3],
                            "temperature": 0.0,
                            "avg_logprob": -0.1,
                            "compression_ratio": 1.0,
                            "no_speech_prob": 0.01,
                        }
                    ],
                }
            )
        return JSONResponse({"text": self.transcript})

    async def speech(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(
            {"path": request.url.path, "authorization": request.headers.get("authorization"), "json": body}
        )
        if refused := self._refused(request):
            return refused
        fmt = body.get("response_format", "mp3")
        media = {"mp3": "audio/mpeg", "opus": "audio/ogg", "wav": "audio/wav"}.get(
            fmt, "application/octet-stream"
        )
        return StreamingResponse(chunked(sample_audio(fmt, body.get("input", ""))), media_type=media)

    async def voices(self, request: Request) -> Response:
        if self.kokoro_voices is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return JSONResponse({"voices": self.kokoro_voices})
