"""Knowledge sources Nova reads for you (sites, GitHub accounts, pasted text), their crawls, and the
credential vault those crawls use.

The orchestrator owns sources, crawl records and credentials; knowledge-worker takes due sources (service
token), reports progress as it goes, and is the only caller that may read a credential's plaintext.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, model_validator

from nova_contracts.base import RequestModel, ResponseModel, UpdateRequestModel

Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-]+(:\d{1,5})?$")]
SourceUrl = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]


class KnowledgeSourceKind(StrEnum):
    SITE = "site"
    GITHUB = "github"
    TEXT = "text"


class KnowledgeSourceStatus(StrEnum):
    IDLE = "idle"
    QUEUED = "queued"
    CRAWLING = "crawling"
    ERROR = "error"


class CrawlStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


class CrawlSettings(RequestModel):
    max_pages: int = Field(default=50, ge=1, le=1000)
    max_depth: int = Field(default=3, ge=0, le=10)
    allowed_hosts: Annotated[list[Hostname], Field(max_length=20)] = Field(
        default_factory=list, description="empty: only the source URL's own host"
    )
    refresh_interval_seconds: int = Field(default=86_400, ge=3600, le=90 * 86_400)


class KnowledgeSourceCreate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: KnowledgeSourceKind
    url: SourceUrl | None = Field(default=None, description="a site's start page or a GitHub account URL")
    text: Annotated[str, Field(max_length=200_000)] | None = Field(default=None, description="kind text only")
    credential_id: UUID | None = None
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)

    @model_validator(mode="after")
    def _content_matches_kind(self) -> "KnowledgeSourceCreate":
        if self.kind is KnowledgeSourceKind.TEXT and not self.text:
            raise ValueError("a text source needs `text`")
        if self.kind is not KnowledgeSourceKind.TEXT and not self.url:
            raise ValueError(f"a {self.kind.value} source needs `url`")
        return self


class KnowledgeSourceUpdate(UpdateRequestModel):
    clearable = frozenset({"credential_id"})

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    crawl: CrawlSettings | None = None
    credential_id: UUID | None = None
    enabled: bool | None = None


class KnowledgeSource(ResponseModel):
    id: UUID
    name: str
    kind: KnowledgeSourceKind
    url: str | None
    text: str | None = None
    credential_id: UUID | None
    crawl: CrawlSettings
    enabled: bool
    status: KnowledgeSourceStatus
    last_crawl_at: datetime | None
    last_error: str | None
    error_count: int
    created_at: datetime
    updated_at: datetime


class CrawlProgress(RequestModel):
    """Counters a running crawl reports (knowledge-worker → orchestrator); each report replaces the last."""

    status: CrawlStatus = CrawlStatus.RUNNING
    fetched: int = Field(default=0, ge=0)
    queued: int = Field(default=0, ge=0)
    ingested: int = Field(default=0, ge=0)
    unchanged: int = Field(default=0, ge=0)
    skipped: dict[Annotated[str, Field(max_length=50)], int] = Field(
        default_factory=dict, description="by reason: robots, off_host, duplicate, not_html, refused, …"
    )
    error: Annotated[str, Field(max_length=2000)] | None = None
    log: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=200)] = Field(
        default_factory=list, description="the latest notable events, newest last"
    )


class Crawl(ResponseModel):
    id: UUID
    source_id: UUID
    status: CrawlStatus
    fetched: int
    queued: int
    ingested: int
    unchanged: int
    skipped: dict[str, int]
    error: str | None
    log: list[str]
    started_at: datetime
    finished_at: datetime | None


class CredentialPlatform(StrEnum):
    GITHUB = "github"


class CredentialCreate(RequestModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    platform: CredentialPlatform
    secret: Annotated[str, Field(min_length=4, max_length=4096)]


class Credential(ResponseModel):
    """A stored credential as the API shows it: never the secret, only its last four characters."""

    id: UUID
    name: str
    platform: CredentialPlatform
    masked: str = Field(examples=["••••abcd"])
    valid: bool | None = None
    validation_message: str | None = None
    validated_at: datetime | None = None
    validation_requested_at: datetime | None = None
    created_at: datetime


class CredentialSecret(ResponseModel):
    """The plaintext, for knowledge-worker only (service token)."""

    id: UUID
    platform: CredentialPlatform
    secret: str


class CredentialValidation(RequestModel):
    valid: bool
    message: Annotated[str, Field(max_length=500)] | None = None
