"""Friction rules: a caller sees and acts on its own reports (the admin on all); "fix this" files a pipeline
task as that caller, with the report as its goal's context, and marks the report `fixing`."""

import uuid
from typing import Any

from nova_common.auth import Principal
from nova_common.errors import Conflict, NotFound
from nova_contracts.orchestrator import (
    FrictionCreate,
    FrictionInfo,
    FrictionStatus,
    FrictionUpdate,
    PipelineTaskSubmit,
)
from orchestrator.friction.repository import FrictionRepository
from orchestrator.keys.tenant import Tenant
from orchestrator.pipeline.service import PipelineService

GOAL_TEXT_CHARS = 8000


def fix_goal(report: dict[str, Any]) -> str:
    """The pipeline goal that asks for a report to be fixed."""
    page = f" on the dashboard page {report['page']}" if report["page"] else ""
    return (
        f"A user reported a problem{page} in the friction log (report {report['id']}). "
        f"Find the cause and fix it.\n\nThe report:\n{report['text'][:GOAL_TEXT_CHARS]}"
    )


class FrictionService:
    def __init__(self, repository: FrictionRepository, pipeline: PipelineService) -> None:
        self.repository = repository
        self.pipeline = pipeline

    async def create(self, body: FrictionCreate, tenant: Tenant) -> FrictionInfo:
        return FrictionInfo.model_validate(await self.repository.create(body, tenant.owner))

    async def list(
        self, tenant: Tenant, *, status: FrictionStatus | None, limit: int, offset: int
    ) -> list[FrictionInfo]:
        rows = await self.repository.list(
            owner=None if tenant.sees_everything else tenant.owner,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
        )
        return [FrictionInfo.model_validate(r) for r in rows]

    async def _report(self, report_id: uuid.UUID, tenant: Tenant) -> dict[str, Any]:
        report = await self.repository.get(report_id)
        if report is None or not tenant.may_see(report["owner"]):
            raise NotFound(f"friction report {report_id} not found")
        return report

    async def get(self, report_id: uuid.UUID, tenant: Tenant) -> FrictionInfo:
        return FrictionInfo.model_validate(await self._report(report_id, tenant))

    async def update(self, report_id: uuid.UUID, body: FrictionUpdate, tenant: Tenant) -> FrictionInfo:
        await self._report(report_id, tenant)
        assert body.status is not None  # the only field, and an update sends at least one
        row = await self.repository.set_status(report_id, body.status.value)
        if row is None:
            raise NotFound(f"friction report {report_id} not found")
        return FrictionInfo.model_validate(row)

    async def delete(self, report_id: uuid.UUID, tenant: Tenant) -> None:
        await self._report(report_id, tenant)
        if not await self.repository.delete(report_id):
            raise NotFound(f"friction report {report_id} not found")

    async def fix(self, report_id: uuid.UUID, caller: Principal) -> FrictionInfo:
        report = await self._report(report_id, Tenant.of(caller))
        if report["status"] == FrictionStatus.FIXING and report["task_id"] is not None:
            raise Conflict(f"friction report {report_id} is already being fixed by task {report['task_id']}")
        submit = PipelineTaskSubmit(
            goal=fix_goal(report),
            tags=["friction"],
            metadata={"friction_report_id": str(report_id), "page": report["page"][:500]},
        )
        task = await self.pipeline.submit(submit, caller)
        row = await self.repository.set_status(report_id, FrictionStatus.FIXING.value, task_id=task.id)
        if row is None:
            raise NotFound(f"friction report {report_id} not found")
        return FrictionInfo.model_validate(row)
