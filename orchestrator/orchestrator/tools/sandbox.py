"""Sandbox tiers, enforced where tools touch the filesystem.

Every path an agent names is resolved (symlinks followed, `..` collapsed) and must land inside the tier's
root *before* any filesystem call; tools then operate on the resolved path, not on what the agent wrote.
`isolated` has no root at all, so file, shell and git tools refuse to run there. The `nova` tier's root is
Nova's own checkout: its secrets (`.env`, `data/`, keys, repository configs that may hold credentials) are
hidden from the file tools here and masked inside the shell and git jail (`jail.py`).
"""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from nova_contracts.orchestrator import SandboxTier

# Where the shell and git jail shows the sandbox root; file tools accept the same paths.
JAIL_ROOT = "/workspace"
# Narrowest first: a task may ask for a narrower tier than its agent's, never a wider one.
TIER_ORDER = (SandboxTier.ISOLATED, SandboxTier.WORKSPACE, SandboxTier.NOVA, SandboxTier.HOST)


# Names under the nova tier's root that hold secrets or live data, never shown to an agent.
SECRET_FILE_NAMES = frozenset(
    {".env", ".netrc", ".pgpass", ".git-credentials", "id_rsa", "id_ed25519", "id_ecdsa"}
)
SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx")
SECRET_ROOT_DIRS = frozenset({"data"})
# Folders the secret scan does not walk into: big, generated, and not where a checkout keeps secrets.
UNSCANNED_DIRS = frozenset(
    {".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
)


def is_secret(relative: Path) -> bool:
    """Whether a path relative to the nova root names a secret (or lies inside one)."""
    parts = relative.parts
    if not parts:
        return False
    if parts[0] in SECRET_ROOT_DIRS:
        return True
    for index, part in enumerate(parts):
        if part in SECRET_FILE_NAMES or part.endswith(SECRET_SUFFIXES):
            return True
        # `.env.local`, `.env.production`…; the committed example is documentation.
        if part.startswith(".env.") and part != ".env.example":
            return True
        if part == ".git" and parts[index + 1 : index + 2] == ("config",):
            return True
    return False


class SandboxViolation(Exception):
    """A tool call tried to leave its sandbox; the message is shown to the model."""


def narrower(a: SandboxTier, b: SandboxTier) -> SandboxTier:
    return a if TIER_ORDER.index(a) <= TIER_ORDER.index(b) else b


@dataclass(frozen=True)
class Sandbox:
    tier: SandboxTier
    root: Path | None

    @property
    def has_filesystem(self) -> bool:
        return self.root is not None

    @property
    def hides_secrets(self) -> bool:
        return self.tier is SandboxTier.NOVA

    def require_root(self) -> Path:
        if self.root is None:
            raise SandboxViolation(f"the {self.tier.value} sandbox has no filesystem or shell")
        return self.root

    def resolve(self, path: str) -> Path:
        """The real path `path` names, refused unless it is the root or inside it."""
        root = self.require_root()
        if "\x00" in path:
            raise SandboxViolation("paths may not contain NUL bytes")
        candidate = Path(path)
        if self.tier is not SandboxTier.HOST and candidate.is_relative_to(JAIL_ROOT):
            # A path as the shell sees it (`pwd` says /workspace) names the same file for the file tools.
            candidate = root / candidate.relative_to(JAIL_ROOT)
        elif not candidate.is_absolute():
            candidate = root / candidate
        resolved = Path(os.path.realpath(candidate))
        if resolved != root and not resolved.is_relative_to(root):
            raise SandboxViolation(f"{path!r} is outside the {self.tier.value} sandbox ({root})")
        if self.hides_secrets and is_secret(resolved.relative_to(root)):
            raise SandboxViolation(f"{path!r} holds Nova's secrets or data and is hidden from agents")
        return resolved

    def is_hidden(self, path: Path) -> bool:
        """Whether a listing or search should leave `path` out (a secret of the nova tier)."""
        root = self.require_root()
        return self.hides_secrets and path.is_relative_to(root) and is_secret(path.relative_to(root))

    def display(self, path: Path) -> str:
        """A path as the agent should see it: relative to the root."""
        root = self.require_root()
        return "." if path == root else str(path.relative_to(root))


def secret_paths(sandbox: Sandbox) -> list[Path]:
    """The secrets under the sandbox root that the jail masks (existing files and folders, not symlinks)."""
    root = sandbox.require_root()
    found: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):
        base = Path(directory)
        for name in [*dirnames, *filenames]:
            path = base / name
            if not path.is_symlink() and is_secret(path.relative_to(root)):
                found.append(path)
        # A masked folder is replaced whole; a repository's internals only matter for its config.
        dirnames[:] = [
            d for d in dirnames
            if d not in UNSCANNED_DIRS and d != ".git" and not is_secret((base / d).relative_to(root))
        ]  # fmt: skip
        if (base / ".git" / "config").is_file() and not (base / ".git").is_symlink():
            found.append(base / ".git" / "config")
    return found


def build_sandbox(tier: SandboxTier, *, workspace: Path, nova_root: Path, allow_host: bool) -> Sandbox:
    if tier is SandboxTier.ISOLATED:
        return Sandbox(tier, None)
    if tier is SandboxTier.HOST:
        if not allow_host:
            raise SandboxViolation(
                "the host sandbox is off; the operator must set NOVA_ALLOW_HOST_SANDBOX=true"
            )
        return Sandbox(tier, Path("/"))
    root = workspace if tier is SandboxTier.WORKSPACE else nova_root
    root.mkdir(parents=True, exist_ok=True)
    return Sandbox(tier, Path(os.path.realpath(root)))


class Sandboxes:
    """Each tier's sandbox, built (its root created) the first time a turn or a pipeline stage asks for it, and
    again should its root vanish: a root only needs creating once, and a thread hop on every turn to check it
    costs more than the check.

    A root replaced by a symlink meanwhile is harmless: every path is resolved and checked against the real
    root recorded here, so a link out of it is refused."""

    def __init__(self, *, workspace: Path, nova_root: Path, allow_host: bool) -> None:
        self.workspace = workspace
        self.nova_root = nova_root
        self.allow_host = allow_host
        self._built: dict[SandboxTier, Sandbox] = {}

    async def get(self, tier: SandboxTier) -> Sandbox:
        """The tier's sandbox; `SandboxViolation` when the tier is off, OSError when its root cannot be made."""
        built = self._built.get(tier)
        if built is not None and (built.root is None or built.root.is_dir()):
            return built
        # mkdir and realpath touch the disk: off the event loop.
        built = await asyncio.to_thread(
            build_sandbox,
            tier,
            workspace=self.workspace,
            nova_root=self.nova_root,
            allow_host=self.allow_host,
        )
        self._built[tier] = built
        return built
