"""Sandbox tiers, enforced where tools touch the filesystem.

Every path an agent names is resolved (symlinks followed, `..` collapsed) and must land inside the tier's
root *before* any filesystem call; tools then operate on the resolved path, not on what the agent wrote.
`isolated` has no root at all, so file, shell and git tools refuse to run there.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from nova_contracts.orchestrator import SandboxTier

# Narrowest first: a task may ask for a narrower tier than its agent's, never a wider one.
TIER_ORDER = (SandboxTier.ISOLATED, SandboxTier.WORKSPACE, SandboxTier.NOVA, SandboxTier.HOST)


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
        if not candidate.is_absolute():
            candidate = root / candidate
        resolved = Path(os.path.realpath(candidate))
        if resolved != root and not resolved.is_relative_to(root):
            raise SandboxViolation(f"{path!r} is outside the {self.tier.value} sandbox ({root})")
        return resolved

    def display(self, path: Path) -> str:
        """A path as the agent should see it: relative to the root."""
        root = self.require_root()
        return "." if path == root else str(path.relative_to(root))


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
