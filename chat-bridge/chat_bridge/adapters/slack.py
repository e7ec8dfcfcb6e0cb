"""Slack on slack-bolt: app mentions and direct messages answered in thread, and the `/nova` slash command.

Transport: Socket Mode when an app-level token (`xapp-…`) is configured, otherwise the Events API over HTTP at
`POST /slack/events`, where bolt checks Slack's request signature with the signing secret.
A mention starts a conversation per thread; a direct-message channel is one conversation; `/nova` keeps one
per user and channel. `new` (or `reset`) in any of them starts afresh. An audio clip (or audio file) in a DM or
a mention is looked up with `files.info`, downloaded from `url_private_download` with the bot token, heard by
voice-service and answered like text; `voice on` in a channel or DM also answers with a spoken MP3, uploaded
in the thread with `files_upload_v2` (the app needs the files:read and files:write scopes for these).
Only allowed workspaces and channels
are served (`slack.allowed_team_ids` / `slack.allowed_channel_ids`); any other channel is told once how its
owner can allow it, and nothing sent there reaches Nova.
"""

import re
import time
from typing import Any

import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from chat_bridge.adapters.base import NON_TEXT, NOT_ALLOWED, PlatformAdapter
from chat_bridge.conversations import Conversations
from chat_bridge.formatting import SLACK_MESSAGE_LIMIT, split_message, to_slack_mrkdwn
from chat_bridge.platform_settings import PlatformSettings, SlackConfig
from chat_bridge.voice_notes import AudioClip, VoiceNotes, VoiceProblem, echo
from nova_common.errors import BadRequest, NotFound, Unauthorized
from nova_contracts.voice import AudioFormat

log = structlog.get_logger("chat_bridge.slack")

PLATFORM = "slack"
RESET_WORDS = frozenset({"new", "reset", "/new"})
HELP = (
    "Hi, I'm Nova. Mention me in a channel or send me a direct message and I'll answer in the thread.\n"
    "• `/nova <question>` asks me from anywhere\n"
    "• `/nova new` (or `new` in a thread or DM) starts a fresh conversation\n"
    "• `/nova status` checks the connection\n"
    "• send an audio clip and I'll answer it; `voice on` (or `/nova voice on`) adds spoken replies in threads"
)
VOICE_WORD = "voice"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
# Message subtypes that are edits, deletions, joins… rather than someone talking to the bot.
_ANSWERABLE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
# Slack's own replay window: a signed request older than this is refused (bolt applies the same rule).
MAX_REQUEST_AGE_SECONDS = 300
SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"


def _is_audio(file: dict[str, Any]) -> bool:
    # Clips recorded in Slack are `slack_audio` (audio/webm on desktop, audio/mp4 on mobile).
    return file.get("subtype") == "slack_audio" or str(file.get("mimetype", "")).startswith("audio/")


def _maybe_audio(file: dict[str, Any]) -> bool:
    """Events may carry a partial file object (`file_access: check_file_info`): files.info tells."""
    return _is_audio(file) or file.get("file_access") == "check_file_info"


def refusal(team_id: str | None, channel_id: str | None) -> str:
    """The one reply a channel that is not allowed gets: what its owner sets to allow it, with the ids."""
    team = (
        f" (or the workspace id {team_id} to slack.allowed_team_ids / SLACK_ALLOWED_TEAM_IDS, to allow every "
        "channel of it)"
        if team_id
        else ""
    )
    return (
        f"{NOT_ALLOWED}\n\nIf you are its owner: add this channel's id {channel_id} to the setting "
        f"slack.allowed_channel_ids (dashboard, Settings) or to SLACK_ALLOWED_CHANNEL_IDS in .env{team}, "
        "then write again."
    )


class SlackAdapter(PlatformAdapter):
    platform_name = PLATFORM

    def __init__(
        self,
        config: SlackConfig,
        *,
        conversations: Conversations,
        platform_settings: PlatformSettings,
        voice: VoiceNotes,
    ) -> None:
        super().__init__()
        self.config = config
        self.conversations = conversations
        self.voice = voice
        self.platform_settings = platform_settings
        self._app: AsyncApp | None = None
        self._http: AsyncSlackRequestHandler | None = None
        self._socket: AsyncSocketModeHandler | None = None

    def is_configured(self) -> bool:
        return bool(self.config.bot_token and (self.config.app_token or self.config.signing_secret))

    @property
    def mode(self) -> str:
        return "socket" if self.config.app_token else "events-api"

    def secrets(self) -> list[str]:
        return [self.config.bot_token, self.config.app_token, self.config.signing_secret]

    async def _start(self) -> None:
        client = AsyncWebClient(token=self.config.bot_token, base_url=self.config.api_url)
        identity = await client.auth_test()  # an invalid token fails here, not at the first message
        app = AsyncApp(
            signing_secret=self.config.signing_secret,
            client=client,
            request_verification_enabled=bool(self.config.signing_secret),
        )
        app.event("app_mention")(self._on_mention)
        app.event("message")(self._on_message)
        app.event("file_shared")(self._on_file_shared)
        app.command("/nova")(self._on_command)
        app.error(self._on_error)
        self._app = app
        if self.config.app_token:
            self._socket = AsyncSocketModeHandler(app, self.config.app_token)
            await self._socket.connect_async()
        else:
            self._http = AsyncSlackRequestHandler(app)
        log.info("slack_started", mode=self.mode, team=identity.get("team"), bot_user=identity.get("user_id"))

    async def _stop(self) -> None:
        socket, self._socket, self._http, self._app = self._socket, None, None, None
        if socket is not None:
            await socket.close_async()

    async def handle_http(self, request: Request) -> Response:
        """An Events API or slash-command request Slack posted to `POST /slack/events`."""
        if self._http is None:
            raise NotFound("the Slack Events API endpoint is not active")
        await self._verify_signature(request)
        try:
            return await self._http.handle(request)
        except ValueError as exc:  # bolt parses the body as it is declared: malformed JSON or form data
            raise BadRequest(f"not a Slack request body ({type(exc).__name__})") from exc

    async def _verify_signature(self, request: Request) -> None:
        """Slack's signature, checked before bolt parses anything; the headers and their age before even
        the body is read (the kit caps how much of it that may be)."""
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise Unauthorized(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
        try:
            age = abs(time.time() - int(timestamp))
        except (ValueError, OverflowError):  # not a number, or too large to compare with the clock
            raise Unauthorized(f"{TIMESTAMP_HEADER} is not a Unix time") from None
        if age > MAX_REQUEST_AGE_SECONDS:
            raise Unauthorized(f"{TIMESTAMP_HEADER} is more than {MAX_REQUEST_AGE_SECONDS}s away from now")
        verifier = SignatureVerifier(self.config.signing_secret)
        if not verifier.is_valid(await request.body(), timestamp, signature):
            raise Unauthorized("invalid Slack signature")

    # Listeners.

    async def _allowed(self, team_id: str | None, channel_id: str | None, user_id: str | None) -> bool:
        config = (await self.platform_settings.current()).slack
        if config.allows(team_id, channel_id):
            return True
        log.warning("slack_refused", team_id=team_id, channel_id=channel_id, user_id=user_id)
        return False

    async def _refuse_once(
        self, client: AsyncWebClient, team: str | None, channel: str, thread_ts: str
    ) -> None:
        if await self.conversations.refusal_due(PLATFORM, f"{team}:{channel}"):
            await self._post(client, channel, thread_ts, refusal(team, channel))

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        team = body.get("team_id") or event.get("team")
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        text = _MENTION.sub("", event.get("text") or "").strip()
        platform_id = f"{team}:{channel}:{thread_ts}"
        clips = [f for f in event.get("files") or [] if _maybe_audio(f)]
        if clips and not text:
            await self._converse_by_voice(
                client, team, channel, thread_ts, event.get("user"), platform_id, clips
            )
            return
        await self._converse(client, team, channel, thread_ts, event.get("user"), platform_id, text)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        # Channel messages reach the bot as app_mention; here only direct messages from people.
        if (
            event.get("channel_type") != "im"
            or event.get("bot_id")
            or event.get("subtype") not in _ANSWERABLE_SUBTYPES
        ):
            return
        team = body.get("team_id") or event.get("team")
        channel = event["channel"]
        thread_ts = event.get("thread_ts") or event["ts"]
        text = (event.get("text") or "").strip()
        clips = [f for f in event.get("files") or [] if _maybe_audio(f)]
        if clips and not text:
            await self._converse_by_voice(
                client, team, channel, thread_ts, event.get("user"), f"{team}:{channel}", clips
            )
            return
        if not text:
            if await self._allowed(team, channel, event.get("user")):
                await self._post(client, channel, thread_ts, NON_TEXT)
            else:
                await self._refuse_once(client, team, channel, thread_ts)
            return
        await self._converse(client, team, channel, thread_ts, event.get("user"), f"{team}:{channel}", text)

    async def _converse(
        self,
        client: AsyncWebClient,
        team: str | None,
        channel: str,
        thread_ts: str,
        user: str | None,
        platform_id: str,
        text: str,
    ) -> None:
        if not await self._allowed(team, channel, user):
            await self._refuse_once(client, team, channel, thread_ts)
            return
        answer, reply = await self._answer(platform_id, f"{team}:{channel}", text)
        await self._post(client, channel, thread_ts, answer)
        if reply is not None:
            await self._speak_if_wanted(client, team, channel, thread_ts, reply)

    async def _converse_by_voice(
        self,
        client: AsyncWebClient,
        team: str | None,
        channel: str,
        thread_ts: str,
        user: str | None,
        platform_id: str,
        clips: list[dict[str, Any]],
    ) -> None:
        if not await self._allowed(team, channel, user):
            await self._refuse_once(client, team, channel, thread_ts)
            return
        try:
            text = await self.voice.hear(await self._fetch_clip(client, clips[0]))
        except VoiceProblem as exc:
            await self._post(client, channel, thread_ts, exc.detail)
            return
        await self._post(client, channel, thread_ts, echo(text))
        reply = await self.conversations.ask(PLATFORM, platform_id, text)
        answer = to_slack_mrkdwn(reply.text)
        await self._post(client, channel, thread_ts, answer)
        await self._speak_if_wanted(client, team, channel, thread_ts, reply.text)

    async def _fetch_clip(self, client: AsyncWebClient, partial: dict[str, Any]) -> AudioClip:
        """files.info for the whole file object, then its private download URL with the bot token."""
        self.voice.check_size(partial.get("size"))
        try:
            file = (await client.files_info(file=partial["id"]))["file"]
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            log.warning("slack_files_info_failed", error=error)
            raise VoiceProblem(f"I couldn't read that audio clip (Slack said: {error}).") from exc
        if not _is_audio(file):
            raise VoiceProblem(NON_TEXT)
        self.voice.check_size(file.get("size"))
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            raise VoiceProblem("Slack gave me no way to download that audio clip.")
        data = await self.voice.download(url, headers={"Authorization": f"Bearer {self.config.bot_token}"})
        return AudioClip(
            data=data,
            filename=file.get("name") or f"{file['id']}.{file.get('filetype') or 'webm'}",
            media_type=file.get("mimetype") or "application/octet-stream",
        )

    async def _speak_if_wanted(
        self, client: AsyncWebClient, team: str | None, channel: str, thread_ts: str, reply: str
    ) -> None:
        if not await self.voice.replies_wanted(PLATFORM, f"{team}:{channel}"):
            return
        try:
            # MP3: what Slack plays inline on every client.
            audio = await self.voice.speak(reply, AudioFormat.MP3)
        except VoiceProblem as exc:
            await self._post(client, channel, thread_ts, exc.detail)
            return
        try:
            await client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file=audio,
                filename="nova-reply.mp3",
                title="Nova's reply, spoken",
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            log.warning("slack_voice_upload_failed", error=error)
            await self._post(
                client, channel, thread_ts, f"(No voice reply: Slack refused the upload: {error}.)"
            )

    async def _answer(self, platform_id: str, chat: str, text: str) -> tuple[str, str | None]:
        """The answer to `text` in mrkdwn, and Nova's reply as written when it is one (to be spoken; a
        command's answer is not)."""
        word = text.lower()
        if not text or word == "help":
            return HELP, None
        first, _, rest = word.partition(" ")
        if first == VOICE_WORD and rest.strip() in ("", "on", "off"):  # "voice mail?" is a question
            return await self.voice.command(PLATFORM, chat, rest.strip() or None, how="`voice`"), None
        if word in RESET_WORDS:
            had = await self.conversations.reset(PLATFORM, platform_id)
            return ("Started a fresh conversation." if had else "This is already a fresh conversation."), None
        if word == "status":
            reachable = await self.conversations.orchestrator_reachable()
            state = "Nova is online." if reachable else "Nova can't be reached right now."
            return f"{state}\n{await self.conversations.describe(PLATFORM, platform_id)}", None
        reply = await self.conversations.ask(PLATFORM, platform_id, text)
        return to_slack_mrkdwn(reply.text), reply.text

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        # Slack wants the acknowledgement within 3 seconds; the answer follows through response_url.
        await ack()
        team, channel, user = command.get("team_id"), command.get("channel_id"), command.get("user_id")
        if not await self._allowed(team, channel, user):
            # Only the person who typed the command sees this, so it is answered every time.
            await respond(text=refusal(team, channel), response_type="ephemeral")
            return
        text = (command.get("text") or "").strip()
        # Answers through response_url carry no files: `/nova` replies stay in text, `voice on` applies to
        # the channel's threads and DMs.
        answer, reply = await self._answer(f"{team}:{channel}:{user}", f"{team}:{channel}", text)
        visible = "in_channel" if reply is not None else "ephemeral"
        for part in split_message(answer, SLACK_MESSAGE_LIMIT):
            await respond(text=part, response_type=visible)

    async def _on_file_shared(self, event: dict[str, Any]) -> None:
        # The same clip also arrives as a message (subtype file_share) or a mention, which carries the thread
        # to answer in; answering here as well would answer it twice.
        log.debug("slack_file_shared", file_id=event.get("file_id"), channel=event.get("channel_id"))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "slack_listener_failed", error=repr(error), event_type=(body.get("event") or {}).get("type")
        )

    async def _post(self, client: AsyncWebClient, channel: str, thread_ts: str, text: str) -> None:
        for part in split_message(text, SLACK_MESSAGE_LIMIT):
            await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=part, mrkdwn=True)
