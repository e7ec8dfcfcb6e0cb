"""Voice in chats: a voice message is downloaded (capped), heard through voice-service and answered as a
text turn; a chat that asked for spoken replies (`/voice on`, `voice on` on Slack) also gets each reply as
a voice note. Every problem becomes one sentence for the chat (`VoiceProblem`), never a crash or silence.
"""

from dataclasses import dataclass

import httpx
import structlog

from chat_bridge.clients.voice import BridgeVoiceClient, VoiceServiceDown
from chat_bridge.formatting import to_speech
from chat_bridge.sessions import BridgeSessionStore
from nova_common.errors import NovaError, RateLimited, Unauthorized, UpstreamUnavailable
from nova_contracts.voice import MAX_SYNTHESIS_CHARS, AudioFormat

log = structlog.get_logger("chat_bridge.voice")

VOICE_DISABLED = (
    "Voice messages aren't enabled on this Nova (its voice service is not running). "
    "Please type your message instead."
)
NOTHING_HEARD = "I couldn't make out any words in that voice message. Please try again, or type it."
TRANSCRIPT_MARK = "🎤"
ECHO_CHARS = 200
DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# A spoken reply of 4,096 characters is a few MB of MP3 at most; anything far past it is not speech.
MAX_REPLY_AUDIO_BYTES = 20 * 1024 * 1024


class VoiceProblem(NovaError):
    """Why a voice message was not heard or a reply not spoken, in words said to the chat as they are."""

    status_code = 422
    code = "voice_problem"


@dataclass(frozen=True)
class AudioClip:
    data: bytes
    filename: str
    media_type: str


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def echo(transcript: str) -> str:
    """The transcript shown back briefly, so the person sees what Nova understood."""
    brief = transcript if len(transcript) <= ECHO_CHARS else transcript[:ECHO_CHARS].rsplit(" ", 1)[0] + "…"
    return f"{TRANSCRIPT_MARK} {brief}"


class VoiceNotes:
    def __init__(
        self, *, client: BridgeVoiceClient, sessions: BridgeSessionStore, max_clip_bytes: int
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.max_clip_bytes = max_clip_bytes
        # Downloads from the platforms' file servers; redirects are followed (httpx drops the Authorization
        # header when one leads to another host, so a bot token never travels on).
        self._downloads = httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True)

    async def aclose(self) -> None:
        await self._downloads.aclose()

    def check_size(self, size: int | None) -> None:
        """Refuse a clip whose declared size is over the cap before any of it is downloaded."""
        if size is not None and size > self.max_clip_bytes:
            raise VoiceProblem(
                f"That voice message is too large for me: I take clips up to {_size(self.max_clip_bytes)}."
            )

    async def download(self, url: str, *, headers: dict[str, str] | None = None) -> bytes:
        """The clip at `url`, counted as it arrives and abandoned past the cap. Errors never quote the URL:
        Telegram's file URLs carry the bot token."""
        try:
            async with self._downloads.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    log.warning("voice_download_refused", status=response.status_code)
                    raise VoiceProblem(
                        f"I couldn't download that voice message (the chat service answered "
                        f"{response.status_code}). Please try again."
                    )
                if response.headers.get("content-type", "").startswith("text/html"):
                    # Slack serves its sign-in page, not the file, to a token without the files:read scope.
                    log.warning("voice_download_got_a_web_page")
                    raise VoiceProblem(
                        "I couldn't download that voice message: I was given a web page instead of the "
                        "audio (the app needs permission to read files)."
                    )
                declared = response.headers.get("content-length", "")
                self.check_size(int(declared) if declared.isdigit() else None)
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    self.check_size(len(data))
                return bytes(data)
        except httpx.HTTPError as exc:
            log.warning("voice_download_failed", error=type(exc).__name__)
            raise VoiceProblem("I couldn't download that voice message. Please try again.") from exc

    async def hear(self, clip: AudioClip) -> str:
        """The words of the clip; `VoiceProblem` when there are none or voice-service cannot help."""
        try:
            heard = await self.client.transcribe(
                clip.data, filename=clip.filename, media_type=clip.media_type
            )
        except VoiceServiceDown as exc:
            log.info("voice_service_not_running", detail=exc.detail)
            raise VoiceProblem(VOICE_DISABLED) from exc
        except Unauthorized as exc:
            log.error("voice_service_refused_bridge", detail=exc.detail)
            raise VoiceProblem(
                "This bridge is not allowed to use Nova's voice service; an admin needs to check "
                "NOVA_SERVICE_TOKEN."
            ) from exc
        except RateLimited as exc:
            raise VoiceProblem(
                f"Voice is busy right now; please try again in {exc.retry_after} seconds."
            ) from exc
        except UpstreamUnavailable as exc:
            log.warning("voice_transcription_unavailable", detail=exc.detail)
            raise VoiceProblem(f"I can't transcribe voice messages right now: {exc.detail}") from exc
        except NovaError as exc:  # 413/415/422: the clip itself
            raise VoiceProblem(f"I couldn't use that audio: {exc.detail}") from exc
        text = heard.text.strip()
        if not text:
            raise VoiceProblem(NOTHING_HEARD)
        log.info(
            "voice_message_heard", provider=heard.provider, duration_ms=heard.duration_ms, chars=len(text)
        )
        return text

    async def speak(self, reply: str, fmt: AudioFormat) -> bytes:
        """The reply as audio in `fmt`; `VoiceProblem` (a short note for the chat) when it cannot be."""
        text = to_speech(reply, MAX_SYNTHESIS_CHARS)
        if not text:
            raise VoiceProblem("(Nothing in this reply can be read aloud.)")
        try:
            return await self.client.synthesize(text, fmt, max_bytes=MAX_REPLY_AUDIO_BYTES)
        except VoiceServiceDown as exc:
            raise VoiceProblem(
                "(No voice reply: Nova's voice service is not running. /voice off stops these.)"
            ) from exc
        except NovaError as exc:
            log.warning("voice_reply_failed", detail=exc.detail)
            raise VoiceProblem(f"(No voice reply this time: {exc.detail})") from exc

    async def replies_wanted(self, platform: str, chat_id: str) -> bool:
        return await self.sessions.voice_replies(platform, chat_id)

    async def command(self, platform: str, chat_id: str, word: str | None, *, how: str) -> str:
        """`voice on|off` for a chat, or its current state; `how` is how the platform spells the command."""
        choice = (word or "").strip().lower()
        if choice == "on":
            if not await self.client.is_live():
                return VOICE_DISABLED.replace("Please type your message instead.", "Replies stay in text.")
            await self.sessions.set_voice_replies(platform, chat_id, True)
            return f"Voice replies are on: I'll also answer with a voice note. {how} off stops them."
        if choice == "off":
            await self.sessions.set_voice_replies(platform, chat_id, False)
            return "Voice replies are off: I'll answer in text only."
        if choice:
            return f"Say {how} on or {how} off."
        state = "on" if await self.sessions.voice_replies(platform, chat_id) else "off"
        return f"Voice replies are {state} in this chat. {how} on or {how} off changes it."
