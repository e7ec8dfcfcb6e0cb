"""Provider health beside the kit's `/health/live` and `/health/ready`: availability, a test call, in-flight.

`v1_router` mirrors `/health/providers` under `/v1` (with the kit's live and ready probes, see main.py) for
clients that reach the gateway only through a proxy of `/v1`; the mirrors take the same credentials."""

from fastapi import APIRouter

from llm_gateway.deps import Services
from llm_gateway.providers.probe import probe_provider
from nova_common.auth import ServiceAuth
from nova_contracts.llm import InflightReport, ProviderStatus, ProviderTestResult

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/providers", response_model=list[ProviderStatus])
async def list_provider_health(services: Services, _: ServiceAuth) -> list[ProviderStatus]:
    """Each provider: available or not, why, and its models (service token or admin: the reasons name
    credentials and local addresses, which the public health probes leave out)."""
    return await services.registry.statuses()


@router.post("/providers/{slug}/test", response_model=ProviderTestResult)
async def test_provider(slug: str, services: Services, _: ServiceAuth) -> ProviderTestResult:
    """One tiny completion against one provider's default model, bypassing routing; reports the latency."""
    return await probe_provider(
        slug, services.registry, services.completions, read_timeout=services.completions.probe_timeout
    )


@router.get("/inflight", response_model=InflightReport)
async def get_inflight(services: Services) -> InflightReport:
    """Requests running on the local backend now; recovery waits for 0 before switching backends."""
    return InflightReport(local_inflight=services.stats.inflight)


v1_router = APIRouter(prefix="/v1/health", tags=["health"])
v1_router.add_api_route(
    "/providers", list_provider_health, methods=["GET"], response_model=list[ProviderStatus]
)
