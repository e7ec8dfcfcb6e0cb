"""The `.env` editor: only whitelisted keys, secrets masked, written atomically keeping comments and order.

The whitelist names, for each key, the services that read it only at start, so the answer can say which
need a restart. Keys that would lock the stack out of its own infrastructure (passwords, URLs, the admin
secret, the service token) are not editable here.
"""

import asyncio
import re
from pathlib import Path

from nova_common.envfile import read_env
from nova_common.errors import BadRequest
from nova_contracts.recovery import EnvEntry, EnvUpdate, EnvUpdateResult, EnvView
from recovery.backups.envfile import update_env_file

_ALL = ["orchestrator", "llm-gateway", "memory-service", "chat-api", "chat-bridge", "cortex", "recovery"]
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$")
# key -> services that read it at start.
EDITABLE: dict[str, list[str]] = {
    **{
        key: ["llm-gateway"]
        for key in (
            "ANTHROPIC_API_KEY",
            "GROQ_API_KEY",
            "GEMINI_API_KEY",
            "CEREBRAS_API_KEY",
            "OPENROUTER_API_KEY",
            "GITHUB_TOKEN",
            "DEFAULT_CHAT_MODEL",
            "OLLAMA_BASE_URL",
            "LLM_ROUTING_STRATEGY",
        )
    },
    "OPENAI_API_KEY": ["llm-gateway", "voice-service"],
    **{
        key: ["voice-service"]
        for key in ("DEEPGRAM_API_KEY", "ELEVENLABS_API_KEY", "VOICE_STT_PROVIDER", "VOICE_TTS_PROVIDER")
    },
    **{
        key: ["chat-bridge"]
        for key in (
            "TELEGRAM_BOT_TOKEN",
            "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_WEBHOOK_SECRET",
            "TELEGRAM_ALLOWED_USER_IDS",
            "TELEGRAM_ALLOWED_CHAT_IDS",
            "SLACK_BOT_TOKEN",
            "SLACK_APP_TOKEN",
            "SLACK_SIGNING_SECRET",
            "SLACK_ALLOWED_TEAM_IDS",
            "SLACK_ALLOWED_CHANNEL_IDS",
        )
    },
    **{key: ["cortex"] for key in ("CORTEX_ENABLED", "CORTEX_DAILY_BUDGET_USD")},
    **{key: list(_ALL) for key in ("CORS_ALLOWED_ORIGINS", "ALLOWED_HOSTS", "LOG_LEVEL", "TRUSTED_PROXIES")},
    "NOVA_PROFILES": ["launcher (make run)"],
    "COMPOSE_PROFILES": ["docker compose"],
}


def _mask(value: str) -> str:
    return "****" + value[-4:] if len(value) >= 16 else "****"


def view(path: Path) -> EnvView:
    current = read_env(path)
    entries = []
    for key, restart in EDITABLE.items():
        secret = bool(_SECRET.search(key))
        value = current.get(key)
        shown = None if value is None else (_mask(value) if secret else value)
        entries.append(EnvEntry(key=key, secret=secret, set=value is not None, value=shown, restart=restart))
    return EnvView(path=str(path), entries=entries)


async def update(path: Path, change: EnvUpdate) -> EnvUpdateResult:
    refused = sorted(set(change.updates) - set(EDITABLE))
    if refused:
        raise BadRequest(f"not editable here: {', '.join(refused)} (editable keys: GET /api/v1/recovery/env)")
    for key, value in change.updates.items():
        if value is not None and ("\n" in value or "\r" in value or "\x00" in value):
            raise BadRequest(f"{key}: a value must be one line")
    await asyncio.to_thread(update_env_file, path, change.updates)
    restart = sorted({service for key in change.updates for service in EDITABLE[key]})
    return EnvUpdateResult(changed=sorted(change.updates), restart_needed=restart)
