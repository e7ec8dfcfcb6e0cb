"""Keys are tenants: who owns an agent, a task or a conversation, and who may see it.

Owners are written as the memory contract writes them: `"admin"`, `"key:<api key id>"` or `"local"` (the
anonymous caller REQUIRE_AUTH=false lets through, a tenant of its own and never the admin). The admin, and
Nova services acting for the platform, see everything; anyone else sees only what they own, and another
tenant's resource is answered as not found, so its existence is not revealed.
"""

from dataclasses import dataclass
from typing import Literal

from nova_common.auth import Principal

OwnerKind = Literal["admin", "api_key", "local"]
ADMIN_OWNER = "admin"
LOCAL_OWNER = "local"
KEY_OWNER_PREFIX = "key:"


@dataclass(frozen=True)
class Tenant:
    kind: OwnerKind
    api_key_id: str | None = None
    # Only the admin secret grants privilege (sandbox tier, tools beyond the default, MCP): a service token
    # sees the platform-wide view but configures agents like a key.
    privileged: bool = False

    @classmethod
    def of(cls, principal: Principal) -> "Tenant":
        if principal.kind == "admin":
            return cls("admin", privileged=True)
        if principal.kind == "service":
            return cls("admin")
        if principal.kind == "api_key" and principal.key is not None:
            return cls("api_key", str(principal.key.id))
        return cls("local")

    @classmethod
    def from_columns(cls, kind: str, api_key_id: object) -> "Tenant":
        """The owner of a row (`owner_kind`, `api_key_id` columns)."""
        if kind == "api_key" and api_key_id is not None:
            return cls("api_key", str(api_key_id))
        return cls("local") if kind == "local" else cls("admin")

    @classmethod
    def from_owner(cls, owner: str | None) -> "Tenant":
        """The owner of a record kept as an owner string; records older than tenancy belong to the admin."""
        if owner and owner.startswith(KEY_OWNER_PREFIX):
            return cls("api_key", owner.removeprefix(KEY_OWNER_PREFIX))
        return cls("local") if owner == LOCAL_OWNER else cls("admin")

    @property
    def owner(self) -> str:
        """The owner string: what resources and memories are stamped with."""
        if self.kind == "api_key":
            return f"{KEY_OWNER_PREFIX}{self.api_key_id}"
        return LOCAL_OWNER if self.kind == "local" else ADMIN_OWNER

    @property
    def sees_everything(self) -> bool:
        return self.kind == "admin"

    def may_see(self, owner: "Tenant | str | None") -> bool:
        if self.sees_everything:
            return True
        other = owner if isinstance(owner, Tenant) else Tenant.from_owner(owner)
        return (other.kind, other.api_key_id) == (self.kind, self.api_key_id)

    def scope(self) -> tuple[str | None, str | None]:
        """SQL filter arguments `(owner_kind, api_key_id)`: `(None, None)` means every row."""
        if self.sees_everything:
            return None, None
        return self.kind, self.api_key_id
