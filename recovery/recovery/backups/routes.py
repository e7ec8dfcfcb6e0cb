"""Backup routes: create (with live progress), list, download, upload, check, restore, delete."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse

from nova_common.auth import AdminAuth
from nova_common.errors import NovaError
from nova_common.sse import EventStream, json_event_stream
from nova_contracts.recovery import (
    ArchiveCheck,
    BackupCreate,
    BackupInfo,
    BackupList,
    BackupPhase,
    BackupProgress,
    BackupReason,
    RestoreReport,
    RestoreRequest,
)
from recovery.backups.service import BackupService

router = APIRouter(prefix="/api/v1/recovery/backups", tags=["backups"])
UPLOAD_PATH = "/api/v1/recovery/backups/upload"


async def get_backups(request: Request) -> BackupService:
    service: BackupService = request.app.state.backups
    return service


Backups = Annotated[BackupService, Depends(get_backups)]


@router.post(
    "",
    response_class=EventStream,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "BackupProgress events, then [DONE]"}
    },
)
async def create_backup(
    _: AdminAuth, backups: Backups, request: Request, body: BackupCreate | None = None
) -> EventStream:
    """Start a backup and stream its progress (SSE: phase, bytes, tables done); 409 while another runs."""
    body = body or BackupCreate()
    queue: asyncio.Queue[BackupProgress | None] = asyncio.Queue()
    # The lock is taken before the stream starts, so a second caller gets a plain 409, not an event.
    lock = backups.operations.exclusive("backup")
    await lock.__aenter__()

    async def run() -> None:
        try:
            await backups.create(
                BackupReason.MANUAL,
                include_env=body.include_env,
                include_workspace=body.include_workspace,
                progress=queue.put_nowait,
                locked=True,
            )
        except NovaError as exc:
            queue.put_nowait(BackupProgress(phase=BackupPhase.FAILED, detail=exc.detail))
        except Exception as exc:
            queue.put_nowait(
                BackupProgress(phase=BackupPhase.FAILED, detail=f"backup failed: {type(exc).__name__}")
            )
            raise
        finally:
            await lock.__aexit__(None, None, None)
            queue.put_nowait(None)

    # The backup runs on even if the client goes away; the archive appears in the list when done.
    job = asyncio.create_task(run(), name="backup")
    request.app.state.background_jobs.add(job)
    job.add_done_callback(request.app.state.background_jobs.discard)

    async def events() -> AsyncIterator[BackupProgress]:
        while (event := await queue.get()) is not None:
            yield event

    return json_event_stream(request, events())


@router.get("", response_model=BackupList)
async def list_backups(
    _: AdminAuth,
    backups: Backups,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> BackupList:
    """Backup archives, newest first, with their manifest's summary (`total` counts them all)."""
    listed = await backups.list_backups()
    return listed.model_copy(update={"backups": listed.backups[offset : offset + limit]})


@router.post(
    "/upload",
    response_model=BackupInfo,
    status_code=201,
    # The body is streamed to disk, not parsed, so it is declared here for the OpenAPI document only.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_backup(_: AdminAuth, backups: Backups, request: Request) -> BackupInfo:
    """Upload an archive (the raw tar as the body); it is verified whole before it is kept."""
    return await backups.upload(request)


@router.get("/{name}", response_class=FileResponse)
async def download_backup(_: AdminAuth, backups: Backups, name: str) -> FileResponse:
    """Download one archive."""
    path = backups.path_of(name)
    return FileResponse(path, media_type="application/x-tar", filename=name)


@router.get("/{name}/check", response_model=ArchiveCheck)
async def check_backup(_: AdminAuth, backups: Backups, name: str) -> ArchiveCheck:
    """Verify an archive (manifest, checksums, versions) without changing anything."""
    return await backups.check(name)


@router.post("/{name}/restore", response_model=RestoreReport)
async def restore_backup(
    _: AdminAuth, backups: Backups, name: str, body: RestoreRequest | None = None
) -> RestoreReport:
    """Verify, take a safety backup, restore, and compare every table and Redis DB with the manifest."""
    # Shielded: a client that goes away must not cancel a restore half-way (it runs to the end either way).
    restore = asyncio.ensure_future(backups.restore(name, restore_env=(body or RestoreRequest()).restore_env))
    return await asyncio.shield(restore)


@router.delete("/{name}", status_code=204)
async def delete_backup(_: AdminAuth, backups: Backups, name: str) -> None:
    """Delete one archive."""
    await backups.delete(name)
