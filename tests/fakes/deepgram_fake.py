"""A fake Deepgram: `/v1/listen` (prerecorded: raw audio body, JSON answer) and `/v1/speak` (Aura, streamed audio).

Auth as Deepgram does it: `Authorization: Token <key>`; a wrong key gets Deepgram's 401 body.
"""

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .openai_audio_fake import chunked, sample_audio


class FakeDeepgram:
    def __init__(self, *, api_key: str, transcript: str = "hello from the fake deepgram") -> None:
        self.api_key = api_key
        self.transcript = transcript
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/listen", self.listen, methods=["POST"]),
                Route("/v1/speak", self.speak, methods=["POST"]),
            ]
        )

    def _refused(self, request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") == f"Token {self.api_key}":
            return None
        body = {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "fake"}
        return JSONResponse(body, status_code=401)

    async def listen(self, request: Request) -> Response:
        audio = await request.body()
        self.requests.append(
            {
                "path": request.url.path,
                "params": dict(request.query_params),
                "content_type": request.headers.get("content-type"),
                "audio": audio,
            }
        )
        if refused := self._refused(request):
            return refused
        words = [
            {"word": w, "start": i * 0.3, "end": i * 0.3 + 0.25, "confidence": 0.97}
            for i, w in enumerate(self.transcript.split())
        ]
        channel: dict[str, Any] = {
            "alternatives": [{"transcript": self.transcript, "confidence": 0.97, "words": words}]
        }
        if request.query_params.get("detect_language") == "true":
            channel["detected_language"] = "en"
        return JSONResponse(
            {
                "metadata": {"request_id": "fake", "duration": 1.0, "channels": 1},
                "results": {"channels": [channel]},
            }
        )

    async def speak(self, request: Request) -> Response:
        body = await request.json()
        params = dict(request.query_params)
        self.requests.append({"path": request.url.path, "params": params, "json": body})
        if refused := self._refused(request):
            return refused
        if not params.get("model", "").startswith("aura"):
            return JSONResponse(
                {
                    "err_code": "INVALID_QUERY_PARAMETER",
                    "err_msg": "No such model/version/tier combination found.",
                },
                status_code=400,
            )
        fmt = {"mp3": "mp3", "opus": "opus", "linear16": "wav"}[params.get("encoding", "mp3")]
        media = {"mp3": "audio/mpeg", "opus": "audio/ogg", "wav": "audio/wav"}[fmt]
        return StreamingResponse(chunked(sample_audio(fmt, body.get("text", ""))), media_type=media)
