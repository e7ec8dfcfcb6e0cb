"""Real Nova service processes for cross-service tests. `ServiceProcess` (start `python -m <package>` and wait
for its health) is the kit's (`nova_common.testing`), re-exported here for the tests that import it from here;
this module adds the environment a test stack's orchestrator gets."""

from pathlib import Path

from nova_common.embedded import free_port
from nova_common.testing import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, service_process

__all__ = [
    "STACK_ADMIN_SECRET",
    "STACK_SERVICE_TOKEN",
    "ServiceProcess",
    "orchestrator_env",
    "service_process",
]


def orchestrator_env(
    database_url: str, redis_url: str, *, gateway_url: str, workspace: Path
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LLM_GATEWAY_URL": gateway_url,
        # No memory-service in these stacks: the orchestrator answers without recalled memories.
        "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "NOVA_WORKSPACE": str(workspace),
        "REQUIRE_AUTH": "true",
    }
