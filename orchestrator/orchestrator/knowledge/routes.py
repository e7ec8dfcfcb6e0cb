"""Knowledge routes: the admin manages sources and credentials and starts crawls; knowledge-worker (service
token) claims due sources, reports crawl progress, and alone reads a credential's plaintext."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from nova_common.auth import (
    ADMIN_HEADER,
    SERVICE_HEADER,
    AdminAuth,
    Principal,
    ServiceAuth,
    admin_secrets,
    service_token_ok,
)
from nova_common.errors import Forbidden, Unauthorized
from nova_contracts.knowledge import (
    Crawl,
    CrawlProgress,
    Credential,
    CredentialCreate,
    CredentialSecret,
    CredentialValidation,
    KnowledgeSource,
    KnowledgeSourceCreate,
    KnowledgeSourceUpdate,
)
from orchestrator.deps import Page
from orchestrator.intel.routes import AdminOrService
from orchestrator.knowledge.repository import KnowledgeRepository
from orchestrator.knowledge.service import KnowledgeService

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])


async def get_knowledge(request: Request) -> KnowledgeService:  # async: no thread hop per request
    return KnowledgeService(
        KnowledgeRepository(request.app.state.resources.pg),
        allow_loopback=request.app.state.settings.ssrf_allow_loopback_for_tests,
    )


Knowledge = Annotated[KnowledgeService, Depends(get_knowledge)]


async def require_service_token(request: Request) -> Principal:
    """A Nova service's token and nothing else: unlike `ServiceAuth`, the admin secret does not pass, so
    a leaked dashboard session cannot read stored tokens back."""
    if service_token_ok(request):
        return Principal(kind="service")
    if await admin_secrets(request).check(request.headers.get(ADMIN_HEADER)):
        raise Forbidden("only a Nova service (X-Service-Token) may read a credential's plaintext")
    # No credential, or a wrong one: 401, as on every other route.
    raise Unauthorized(f"this route is internal: send a valid {SERVICE_HEADER}")


ServiceTokenOnly = Annotated[Principal, Depends(require_service_token)]


@router.post("/sources", response_model=KnowledgeSource, status_code=status.HTTP_201_CREATED)
async def create_source(body: KnowledgeSourceCreate, _: AdminAuth, knowledge: Knowledge) -> KnowledgeSource:
    """Add a site, a GitHub account or pasted text; it is queued for its first crawl at once."""
    return await knowledge.create_source(body)


@router.get("/sources", response_model=list[KnowledgeSource])
async def list_sources(_: AdminAuth, knowledge: Knowledge, page: Page) -> list[KnowledgeSource]:
    """Sources with their status and last crawl, newest first."""
    return await knowledge.sources(page.limit, page.offset)


@router.post("/sources/claim", response_model=list[KnowledgeSource])
async def claim_due_sources(
    _: ServiceAuth, knowledge: Knowledge, limit: Annotated[int, Query(ge=1, le=20)] = 3
) -> list[KnowledgeSource]:
    """For knowledge-worker: take the sources to crawl now (queued or due for refresh), marked crawling."""
    return await knowledge.claim_due(limit)


@router.get("/sources/{source_id}", response_model=KnowledgeSource)
async def get_source(source_id: UUID, _: AdminOrService, knowledge: Knowledge) -> KnowledgeSource:
    """One source with its crawl settings and status."""
    return await knowledge.get_source(source_id)


@router.patch("/sources/{source_id}", response_model=KnowledgeSource)
async def update_source(
    source_id: UUID, body: KnowledgeSourceUpdate, _: AdminAuth, knowledge: Knowledge
) -> KnowledgeSource:
    """Change a source's name, crawl settings, credential or enabled flag."""
    return await knowledge.update_source(source_id, body)


@router.delete("/sources/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_source(source_id: UUID, _: AdminAuth, knowledge: Knowledge) -> Response:
    """Remove a source and its crawl history (what memory learned from it stays)."""
    await knowledge.delete_source(source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/sources/{source_id}/crawl", response_model=KnowledgeSource, status_code=status.HTTP_202_ACCEPTED
)
async def crawl_source_now(source_id: UUID, _: AdminAuth, knowledge: Knowledge) -> KnowledgeSource:
    """Queue a crawl now; 409 while one runs."""
    return await knowledge.crawl_now(source_id)


@router.get("/sources/{source_id}/crawls", response_model=list[Crawl])
async def list_crawls(source_id: UUID, _: AdminOrService, knowledge: Knowledge, page: Page) -> list[Crawl]:
    """The source's crawls with their progress (fetched, queued, skipped by reason), newest first."""
    return await knowledge.crawls(source_id, page.limit, page.offset)


@router.post("/sources/{source_id}/crawls", response_model=Crawl, status_code=status.HTTP_201_CREATED)
async def start_crawl(source_id: UUID, _: ServiceAuth, knowledge: Knowledge) -> Crawl:
    """knowledge-worker opens a crawl record as it starts."""
    return await knowledge.start_crawl(source_id)


@router.put("/sources/{source_id}/crawls/{crawl_id}", response_model=Crawl)
async def report_crawl_progress(
    source_id: UUID, crawl_id: UUID, body: CrawlProgress, _: ServiceAuth, knowledge: Knowledge
) -> Crawl:
    """knowledge-worker's progress; a final status ends the crawl and updates the source."""
    return await knowledge.report_crawl(source_id, crawl_id, body)


@router.post("/credentials", response_model=Credential, status_code=status.HTTP_201_CREATED)
async def add_credential(body: CredentialCreate, _: AdminAuth, knowledge: Knowledge) -> Credential:
    """Store a token, encrypted; the answer shows only its masked tail."""
    return await knowledge.add_credential(body)


@router.get("/credentials", response_model=list[Credential])
async def list_credentials(_: AdminAuth, knowledge: Knowledge, page: Page) -> list[Credential]:
    """Stored credentials, masked, with their last validation."""
    return await knowledge.credentials(page.limit, page.offset)


@router.get("/credentials/to-validate", response_model=list[Credential])
async def list_credentials_to_validate(
    _: ServiceAuth, knowledge: Knowledge, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[Credential]:
    """For knowledge-worker: credentials never checked, checked over six hours ago, or asked to be checked."""
    return await knowledge.credentials_to_validate(limit)


@router.get("/credentials/{credential_id}", response_model=Credential)
async def get_credential(credential_id: UUID, _: AdminAuth, knowledge: Knowledge) -> Credential:
    """One credential, masked."""
    return await knowledge.get_credential(credential_id)


@router.delete("/credentials/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(credential_id: UUID, _: AdminAuth, knowledge: Knowledge) -> Response:
    """Delete a credential; sources using it crawl without one."""
    await knowledge.delete_credential(credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/credentials/{credential_id}/validate", response_model=Credential, status_code=202)
async def validate_credential(credential_id: UUID, _: AdminAuth, knowledge: Knowledge) -> Credential:
    """Ask knowledge-worker to check the credential against its platform on its next round."""
    return await knowledge.request_validation(credential_id)


@router.post("/credentials/{credential_id}/validation", response_model=Credential)
async def record_credential_validation(
    credential_id: UUID, body: CredentialValidation, _: ServiceAuth, knowledge: Knowledge
) -> Credential:
    """knowledge-worker's verdict on a credential."""
    return await knowledge.record_validation(credential_id, body)


@router.get("/credentials/{credential_id}/secret", response_model=CredentialSecret)
async def reveal_credential(
    credential_id: UUID, _: ServiceTokenOnly, knowledge: Knowledge
) -> CredentialSecret:
    """The plaintext, to a Nova service only; the admin never gets it back."""
    return await knowledge.reveal(credential_id)
