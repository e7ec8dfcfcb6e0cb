"""Secrets that travel through Redis sealed, never in clear.

The orchestrator keeps secret settings (provider API keys, bot tokens) in Postgres and mirrors them to
Redis DB 1 so other services pick them up without a restart. What it mirrors is a Fernet token whose key
is derived from `NOVA_SERVICE_TOKEN`, which every Nova service already shares and Redis never sees: a
Redis dump, a `MONITOR` or a backup of DB 1 shows ciphertext only.

In Redis the config value is the JSON object `{"sealed": "<fernet token>"}` (see `seal_config_value`).
"""

import base64
import hashlib
import json
from typing import Any

import redis.asyncio as aioredis
from cryptography.fernet import Fernet, InvalidToken

from nova_common.errors import NotConfigured
from nova_contracts.orchestrator import config_redis_key, encode_config_value

_KEY_CONTEXT = b"nova-secretbox-v1:"


class SecretUnreadable(Exception):
    """A sealed value that this service's token cannot open (another token sealed it, or it was altered)."""


def _fernet(service_token: str) -> Fernet:
    if not service_token:
        raise NotConfigured("NOVA_SERVICE_TOKEN is unset: secrets cannot be sealed or opened")
    digest = hashlib.sha256(_KEY_CONTEXT + service_token.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(plaintext: str, service_token: str) -> str:
    return _fernet(service_token).encrypt(plaintext.encode()).decode()


def unseal(token: str, service_token: str) -> str:
    try:
        return _fernet(service_token).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("sealed value cannot be opened with this NOVA_SERVICE_TOKEN") from exc


def seal_config_value(plaintext: str, service_token: str) -> str:
    """The Redis text of a sealed config value."""
    return encode_config_value({"sealed": seal(plaintext, service_token)})


def open_config_value(raw: str | bytes, service_token: str) -> str:
    value: Any = json.loads(raw)
    if not isinstance(value, dict) or not isinstance(value.get("sealed"), str):
        raise SecretUnreadable("config value is not a sealed secret")
    return unseal(value["sealed"], service_token)


async def read_sealed_config(config_redis: aioredis.Redis, key: str, service_token: str) -> str | None:
    """A secret setting mirrored to Redis DB 1 (`key` as in platform config, e.g. `llm.openai_api_key`).

    None when it is not set. Raises `SecretUnreadable` when it is set but cannot be opened.
    """
    raw = await config_redis.get(config_redis_key(key))
    if raw is None:
        return None
    return open_config_value(raw, service_token)
