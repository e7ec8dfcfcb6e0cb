"""Recovery's contract: backups (manifest, progress, listing), restore reports, factory reset, checkpoints."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from nova_contracts.base import RequestModel, ResponseModel

# Archives this build writes; a reader refuses any other format version (a newer layout it cannot check).
BACKUP_FORMAT = "nova-backup"
BACKUP_FORMAT_VERSION = 1


class BackupReason(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BEFORE_RESTORE = "before-restore"
    BEFORE_RESET = "before-reset"
    UPLOADED = "uploaded"


class TableChecksum(StrEnum):
    """How the tables' checksums of a manifest were taken: a restore re-takes them the same way."""

    # The sum of a 64-bit hash of each row's text form: the first archives' method (a manifest without the
    # field was written with it).
    ROW_TEXT = "row-text"
    # The sum of the first 64 bits of an md5 of each row's binary form: about three times cheaper at 100k
    # memories with vectors, where printing every float as text was most of the work.
    ROW_BINARY = "row-binary"


class TableStats(ResponseModel):
    """One table as it was (or is): row count and an order-independent checksum of its rows."""

    name: str
    rows: int = Field(ge=0)
    checksum: str


class RedisDbStats(ResponseModel):
    db: int = Field(ge=0, le=15)
    keys: int = Field(ge=0)
    checksum: str


class ArchiveMember(ResponseModel):
    name: str
    size: int = Field(ge=0)
    sha256: str


class EnvSection(ResponseModel):
    """The `.env` keys kept in the archive, sealed with a key derived from the admin secret."""

    included: bool
    keys: list[str] = Field(default_factory=list)
    reason: str | None = None


class BackupManifest(ResponseModel):
    format: str = BACKUP_FORMAT
    format_version: int = BACKUP_FORMAT_VERSION
    id: str
    created_at: datetime
    reason: BackupReason
    nova_version: str
    postgres_server_version: str
    pg_dump_version: str
    redis_version: str
    tables: list[TableStats]
    table_checksum: TableChecksum = TableChecksum.ROW_TEXT
    redis: list[RedisDbStats]
    workspace_files: int = Field(ge=0)
    env: EnvSection
    members: list[ArchiveMember]


class BackupInfo(ResponseModel):
    """A backup as the list shows it (the manifest's summary, without checksums)."""

    name: str
    size_bytes: int = Field(ge=0)
    created_at: datetime
    reason: BackupReason
    nova_version: str
    tables: int = Field(ge=0)
    rows: int = Field(ge=0)
    redis_keys: int = Field(ge=0)
    workspace_files: int = Field(ge=0)
    env_included: bool


class BackupList(ResponseModel):
    backups: list[BackupInfo]
    total: int = Field(ge=0)
    total_size_bytes: int = Field(ge=0)


class BackupPhase(StrEnum):
    STARTED = "started"
    POSTGRES = "postgres"
    REDIS = "redis"
    ENV = "env"
    WORKSPACE = "workspace"
    ARCHIVE = "archive"
    DONE = "done"
    FAILED = "failed"


class BackupProgress(ResponseModel):
    """One SSE event of `POST /api/v1/recovery/backups`."""

    phase: BackupPhase
    bytes_written: int = Field(default=0, ge=0)
    tables_done: int = Field(default=0, ge=0)
    tables_total: int = Field(default=0, ge=0)
    backup: BackupInfo | None = None
    detail: str | None = None


class BackupCreate(RequestModel):
    include_env: bool = True
    include_workspace: bool = True


class RestoreRequest(RequestModel):
    # Writing the archive's `.env` keys back changes what every service reads at its next start.
    restore_env: bool = False


class TableComparison(ResponseModel):
    name: str
    expected_rows: int
    actual_rows: int | None
    checksum_matches: bool


class RedisComparison(ResponseModel):
    db: int
    expected_keys: int
    actual_keys: int
    checksum_matches: bool


class RestoreReport(ResponseModel):
    restored: str
    safety_backup: str | None
    matches: bool
    tables: list[TableComparison]
    redis: list[RedisComparison]
    workspace_files: int
    env_keys_written: list[str] = Field(default_factory=list)
    restart_needed: list[str] = Field(default_factory=list)


class ArchiveCheck(ResponseModel):
    """What a pre-check of an archive found; a restore would refuse it unless `ok`."""

    name: str
    ok: bool
    problems: list[str]
    manifest: BackupManifest | None = None


class ResetCategoryName(StrEnum):
    CHAT_HISTORY = "chat_history"
    PIPELINE_HISTORY = "pipeline_history"
    MEMORIES = "memories"
    GOALS_AND_CORTEX = "goals_and_cortex"
    FEEDS_AND_KNOWLEDGE = "feeds_and_knowledge"
    API_KEYS = "api_keys"
    PROVIDER_KEYS_AND_SETTINGS = "provider_keys_and_settings"
    BACKUPS = "backups"


class RedisPattern(ResponseModel):
    db: int
    pattern: str


class ResetCategory(ResponseModel):
    name: ResetCategoryName
    title: str
    description: str
    tables: list[str]
    redis: list[RedisPattern]
    files: list[str] = Field(default_factory=list)


class ResetCategories(ResponseModel):
    categories: list[ResetCategory]


class ResetRequest(RequestModel):
    categories: Annotated[list[ResetCategoryName], Field(min_length=1, max_length=20)]
    # Typed by the user, so a stray click cannot wipe anything.
    confirm: str
    backup_first: bool = True


class ResetReport(ResponseModel):
    categories: list[ResetCategoryName]
    backup: str | None
    rows_deleted: dict[str, int]
    redis_keys_deleted: int
    files_deleted: int


class CheckpointSchedule(ResponseModel):
    enabled: bool = True
    interval_hours: float = Field(default=6.0, ge=0.25, le=24 * 30)
    keep_last: int = Field(default=5, ge=1, le=1000)
    keep_daily_days: int = Field(default=7, ge=0, le=3650)
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None


class CheckpointScheduleUpdate(RequestModel):
    enabled: bool | None = None
    interval_hours: Annotated[float, Field(ge=0.25, le=24 * 30)] | None = None
    keep_last: Annotated[int, Field(ge=1, le=1000)] | None = None
    keep_daily_days: Annotated[int, Field(ge=0, le=3650)] | None = None


class ManagedService(ResponseModel):
    """A service as the process manager (launcher supervisor or Docker) sees it."""

    name: str
    running: bool
    pid: int | None = None
    restarts: int = 0
    detail: str | None = None


class ManagedServices(ResponseModel):
    manager: str
    services: list[ManagedService]


class ServiceAction(ResponseModel):
    action: str
    services: list[str]


class ServiceLogs(ResponseModel):
    name: str
    lines: list[str]


class EnvEntry(ResponseModel):
    """A whitelisted `.env` key: its value, or for a secret only whether it is set and its last characters."""

    key: str
    secret: bool
    set: bool
    value: str | None
    restart: list[str]


class EnvView(ResponseModel):
    path: str
    entries: list[EnvEntry]


class EnvUpdate(RequestModel):
    # A value sets the key; null removes it from the file.
    updates: Annotated[
        dict[str, Annotated[str, Field(max_length=4096)] | None], Field(min_length=1, max_length=50)
    ]


class EnvUpdateResult(ResponseModel):
    changed: list[str]
    restart_needed: list[str]


class DatabaseStatus(ResponseModel):
    connected: bool
    size_bytes: int | None = None
    tables: int | None = None


class BackupsStatus(ResponseModel):
    count: int
    latest_at: datetime | None = None
    total_size_bytes: int


class RecoveryStatus(ResponseModel):
    """The public overview: service readiness counts, database size, backups, a running operation's kind."""

    services_ready: int
    services_total: int
    database: DatabaseStatus
    backups: BackupsStatus
    operation: str | None = None


class Gpu(ResponseModel):
    vendor: str
    name: str
    memory_total_mb: int | None = None
    memory_used_mb: int | None = None


class Hardware(ResponseModel):
    cpu_model: str | None
    cpu_count: int
    ram_total_mb: int
    ram_available_mb: int
    disk_free_mb: int
    disk_total_mb: int
    gpus: list[Gpu]


class InferenceRecommendation(ResponseModel):
    backend: str
    model: str
    reason: str


class BackendState(ResponseModel):
    service: str
    running: bool
    drained: bool
    inflight_at_stop: int | None = None
    detail: str | None = None


# Switching the local model server (recovery's `/inference/backend`).


class InferenceSwitchPhase(StrEnum):
    PULLING = "pulling"
    DRAINING = "draining"
    STOPPING = "stopping"
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    ROLLING_BACK = "rolling_back"
    FAILED = "failed"


class InferenceSwitchRequest(RequestModel):
    backend: str = Field(min_length=1, max_length=40, description="llamacpp, ollama, vllm or sglang")
    model: str = Field(
        min_length=1,
        max_length=500,
        description="a model the backend offers here (see GET .../inference/backend), or a .gguf path for llamacpp",
    )


class InferenceSwitchProgress(ResponseModel):
    backend: str
    model: str
    phase: InferenceSwitchPhase
    url: str | None = None
    served_model: str | None = Field(default=None, description="the name the server lists the model under")
    drained: bool | None = None
    inflight_at_stop: int | None = None
    detail: str | None = None
    started_at: datetime
    finished_at: datetime | None = None


class InferenceBackendOption(ResponseModel):
    backend: str
    models: list[str]
    accepts_path: bool = Field(
        default=False, description="also accepts the absolute path of a .gguf file on this machine"
    )


class InferenceBackendStatus(ResponseModel):
    manager: Literal["launcher", "docker"] | None
    backend: str = Field(description="what llm-gateway routes local requests to (`inference.backend`)")
    state: str = Field(description="the gateway's `inference.state`: only `ready` receives traffic")
    url: str | None
    model: str | None = Field(description="the model the last switch started, when recovery knows it")
    switching: bool
    last_switch: InferenceSwitchProgress | None
    options: list[InferenceBackendOption]
