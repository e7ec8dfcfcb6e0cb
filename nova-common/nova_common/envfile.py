"""The `.env` file shared by `make run` and Docker Compose, and the secrets generated into it on first start.

No well-known default is ever written: each secret is random, generated once, and the file is kept at mode
600. `python -m nova_common.envfile` does only this (used by `make up` before `docker compose up`).
"""

import os
import re
import secrets
import sys
from pathlib import Path

from dotenv import dotenv_values

from nova_common.config import MIN_SECRET_LENGTH, WELL_KNOWN_SECRETS

# Hex keeps each value safe inside a URL (the passwords end up in DATABASE_URL and REDIS_URL).
GENERATED_SECRETS = (
    "NOVA_ADMIN_SECRET",
    "NOVA_SERVICE_TOKEN",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    # The credential vault's master key (orchestrator/knowledge/vault.py); losing it loses the stored tokens.
    "CREDENTIAL_MASTER_KEY",
)
_KEY = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _usable(value: str | None) -> bool:
    return (
        bool(value)
        and len(value or "") >= MIN_SECRET_LENGTH
        and (value or "").lower() not in WELL_KNOWN_SECRETS
    )


def ensure_secrets(path: Path) -> list[str]:
    """Generate every missing or well-known secret into `path`; return the names generated.

    A secret already given in the process environment is respected and not written.
    """
    current = read_env(path)
    generated: dict[str, str] = {}
    for name in GENERATED_SECRETS:
        if _usable(os.environ.get(name)) or _usable(current.get(name)):
            continue
        generated[name] = secrets.token_hex(24)
    if generated:
        lines = path.read_text().splitlines() if path.exists() else ["# Nova settings; see .env.example"]
        kept = [line for line in lines if not ((m := _KEY.match(line)) and m.group(1) in generated)]
        kept += [f"{name}={value}" for name, value in generated.items()]
        path.touch(mode=0o600, exist_ok=True)
        path.write_text("\n".join(kept) + "\n")
    if path.exists():
        path.chmod(0o600)
    return list(generated)


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    made = ensure_secrets(target)
    print(f"{target}: generated {', '.join(made)}" if made else f"{target}: secrets already set")
