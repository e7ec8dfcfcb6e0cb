"""The credential vault's cipher: AES-256-GCM envelope encryption.

Each credential gets its own random 256-bit data key; the secret is sealed with it, and the data key is
sealed with the master key (derived with HKDF from CREDENTIAL_MASTER_KEY in `.env`). Both seals carry the
credential's id as associated data, so a ciphertext copied onto another row does not open. PostgreSQL only
ever holds ciphertext; rotating the master key means re-wrapping the small data keys, not the secrets.
"""

import os
import uuid
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from nova_common.config import MIN_SECRET_LENGTH
from nova_common.errors import NotConfigured

_NONCE_BYTES = 12
_HKDF_INFO = b"nova-credential-vault-v1"


class VaultUnreadable(Exception):
    """A sealed credential that this master key cannot open (another key sealed it, or it was altered)."""


@dataclass(frozen=True)
class Sealed:
    key_nonce: bytes
    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


class _VaultEnv(BaseSettings):
    # Read like every other secret: the environment first, then `.env` (ensure_secrets generates it).
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    credential_master_key: SecretStr = Field(default=SecretStr(""), alias="CREDENTIAL_MASTER_KEY")


@lru_cache
def _configured_master_key() -> str:
    return _VaultEnv().credential_master_key.get_secret_value() or os.environ.get("CREDENTIAL_MASTER_KEY", "")


class Vault:
    def __init__(self, master_key: str) -> None:
        if len(master_key) < MIN_SECRET_LENGTH:
            raise NotConfigured(
                "CREDENTIAL_MASTER_KEY is unset or shorter than 16 characters: credentials cannot be stored "
                "(`make run` generates one into .env)"
            )
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            master_key.encode()
        )
        self._master = AESGCM(derived)

    @classmethod
    def from_environment(cls) -> "Vault":
        return cls(_configured_master_key())

    def seal(self, credential_id: uuid.UUID, secret: str) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        key_nonce, nonce = os.urandom(_NONCE_BYTES), os.urandom(_NONCE_BYTES)
        aad = credential_id.bytes
        return Sealed(
            key_nonce=key_nonce,
            wrapped_key=self._master.encrypt(key_nonce, data_key, aad),
            nonce=nonce,
            ciphertext=AESGCM(data_key).encrypt(nonce, secret.encode(), aad),
        )

    def open(self, credential_id: uuid.UUID, sealed: Sealed) -> str:
        aad = credential_id.bytes
        try:
            data_key = self._master.decrypt(sealed.key_nonce, sealed.wrapped_key, aad)
            return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, aad).decode()
        except InvalidTag as exc:
            raise VaultUnreadable(
                f"credential {credential_id} cannot be opened with this master key"
            ) from exc


def mask(secret: str) -> str:
    """What the API shows of a secret: its last four characters, and only when it is long enough that
    they do not give most of it away."""
    return "••••" + (secret[-4:] if len(secret) >= 12 else "")
