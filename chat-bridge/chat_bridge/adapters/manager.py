"""Builds the adapters from the current settings, starts every configured one, restarts them on reload.

A failing adapter is logged and reported on `GET /api/status` with its error; the others keep running.
"""

import asyncio

import structlog

from chat_bridge.adapters.base import PlatformAdapter
from chat_bridge.adapters.slack import SlackAdapter
from chat_bridge.adapters.telegram import TelegramAdapter
from chat_bridge.conversations import Conversations
from chat_bridge.platform_settings import PlatformSettings
from chat_bridge.voice_notes import VoiceNotes
from nova_contracts.chat import BridgeStatus

log = structlog.get_logger("chat_bridge.adapters")


class AdapterManager:
    def __init__(
        self,
        *,
        platform_settings: PlatformSettings,
        conversations: Conversations,
        voice: VoiceNotes,
        telegram_poll_timeout: float,
    ) -> None:
        self.platform_settings = platform_settings
        self.conversations = conversations
        self.voice = voice
        self.telegram_poll_timeout = telegram_poll_timeout
        self.telegram: TelegramAdapter | None = None
        self.slack: SlackAdapter | None = None
        self._lock = asyncio.Lock()

    @property
    def adapters(self) -> list[PlatformAdapter]:
        return [a for a in (self.telegram, self.slack) if a is not None]

    async def start(self) -> BridgeStatus:
        """(Re)read tokens and settings, stop whatever runs, and start each configured adapter."""
        async with self._lock:
            await self._stop_all()
            config = await self.platform_settings.load()
            self.telegram = TelegramAdapter(
                config.telegram,
                conversations=self.conversations,
                platform_settings=self.platform_settings,
                voice=self.voice,
                poll_timeout=self.telegram_poll_timeout,
            )
            self.slack = SlackAdapter(
                config.slack,
                conversations=self.conversations,
                platform_settings=self.platform_settings,
                voice=self.voice,
            )
            for adapter in self.adapters:
                try:
                    await adapter.start()
                except Exception:
                    log.exception("adapter_failed_to_start", platform=adapter.platform_name)
                    await _quietly_stop(adapter)
            return self.status()

    async def stop(self) -> None:
        async with self._lock:
            await self._stop_all()

    async def _stop_all(self) -> None:
        for adapter in self.adapters:
            await _quietly_stop(adapter)

    def status(self) -> BridgeStatus:
        return BridgeStatus(adapters=[a.status() for a in self.adapters])


async def _quietly_stop(adapter: PlatformAdapter) -> None:
    try:
        await adapter.stop()
    except Exception:
        log.exception("adapter_failed_to_stop", platform=adapter.platform_name)
