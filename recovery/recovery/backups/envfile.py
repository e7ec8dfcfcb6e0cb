"""The `.env` keys a restore needs, sealed in the archive with a key derived from the admin secret.

Kept: the service token (every sealed secret in platform config is encrypted with it, so a restore on a new
machine needs it back), provider keys, bot tokens and feature switches. Left out on purpose: what belongs to
this machine's own infrastructure (the database and Redis passwords and URLs, ports, paths) and the admin
secret itself, which is the key to this section.
"""

import base64
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from nova_common.envfile import read_env
from nova_common.errors import BadRequest

MACHINE_KEYS = frozenset(
    {
        "NOVA_ADMIN_SECRET",
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "DATABASE_URL",
        "REDIS_URL",
        "HOST",
        "PORT",
        "NOVA_PORT_OFFSET",
        "NOVA_DATA_DIR",
        "BACKUP_DIR",
        "NOVA_WORKSPACE",
        "NOVA_ENV_FILE",
        "NOVA_ROOT",
        "PG_BIN_DIR",
    }
)
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_KEY_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def restorable_env(path: Path) -> dict[str, str]:
    return {k: v for k, v in read_env(path).items() if k not in MACHINE_KEYS}


def _key(admin_secret: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, **_SCRYPT).derive(admin_secret.encode())


def seal_env(values: dict[str, str], admin_secret: str, backup_id: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    # The backup id is authenticated too: a sealed section cannot be moved into another archive.
    ciphertext = AESGCM(_key(admin_secret, salt)).encrypt(
        nonce, json.dumps(values).encode(), backup_id.encode()
    )
    body = {
        "kdf": {"name": "scrypt", **_SCRYPT, "salt": base64.b64encode(salt).decode()},
        "cipher": "AES-256-GCM",
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return json.dumps(body).encode()


def open_env(sealed: bytes, admin_secret: str, backup_id: str) -> dict[str, str]:
    try:
        body = json.loads(sealed)
        salt = base64.b64decode(body["kdf"]["salt"])
        plaintext = AESGCM(_key(admin_secret, salt)).decrypt(
            base64.b64decode(body["nonce"]), base64.b64decode(body["ciphertext"]), backup_id.encode()
        )
    except InvalidTag as exc:
        raise BadRequest(
            "the archive's .env section was sealed with another admin secret: restore with restore_env=false, "
            "or set NOVA_ADMIN_SECRET to the secret in force when the backup was made"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest("the archive's .env section is damaged") from exc
    values: dict[str, str] = json.loads(plaintext)
    return values


def update_env_file(path: Path, updates: Mapping[str, str | None]) -> list[str]:
    """Set `updates` in the env file (None removes a key), keeping comments, order and other keys.

    Written to a temporary file in the same folder, flushed, then renamed over the old one (0600), so a
    crash leaves the old file or the new one.
    """
    lines = path.read_text().splitlines() if path.exists() else []
    remaining = dict(updates)
    out = []
    for line in lines:
        match = _KEY_LINE.match(line)
        if match and match.group(1) in updates:
            name = match.group(1)
            if name in remaining and (value := remaining.pop(name)) is not None:
                out.append(f"{name}={_quote(value)}")
        else:
            out.append(line)
    out += [f"{name}={_quote(value)}" for name, value in remaining.items() if value is not None]
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".env.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write("\n".join(out) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return sorted(updates)


def _quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:@,+=-]*", value):
        return value
    # python-dotenv takes single quotes literally and reads JSON-style escapes inside double quotes.
    return f"'{value}'" if "'" not in value else json.dumps(value)
