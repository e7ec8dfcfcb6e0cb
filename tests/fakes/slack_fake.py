"""A fake Slack on loopback: the Web API slack_sdk calls, slash-command response URLs, Socket Mode, and
Events API requests signed exactly as Slack signs them.

Web API methods answer `{"ok": …}` JSON and check the bot token in the `Authorization` header
(`invalid_auth` otherwise). `apps.connections.open` hands out a WebSocket URL of this server, where
envelopes are pushed to a Socket Mode client and its acknowledgements collected.

Files as Slack serves them: `files.info` answers the whole file object, whose `url_private_download` gives
the bytes only with the bot token (without it, Slack's sign-in page, 200 text/html, as the real one does);
uploads follow the `files_upload_v2` flow: `files.getUploadURLExternal`, a POST of the bytes to the upload
URL, then `files.completeUploadExternal` sharing them into a channel or thread.
"""

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TEAM_ID = "T0NOVA"
BOT_USER_ID = "U0NOVABOT"
BOT_ID = "B0NOVABOT"


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(signing_secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class PostedMessage:
    channel: str
    text: str
    thread_ts: str | None


@dataclass
class SharedFile:
    """A file the app uploaded and shared with files.completeUploadExternal."""

    channel: str
    thread_ts: str | None
    filename: str
    title: str
    data: bytes


@dataclass
class FakeSlack:
    bot_token: str
    app_token: str = ""
    url: str = ""  # set once served, for response_url and Socket Mode URLs
    posted: list[PostedMessage] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # bodies posted to response_url
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    shared_files: list[SharedFile] = field(default_factory=list)
    file_downloads: list[str] = field(default_factory=list)  # file ids fetched with the bot token
    files_info_calls: list[str] = field(default_factory=list)
    _files: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    _uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # file id -> {filename, length, data}
    _ts: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sockets: list[WebSocket] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._web_api, methods=["POST", "GET"]),
                Route("/respond/{hook}", self._response_url, methods=["POST"]),
                Route("/files-pri/{ref}/download/{name}", self._download, methods=["GET"]),
                Route("/upload/v1/{file_id}", self._upload, methods=["POST"]),
                WebSocketRoute("/socket", self._socket_mode),
            ]
        )

    # What a test builds and sends.

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def event_body(self, event: dict[str, Any], *, team_id: str = TEAM_ID) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": team_id,
            "api_app_id": "A0NOVA",
            "event": {"event_ts": event.get("ts", self.next_ts()), **event},
            "type": "event_callback",
            "event_id": f"Ev{next(self._ts):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True}],
        }

    def mention(
        self,
        text: str,
        *,
        channel: str = "C0GENERAL",
        user: str = "U0ADA",
        team_id: str = TEAM_ID,
        **extra: Any,
    ) -> dict:
        ts = self.next_ts()
        event = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": ts,
            "channel": channel,
            **extra,
        }
        return self.event_body({**event, "team": team_id}, team_id=team_id)

    def direct_message(self, text: str, *, channel: str = "D0ADA", user: str = "U0ADA", **extra: Any) -> dict:
        ts = self.next_ts()
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
        }
        return self.event_body({**event, "team": TEAM_ID, **extra})

    def add_file(
        self,
        data: bytes,
        *,
        name: str = "audio_message.webm",
        mimetype: str = "audio/webm",
        filetype: str = "webm",
        subtype: str | None = "slack_audio",
        declared_size: int | None = None,
    ) -> dict[str, Any]:
        """A file in the workspace (an audio clip recorded in Slack by default); returns its whole object."""
        file_id = f"F{next(self._ts):08d}"
        file: dict[str, Any] = {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "user": "U0ADA",
            "size": len(data) if declared_size is None else declared_size,
            "mode": "hosted",
            "is_external": False,
            "url_private": f"{self.url}/files-pri/{TEAM_ID}-{file_id}/{name}",
            "url_private_download": f"{self.url}/files-pri/{TEAM_ID}-{file_id}/download/{name}",
        }
        if subtype:
            file["subtype"] = subtype
            file["media_display_type"] = "audio"
        with self._lock:
            self._files[file_id] = (file, data)
        return file

    @staticmethod
    def partial(file: dict[str, Any]) -> dict[str, Any]:
        """The file as some events carry it: only its id, and a hint to call files.info."""
        return {"id": file["id"], "mode": "hosted", "file_access": "check_file_info"}

    def slash_command(
        self, text: str, *, channel: str = "C0GENERAL", user: str = "U0ADA", team_id: str = TEAM_ID
    ) -> bytes:
        """The form body Slack posts for `/nova <text>`, with a response_url on this fake."""
        hook = f"hook-{next(self._ts)}"
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": team_id,
                "team_domain": "nova",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": "ada",
                "command": "/nova",
                "text": text,
                "api_app_id": "A0NOVA",
                "response_url": f"{self.url}/respond/{hook}",
                "trigger_id": f"trigger-{hook}",
            }
        ).encode()

    def deliver(
        self, target_url: str, body: bytes, signing_secret: str, *, form: bool = False
    ) -> httpx.Response:
        """POST a signed request to the app's Events API endpoint, as Slack does."""
        content_type = "application/x-www-form-urlencoded" if form else "application/json"
        headers = {"Content-Type": content_type, **sign(signing_secret, body)}
        return httpx.post(target_url, content=body, headers=headers, timeout=10)

    def push_socket_event(self, body: dict[str, Any], *, kind: str = "events_api") -> str:
        """Send an envelope to the connected Socket Mode client; returns its envelope id."""
        assert self._loop is not None and self._sockets, "no Socket Mode client connected"
        envelope_id = f"env-{next(self._ts)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": body,
            "accepts_response_payload": False,
        }
        future = asyncio.run_coroutine_threadsafe(
            self._sockets[-1].send_text(json.dumps(envelope)), self._loop
        )
        future.result(timeout=5)
        return envelope_id

    def replies_in(self, channel: str, thread_ts: str | None = None) -> list[PostedMessage]:
        with self._lock:
            return [
                m
                for m in self.posted
                if m.channel == channel and (thread_ts is None or m.thread_ts == thread_ts)
            ]

    # Slack's side.

    async def _web_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or params.get(
            "token", ""
        )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return JSONResponse(
                {
                    "ok": True,
                    "url": "https://nova-test.slack.com/",
                    "team": "Nova Test",
                    "user": "nova",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "is_enterprise_install": False,
                }
            )
        if method == "chat.postMessage":
            if not params.get("channel"):
                return JSONResponse({"ok": False, "error": "channel_not_found"})
            ts = self.next_ts()
            with self._lock:
                self.posted.append(
                    PostedMessage(params["channel"], params.get("text", ""), params.get("thread_ts"))
                )
            message = {
                "type": "message",
                "text": params.get("text", ""),
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "ts": ts,
            }
            return JSONResponse({"ok": True, "channel": params["channel"], "ts": ts, "message": message})
        if method == "files.info":
            file_id = str(params.get("file", ""))
            with self._lock:
                self.files_info_calls.append(file_id)
                found = self._files.get(file_id)
            if found is None:
                return JSONResponse({"ok": False, "error": "file_not_found"})
            return JSONResponse({"ok": True, "file": found[0], "comments": [], "response_metadata": {}})
        if method == "files.getUploadURLExternal":
            if not params.get("filename") or not str(params.get("length", "")).isdigit():
                return JSONResponse({"ok": False, "error": "invalid_arguments"})
            file_id = f"F{next(self._ts):08d}"
            with self._lock:
                self._uploads[file_id] = {"filename": params["filename"], "length": int(params["length"])}
            return JSONResponse(
                {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}
            )
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        if method == "apps.connections.open":
            return JSONResponse({"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"})
        return JSONResponse({"ok": False, "error": "unknown_method"})

    def _complete_upload(self, params: dict[str, Any]) -> Response:
        files = json.loads(params.get("files") or "[]")
        channel = params.get("channel_id")
        shared: list[dict[str, Any]] = []
        with self._lock:
            for item in files:
                upload = self._uploads.pop(item.get("id", ""), None)
                if upload is None or "data" not in upload:
                    return JSONResponse({"ok": False, "error": "file_not_found"})
                title = item.get("title") or upload["filename"]
                if channel:
                    self.shared_files.append(
                        SharedFile(
                            channel, params.get("thread_ts"), upload["filename"], title, upload["data"]
                        )
                    )
                shared.append({"id": item["id"], "name": upload["filename"], "title": title})
        return JSONResponse({"ok": True, "files": shared})

    async def _download(self, request: Request) -> Response:
        file_id = request.path_params["ref"].removeprefix(f"{TEAM_ID}-")
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token != self.bot_token:
            # Slack answers a request without a valid token with its sign-in page, not an error status.
            return Response(
                "<!DOCTYPE html><html><body>Sign in to Slack</body></html>", media_type="text/html"
            )
        with self._lock:
            found = self._files.get(file_id)
            if found is not None:
                self.file_downloads.append(file_id)
        if found is None:
            return Response("Not Found", status_code=404)
        return Response(found[1], media_type=found[0]["mimetype"])

    async def _upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        data = await request.body()
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None:
                return Response("invalid upload", status_code=404)
            if len(data) != upload["length"]:
                return Response(f"length mismatch: {len(data)} != {upload['length']}", status_code=400)
            upload["data"] = data
        return Response(f"OK - {len(data)}")

    async def _response_url(self, request: Request) -> Response:
        with self._lock:
            self.responses.append({"hook": request.path_params["hook"], **(await request.json())})
        return Response("ok")

    async def _socket_mode(self, ws: WebSocket) -> None:
        await ws.accept()
        self._loop = asyncio.get_running_loop()
        self._sockets.append(ws)
        await ws.send_text(
            json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        )
        try:
            while True:
                ack = json.loads(await ws.receive_text())
                with self._lock:
                    self.socket_acks.append(ack)
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.remove(ws)


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    if request.headers.get("content-type", "").startswith("application/json"):
        params.update(json.loads(body))
    else:
        params.update({k: v[0] for k, v in parse_qs(body.decode()).items()})
    return params
