"""The adapter interface every chat platform implements, and the access/help texts they share."""

from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import ClassVar

from nova_contracts.chat import AdapterState, BridgeAdapterStatus

NOT_ALLOWED = "Sorry, this Nova assistant is private and its owner has not allowed this chat yet."
NON_TEXT = "I can read text and voice messages only. Please type your question or send it as a voice message."


class PlatformAdapter(ABC):
    """One chat platform: enabled when its tokens are configured, started and stopped by the bridge."""

    platform_name: ClassVar[str]

    def __init__(self) -> None:
        self.state = AdapterState.STOPPED
        self.error: str | None = None
        self.started_at: datetime | None = None

    @abstractmethod
    def is_configured(self) -> bool:
        """Whether the tokens this platform needs are present."""

    @abstractmethod
    async def _start(self) -> None: ...

    @abstractmethod
    async def _stop(self) -> None: ...

    @property
    def mode(self) -> str | None:
        return None

    async def start(self) -> None:
        """Start receiving messages; on failure the adapter is left FAILED with the error, and re-raises."""
        if not self.is_configured():
            self.state = AdapterState.DISABLED
            return
        self.state = AdapterState.STARTING
        self.error = None
        try:
            await self._start()
        except Exception as exc:
            self.state = AdapterState.FAILED
            self.error = self._redact(f"{type(exc).__name__}: {exc}")[:500]
            raise
        self.state = AdapterState.RUNNING
        self.started_at = datetime.now(UTC)

    def secrets(self) -> list[str]:
        """Values that must never appear in a reported error (library messages sometimes quote tokens)."""
        return []

    def _redact(self, text: str) -> str:
        for secret in self.secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    async def stop(self) -> None:
        """Stop receiving; a FAILED adapter keeps its state and error so the status still explains it."""
        if self.state in (AdapterState.RUNNING, AdapterState.STARTING, AdapterState.FAILED):
            await self._stop()
        if self.state in (AdapterState.RUNNING, AdapterState.STARTING):
            self.state = AdapterState.STOPPED

    def status(self) -> BridgeAdapterStatus:
        return BridgeAdapterStatus(
            platform=self.platform_name,
            configured=self.is_configured(),
            state=AdapterState.DISABLED if not self.is_configured() else self.state,
            mode=self.mode if self.is_configured() else None,
            error=self.error,
            started_at=self.started_at if self.state is AdapterState.RUNNING else None,
        )
