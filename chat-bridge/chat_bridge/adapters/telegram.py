"""Telegram on python-telegram-bot: long polling by default, or a webhook at `POST /webhook/telegram`.

Commands: /start (and /help), /new (fresh session), /status, /voice on|off. Any other text goes to Nova; the
reply is sent in parts of at most 4,096 characters, as Markdown first and as plain text when Telegram refuses
the formatting. Voice messages and audio files are fetched with getFile, heard by voice-service and answered
like text (the transcript shown first); with /voice on each reply also comes as a voice note (OGG/Opus).
Only allowed chats are served (`telegram.allowed_chat_ids` / `telegram.allowed_user_ids`); any other chat is
told once how its owner can allow it, and nothing it sends reaches Nova.
"""

import asyncio
import contextlib
import hmac
import json
import re
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

import structlog
from starlette.requests import Request
from telegram import Audio, Bot, BotCommand, Document, Update, Voice
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest as TelegramBadRequest
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from chat_bridge.adapters.base import NON_TEXT, NOT_ALLOWED, PlatformAdapter
from chat_bridge.conversations import Conversations
from chat_bridge.formatting import split_message, to_telegram_markdown
from chat_bridge.platform_settings import PlatformSettings, TelegramConfig
from chat_bridge.voice_notes import AudioClip, VoiceNotes, VoiceProblem, echo
from nova_common.errors import BadRequest, Forbidden, NotFound
from nova_contracts.voice import AudioFormat

log = structlog.get_logger("chat_bridge.telegram")

PLATFORM = "telegram"
WEBHOOK_PATH = "/webhook/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Telegram shows "typing…" for 5 seconds after each chat action.
TYPING_REFRESH_SECONDS = 4.5
HELP = (
    "Hi, I'm Nova. Send me a message (typed or a voice message) and I'll answer.\n\n"
    "/new: start a fresh conversation\n"
    "/status: check the connection and this conversation\n"
    "/voice on or /voice off: also answer with voice notes\n"
    "/start: show this help"
)
BOT_COMMANDS = [
    BotCommand("new", "Start a fresh conversation"),
    BotCommand("status", "Check the connection"),
    BotCommand("voice", "Voice replies: on or off"),
    BotCommand("start", "Show help"),
]
_ESCAPED = re.compile(r"\\([_*`\[])")

Context = ContextTypes.DEFAULT_TYPE


def refusal(chat_id: int, user_id: int | None) -> str:
    """The one reply a chat that is not allowed gets: what its owner sets to allow it, with the ids."""
    user = (
        f" (or your user id {user_id} to telegram.allowed_user_ids / TELEGRAM_ALLOWED_USER_IDS, to allow you "
        "in any chat)"
        if user_id is not None
        else ""
    )
    return (
        f"{NOT_ALLOWED}\n\nIf you are its owner: add this chat's id {chat_id} to the setting "
        f"telegram.allowed_chat_ids (dashboard, Settings) or to TELEGRAM_ALLOWED_CHAT_IDS in .env{user}, "
        "then write again."
    )


class TelegramAdapter(PlatformAdapter):
    platform_name = PLATFORM

    def __init__(
        self,
        config: TelegramConfig,
        *,
        conversations: Conversations,
        platform_settings: PlatformSettings,
        voice: VoiceNotes,
        poll_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self.config = config
        self.conversations = conversations
        self.voice = voice
        self.platform_settings = platform_settings
        self.poll_timeout = poll_timeout
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None

    def is_configured(self) -> bool:
        return bool(self.config.bot_token)

    @property
    def mode(self) -> str:
        return "webhook" if self.config.webhook_url else "polling"

    def secrets(self) -> list[str]:
        return [self.config.bot_token, self.config.webhook_secret]

    async def _start(self) -> None:
        builder = (
            ApplicationBuilder()
            .token(self.config.bot_token)
            .base_url(self.config.api_url)
            .base_file_url(self.config.api_url.replace("/bot", "/file/bot"))
            # Different chats are answered concurrently; Conversations keeps each chat's turns in order.
            .concurrent_updates(64)
        )
        if self.config.webhook_url:
            builder = builder.updater(None)
        app = builder.build()
        app.add_handler(CommandHandler(["start", "help"], self._on_start))
        app.add_handler(CommandHandler("new", self._on_new))
        app.add_handler(CommandHandler("status", self._on_status))
        app.add_handler(CommandHandler("voice", self._on_voice_command))
        app.add_handler(MessageHandler(filters.COMMAND, self._on_unknown_command))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self._on_text))
        app.add_handler(
            MessageHandler(filters.VOICE | filters.AUDIO | filters.Document.AUDIO, self._on_voice_message)
        )
        app.add_handler(
            MessageHandler(filters.ALL & ~filters.TEXT & ~filters.StatusUpdate.ALL, self._on_non_text)
        )
        app.add_error_handler(self._on_error)
        self._app = app
        await app.initialize()  # getMe: an invalid token fails here
        with contextlib.suppress(TelegramError):
            await app.bot.set_my_commands(BOT_COMMANDS)
        if self.config.webhook_url:
            await app.bot.set_webhook(
                url=self.config.webhook_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=self.config.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            await app.bot.delete_webhook()
            if app.updater is None:  # built without one only in webhook mode
                raise RuntimeError("polling needs python-telegram-bot's updater")
            await app.updater.start_polling(
                timeout=timedelta(seconds=self.poll_timeout), allowed_updates=Update.ALL_TYPES
            )
        await app.start()
        log.info("telegram_started", mode=self.mode, bot=app.bot.username)

    async def _stop(self) -> None:
        app, self._app = self._app, None
        if app is None:
            return
        with contextlib.suppress(Exception):
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()

    async def handle_webhook(self, request: Request) -> None:
        """An update Telegram pushed to `POST /webhook/telegram`. The secret header, which proves it came
        from Telegram, is checked before the body is read: a forged delivery costs no parsing."""
        if self._app is None or self.mode != "webhook":
            raise NotFound("the Telegram webhook is not active")
        secret = request.headers.get(SECRET_HEADER)
        if secret is None or not hmac.compare_digest(secret.encode(), self.config.webhook_secret.encode()):
            raise Forbidden("wrong or missing Telegram secret token")
        try:
            payload = json.loads(await request.body())
        except (ValueError, RecursionError) as exc:  # not JSON, or nested deeper than the parser goes
            raise BadRequest("the body is not a JSON object") from exc
        if not isinstance(payload, dict):
            raise BadRequest("the body is not a JSON object")
        try:
            update = Update.de_json(payload, self._app.bot)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadRequest(f"not a Telegram update ({type(exc).__name__})") from exc
        await self._app.update_queue.put(update)

    # Handlers.

    async def _allowed(self, update: Update) -> bool:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None:
            return False
        config = (await self.platform_settings.current()).telegram
        if config.allows(str(user.id) if user else None, str(chat.id)):
            return True
        log.warning(
            "telegram_refused",
            chat_id=chat.id,
            user_id=user.id if user else None,
            username=user.username if user else None,
        )
        if await self.conversations.refusal_due(PLATFORM, str(chat.id)):
            await self._send(chat.id, refusal(chat.id, user.id if user else None), markdown=False)
        return False

    async def _on_start(self, update: Update, context: Context) -> None:
        if update.effective_chat and await self._allowed(update):
            await self._send(update.effective_chat.id, HELP, markdown=False)

    async def _on_new(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat and await self._allowed(update):
            had = await self.conversations.reset(PLATFORM, str(chat.id))
            text = "Started a fresh conversation." if had else "This is already a fresh conversation."
            await self._send(chat.id, text, markdown=False)

    async def _on_status(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat and await self._allowed(update):
            reachable = await self.conversations.orchestrator_reachable()
            state = "Nova is online." if reachable else "Nova can't be reached right now."
            session = await self.conversations.describe(PLATFORM, str(chat.id))
            await self._send(chat.id, f"{state}\n{session}", markdown=False)

    async def _on_voice_command(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat and await self._allowed(update):
            word = context.args[0] if context.args else None
            await self._send(
                chat.id, await self.voice.command(PLATFORM, str(chat.id), word, how="/voice"), False
            )

    async def _on_unknown_command(self, update: Update, context: Context) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat and message and await self._allowed(update):
            command = (message.text or "").split()[0]
            await self._send(
                chat.id, f"Unknown command {command}. Try /start, /new, /status or /voice.", markdown=False
            )

    async def _on_non_text(self, update: Update, context: Context) -> None:
        if update.effective_chat and update.effective_message and await self._allowed(update):
            await self._send(update.effective_chat.id, NON_TEXT, markdown=False)

    async def _on_text(self, update: Update, context: Context) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None or not message.text or not await self._allowed(update):
            return
        await self._answer(chat.id, message.text)

    async def _on_voice_message(self, update: Update, context: Context) -> None:
        chat, message = update.effective_chat, update.effective_message
        if chat is None or message is None or not await self._allowed(update):
            return
        media = message.voice or message.audio or message.document
        if media is None:
            return
        stop_typing = asyncio.Event()
        typing = asyncio.create_task(self._keep_typing(chat.id, stop_typing))
        try:
            text = await self.voice.hear(await self._fetch_clip(media))
        except VoiceProblem as exc:
            await self._send(chat.id, exc.detail, markdown=False)
            return
        finally:
            stop_typing.set()
            await typing
        await self._send(chat.id, echo(text), markdown=False)
        await self._answer(chat.id, text)

    async def _fetch_clip(self, media: Voice | Audio | Document) -> AudioClip:
        """The clip through getFile and the file endpoint; its declared size is checked before either."""
        self.voice.check_size(media.file_size)
        try:
            file = await media.get_file()
        except TelegramBadRequest as exc:  # "file is too big": the Bot API serves at most 20 MB
            log.info("telegram_get_file_refused", detail=str(exc))
            raise VoiceProblem(f"Telegram would not hand me that voice message ({exc.message}).") from exc
        self.voice.check_size(file.file_size)
        if not file.file_path:
            raise VoiceProblem("Telegram gave me no way to download that voice message.")
        data = await self.voice.download(file.file_path)
        name = getattr(media, "file_name", None) or PurePosixPath(file.file_path).name or "voice.ogg"
        return AudioClip(data=data, filename=name, media_type=media.mime_type or "audio/ogg")

    async def _answer(self, chat_id: int, text: str) -> None:
        """One turn: Nova's reply as text, and as a voice note too when the chat asked for them."""
        stop_typing = asyncio.Event()
        typing = asyncio.create_task(self._keep_typing(chat_id, stop_typing))
        try:
            reply = await self.conversations.ask(PLATFORM, str(chat_id), text)
        finally:
            stop_typing.set()
            await typing
        await self._send(chat_id, reply.text, markdown=reply.ok)
        if await self.voice.replies_wanted(PLATFORM, str(chat_id)):
            try:
                # sendVoice shows OGG/Opus as a playable voice note (other formats arrive as files).
                audio = await self.voice.speak(reply.text, AudioFormat.OPUS)
            except VoiceProblem as exc:
                await self._send(chat_id, exc.detail, markdown=False)
                return
            await self._bot().send_voice(chat_id, voice=audio, filename="nova-reply.ogg")

    async def _on_error(self, update: object, context: Context) -> None:
        log.error("telegram_handler_failed", error=repr(context.error))
        if isinstance(update, Update) and update.effective_chat:
            with contextlib.suppress(TelegramError):
                await self._send(
                    update.effective_chat.id, "Sorry, something went wrong. Please try again.", False
                )

    def _bot(self) -> Bot:
        if self._app is None:
            raise RuntimeError("the Telegram adapter is not running")
        return self._app.bot

    async def _keep_typing(self, chat_id: int, stop: asyncio.Event) -> None:
        bot = self._bot()
        while not stop.is_set():
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TYPING_REFRESH_SECONDS)

    async def _send(self, chat_id: int, text: str, markdown: bool = True) -> None:
        bot = self._bot()
        if not markdown:
            for part in split_message(text):
                await bot.send_message(chat_id, part)
            return
        for part in split_message(to_telegram_markdown(text)):
            try:
                await bot.send_message(chat_id, part, parse_mode=ParseMode.MARKDOWN)
            except TelegramBadRequest as exc:
                if "entit" not in str(exc).lower():
                    raise
                # Telegram could not parse the formatting: the same words, unformatted, beat no answer.
                log.info("telegram_markdown_rejected", chat_id=chat_id, detail=str(exc))
                await bot.send_message(chat_id, _ESCAPED.sub(r"\1", part))
