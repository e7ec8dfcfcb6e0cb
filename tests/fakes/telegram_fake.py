"""A fake Telegram Bot API on loopback, speaking the real wire format, for python-telegram-bot to talk to.

Serves `/bot<token>/<method>` like api.telegram.org: form-encoded or JSON parameters in, `{"ok": …,
"result": …}` out, `getUpdates` long polling with offsets, webhooks (it POSTs updates with the
`X-Telegram-Bot-Api-Secret-Token` header, as Telegram does), and `sendMessage` refusing badly formed
legacy Markdown with Telegram's own "can't parse entities" error. Files: `getFile` answers a `file_path`
served under `/file/bot<token>/<file_path>` (refusing files past the Bot API's 20 MB download limit, as
Telegram does), and `sendVoice` takes the multipart upload a voice note is. Tests push updates in and read
what the bot sent out.
"""

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Nova", "username": "nova_test_bot"}
MESSAGE_LIMIT = 4096
# The Bot API's getFile refuses files larger than this ("file is too big").
DOWNLOAD_LIMIT = 20 * 1024 * 1024


def markdown_error(text: str) -> str | None:
    """Telegram's legacy-Markdown check: every `*`, `_`, `` ` ``, ``` and `[…](…)` entity must be closed."""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            i += 2
            continue
        start = i
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            step = 3
        elif char in "*_`":
            end = text.find(char, i + 1)
            step = 1
        elif char == "[":
            close = text.find("](", i)
            end = text.find(")", close) if close != -1 else -1
            step = 1
        else:
            i += 1
            continue
        if end == -1:
            offset = len(text[:start].encode())
            return f"Bad Request: can't parse entities: Can't find end of the entity starting at byte offset {offset}"
        i = end + step
    return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class SentMessage:
    chat_id: int
    text: str
    parse_mode: str | None
    reply_to_message_id: int | None = None


@dataclass
class SentVoice:
    chat_id: int
    data: bytes
    filename: str
    content_type: str


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class FakeTelegram:
    token: str
    sent: list[SentMessage] = field(default_factory=list)
    chat_actions: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (method, description)
    webhook: dict[str, Any] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    get_updates_calls: int = 0
    voices: list[SentVoice] = field(default_factory=list)
    file_downloads: list[str] = field(default_factory=list)  # file paths fetched from the file endpoint
    _files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, data)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _message_ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # What a test does.

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (polling mode)."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
        return update

    def post_to_webhook(
        self, update: dict[str, Any], *, secret: str | None = "use-registered"
    ) -> httpx.Response:
        """Deliver an update the way Telegram does in webhook mode: POST to the registered URL."""
        assert self.webhook.get("url"), "no webhook registered"
        update = {"update_id": next(self._update_ids), **update}
        token = self.webhook.get("secret_token") if secret == "use-registered" else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        return httpx.post(self.webhook["url"], json=update, headers=headers, timeout=10)

    def text_update(
        self, text: str, *, chat_id: int = 111, user_id: int = 111, chat_type: str = "private"
    ) -> dict:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": chat_type,
                **({"first_name": "Ada"} if chat_type == "private" else {"title": "Team"}),
            },
            "from": {"id": user_id, "is_bot": False, "first_name": "Ada", "username": f"user{user_id}"},
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": message}

    def photo_update(self, *, chat_id: int = 111, user_id: int = 111) -> dict[str, Any]:
        return {
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Ada"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Ada"},
                "photo": [{"file_id": "photo-1", "file_unique_id": "u-photo-1", "width": 90, "height": 90}],
            }
        }

    def voice_update(
        self,
        audio: bytes,
        *,
        chat_id: int = 111,
        user_id: int = 111,
        kind: str = "voice",
        mime_type: str = "audio/ogg",
        declared_size: int | None = -1,
        duration: int = 2,
    ) -> dict[str, Any]:
        """A voice note (`kind="voice"`) or an audio file (`"audio"`) whose bytes getFile will serve.
        `declared_size` is the `file_size` the message claims (-1: the real size; None: left out)."""
        number = next(self._message_ids)
        file_id = f"{kind}-file-{number}"
        extension = {"audio/ogg": "oga", "audio/mpeg": "mp3", "audio/mp4": "m4a"}.get(mime_type, "bin")
        with self._lock:
            self._files[file_id] = (f"{kind}/file_{number}.{extension}", audio)
        media: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "duration": duration,
            "mime_type": mime_type,
        }
        if declared_size is not None:
            media["file_size"] = len(audio) if declared_size == -1 else declared_size
        if kind == "audio":
            media["file_name"] = f"recording.{extension}"
        return {
            "message": {
                "message_id": number,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Ada"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Ada"},
                kind: media,
            }
        }

    def voices_to(self, chat_id: int) -> list[SentVoice]:
        with self._lock:
            return [v for v in self.voices if v.chat_id == chat_id]

    def unconfirmed(self) -> int:
        """Updates the bot has not confirmed yet: 0 once it fetched everything pushed (and asked for more)."""
        with self._lock:
            return len(self._updates)

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    # The Bot API.

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._dispatch, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
            ]
        )

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.path_params["file_path"]
        with self._lock:
            found = next((data for p, data in self._files.values() if p == path), None)
            if found is not None:
                self.file_downloads.append(path)
        if found is None:
            return _error(404, "Not Found")
        return Response(found, media_type="application/octet-stream")

    async def _dispatch(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        method = request.path_params["method"]
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = await handler(params)
        if isinstance(result, JSONResponse):
            return result
        return JSONResponse({"ok": True, "result": result})

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands = (
            json.loads(params.get("commands", "[]"))
            if isinstance(params.get("commands"), str)
            else params.get("commands", [])
        )
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token")}
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        self.get_updates_calls += 1
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                # Confirming an offset forgets every earlier update, as Telegram does.
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = list(self._updates)
            if ready or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.05)

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        with self._lock:
            found = self._files.get(str(params.get("file_id", "")))
        if found is None:
            return self._reject("getFile", "Bad Request: invalid file_id")
        path, data = found
        if len(data) > DOWNLOAD_LIMIT:
            return self._reject("getFile", "Bad Request: file is too big")
        file_id = str(params["file_id"])
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    async def _m_sendVoice(self, params: dict[str, Any]) -> Any:
        voice = params.get("voice")
        if not isinstance(voice, UploadedFile):
            return self._reject("sendVoice", "Bad Request: there is no voice in the request")
        chat_id = int(params["chat_id"])
        with self._lock:
            self.voices.append(SentVoice(chat_id, voice.data, voice.filename, voice.content_type))
        file_id = f"sent-voice-{next(self._message_ids)}"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            "voice": {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "duration": 1,
                "mime_type": "audio/ogg",
                "file_size": len(voice.data),
            },
        }

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        with self._lock:
            self.chat_actions.append((int(params["chat_id"]), str(params.get("action"))))
        return True

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        text = str(params.get("text", ""))
        parse_mode = params.get("parse_mode")
        if not text.strip():
            return self._reject("sendMessage", "Bad Request: message text is empty")
        if _utf16_len(text) > MESSAGE_LIMIT:
            return self._reject("sendMessage", "Bad Request: message is too long")
        if parse_mode == "Markdown" and (problem := markdown_error(text)):
            return self._reject("sendMessage", problem)
        chat_id = int(params["chat_id"])
        message_id = next(self._message_ids)
        with self._lock:
            self.sent.append(SentMessage(chat_id, text, parse_mode, params.get("reply_to_message_id")))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER,
            "text": text,
        }

    def _reject(self, method: str, description: str) -> JSONResponse:
        with self._lock:
            self.rejected.append((method, description))
        return _error(400, description)


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=code)


async def _params(request: Request) -> dict[str, Any]:
    """Bot API parameters from the query string, a JSON body, or a form body (what python-telegram-bot sends);
    a multipart upload's file parts arrive as `UploadedFile`."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            params.update(await request.json())
        else:
            async with request.form() as form:
                for key, value in form.items():
                    if isinstance(value, UploadFile):
                        data = await value.read()
                        params[key] = UploadedFile(value.filename or "", value.content_type or "", data)
                    else:
                        params[key] = value
    return params
