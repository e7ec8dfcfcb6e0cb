"""Knowledge rules: what a source needs, when it is crawled, how a crawl's progress is recorded, and the
vault (a secret goes in once and comes out only to a Nova service)."""

import uuid
from typing import Any
from urllib.parse import urlsplit

from nova_common.errors import Conflict, NotFound, UpstreamUnavailable
from nova_contracts.knowledge import (
    Crawl,
    CrawlProgress,
    Credential,
    CredentialCreate,
    CredentialSecret,
    CredentialValidation,
    KnowledgeSource,
    KnowledgeSourceCreate,
    KnowledgeSourceKind,
    KnowledgeSourceUpdate,
)
from orchestrator.intel.url_check import refuse_internal_url
from orchestrator.knowledge.repository import KnowledgeRepository
from orchestrator.knowledge.vault import Sealed, Vault, VaultUnreadable, mask

# Credentials are re-checked against their platform this often, and on request.
VALIDATION_INTERVAL_SECONDS = 6 * 3600
# A crawl reports after every page; one silent this long belongs to a worker that stopped (killed, crashed).
STALE_CRAWL_SECONDS = 15 * 60


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.lower()


class KnowledgeService:
    def __init__(
        self,
        repository: KnowledgeRepository,
        *,
        vault_factory: type[Vault] = Vault,
        allow_loopback: bool = False,
    ) -> None:
        self.repository = repository
        self._vault_factory = vault_factory
        self.allow_loopback = allow_loopback

    def _vault(self) -> Vault:
        # Built on use: a platform without CREDENTIAL_MASTER_KEY still serves sources, and says 503 here.
        return self._vault_factory.from_environment()

    # Sources ----------------------------------------------------------------------------------------------

    async def _source(self, source_id: uuid.UUID) -> dict[str, Any]:
        row = await self.repository.get_source(source_id)
        if row is None:
            raise NotFound(f"knowledge source {source_id} not found")
        return row

    async def _check_credential(self, credential_id: uuid.UUID | None) -> None:
        if credential_id is not None and await self.repository.get_credential(credential_id) is None:
            raise NotFound(f"credential {credential_id} not found")

    async def create_source(self, body: KnowledgeSourceCreate) -> KnowledgeSource:
        if body.url:
            refuse_internal_url(body.url, allow_loopback=self.allow_loopback)
        await self._check_credential(body.credential_id)
        crawl = body.crawl.model_dump()
        if body.url and not crawl["allowed_hosts"]:
            crawl["allowed_hosts"] = [_host(body.url)]
        crawl["allowed_hosts"] = [h.lower() for h in crawl["allowed_hosts"]]
        row = await self.repository.insert_source(
            {
                "name": body.name,
                "kind": body.kind.value,
                "url": body.url,
                "text": body.text if body.kind is KnowledgeSourceKind.TEXT else None,
                "credential_id": body.credential_id,
                "crawl": crawl,
            }
        )
        return KnowledgeSource.model_validate(row)

    async def sources(self, limit: int, offset: int) -> list[KnowledgeSource]:
        return [KnowledgeSource.model_validate(r) for r in await self.repository.sources(limit, offset)]

    async def get_source(self, source_id: uuid.UUID) -> KnowledgeSource:
        return KnowledgeSource.model_validate(await self._source(source_id))

    async def update_source(self, source_id: uuid.UUID, body: KnowledgeSourceUpdate) -> KnowledgeSource:
        values = body.model_dump(mode="python")
        if "credential_id" in values:
            await self._check_credential(values["credential_id"])
        if "crawl" in values:
            current = await self._source(source_id)
            crawl = dict(values["crawl"])
            if current["url"] and not crawl["allowed_hosts"]:
                crawl["allowed_hosts"] = [_host(current["url"])]
            values["crawl"] = crawl
        row = await self.repository.update_source(source_id, values)
        if row is None:
            raise NotFound(f"knowledge source {source_id} not found")
        return KnowledgeSource.model_validate(row)

    async def delete_source(self, source_id: uuid.UUID) -> None:
        if not await self.repository.delete_source(source_id):
            raise NotFound(f"knowledge source {source_id} not found")

    async def crawl_now(self, source_id: uuid.UUID) -> KnowledgeSource:
        source = await self._source(source_id)
        if not source["enabled"]:
            raise Conflict(f"knowledge source {source_id} is disabled: enable it first")
        if not await self.repository.queue_source(source_id):
            raise Conflict(f"knowledge source {source_id} is being crawled right now")
        return await self.get_source(source_id)

    async def claim_due(self, limit: int) -> list[KnowledgeSource]:
        return [
            KnowledgeSource.model_validate(r)
            for r in await self.repository.claim_due(limit, STALE_CRAWL_SECONDS)
        ]

    # Crawls -----------------------------------------------------------------------------------------------

    async def start_crawl(self, source_id: uuid.UUID) -> Crawl:
        await self._source(source_id)
        return Crawl.model_validate(await self.repository.insert_crawl(source_id))

    async def report_crawl(self, source_id: uuid.UUID, crawl_id: uuid.UUID, body: CrawlProgress) -> Crawl:
        row = await self.repository.update_crawl(source_id, crawl_id, body.model_dump(mode="json"))
        if row is None:
            existing = await self.repository.get_crawl(source_id, crawl_id)
            if existing is None:
                raise NotFound(f"crawl {crawl_id} of source {source_id} not found")
            raise Conflict(f"crawl {crawl_id} has finished already ({existing['status']})")
        return Crawl.model_validate(row)

    async def crawls(self, source_id: uuid.UUID, limit: int, offset: int) -> list[Crawl]:
        await self._source(source_id)
        return [Crawl.model_validate(r) for r in await self.repository.crawls(source_id, limit, offset)]

    # Credentials ------------------------------------------------------------------------------------------

    async def _credential(self, credential_id: uuid.UUID) -> dict[str, Any]:
        row = await self.repository.get_credential(credential_id)
        if row is None:
            raise NotFound(f"credential {credential_id} not found")
        return row

    async def add_credential(self, body: CredentialCreate) -> Credential:
        credential_id = uuid.uuid4()
        sealed = self._vault().seal(credential_id, body.secret)
        row = await self.repository.insert_credential(
            {
                "id": credential_id,
                "name": body.name,
                "platform": body.platform.value,
                "key_nonce": sealed.key_nonce,
                "wrapped_key": sealed.wrapped_key,
                "nonce": sealed.nonce,
                "ciphertext": sealed.ciphertext,
                "masked": mask(body.secret),
            }
        )
        return Credential.model_validate(row)

    async def credentials(self, limit: int, offset: int) -> list[Credential]:
        return [Credential.model_validate(r) for r in await self.repository.credentials(limit, offset)]

    async def get_credential(self, credential_id: uuid.UUID) -> Credential:
        return Credential.model_validate(await self._credential(credential_id))

    async def delete_credential(self, credential_id: uuid.UUID) -> None:
        if not await self.repository.delete_credential(credential_id):
            raise NotFound(f"credential {credential_id} not found")

    async def reveal(self, credential_id: uuid.UUID) -> CredentialSecret:
        row = await self._credential(credential_id)
        sealed = Sealed(row["key_nonce"], row["wrapped_key"], row["nonce"], row["ciphertext"])
        try:
            secret = self._vault().open(credential_id, sealed)
        except VaultUnreadable as exc:
            # The stored row is intact; the key in .env is not the one that sealed it.
            raise UpstreamUnavailable(f"{exc}: was CREDENTIAL_MASTER_KEY changed?") from exc
        return CredentialSecret(id=credential_id, platform=row["platform"], secret=secret)

    async def request_validation(self, credential_id: uuid.UUID) -> Credential:
        if not await self.repository.request_validation(credential_id):
            raise NotFound(f"credential {credential_id} not found")
        return await self.get_credential(credential_id)

    async def record_validation(self, credential_id: uuid.UUID, body: CredentialValidation) -> Credential:
        if not await self.repository.record_validation(credential_id, body.valid, body.message):
            raise NotFound(f"credential {credential_id} not found")
        return await self.get_credential(credential_id)

    async def credentials_to_validate(self, limit: int) -> list[Credential]:
        rows = await self.repository.credentials_to_validate(VALIDATION_INTERVAL_SECONDS, limit)
        return [Credential.model_validate(r) for r in rows]
