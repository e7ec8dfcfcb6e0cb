"""SQL for pods and their agents; an update that sends `agents` replaces the list in the same transaction."""

import json
import uuid
from typing import Any

import asyncpg

from nova_contracts.orchestrator import PodAgentConfig, PodCreate

_POD_COLUMNS = (
    "name", "description", "enabled", "is_default", "default_model", "max_cost_usd", "max_execution_seconds",
    "require_human_review", "escalation_threshold", "routing_keywords", "routing_regex", "priority",
    "fallback_pod_id", "sandbox_tier",
)  # fmt: skip
_AGENT_JSON = ("allowed_tools", "run_condition", "output_schema", "skills")


def _pod_values(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if k in _POD_COLUMNS}
    if "routing_keywords" in out:
        out["routing_keywords"] = json.dumps(out["routing_keywords"])
    return out


def _agent_row(record: asyncpg.Record) -> dict[str, Any]:
    data = {k: v for k, v in dict(record).items() if k not in ("id", "pod_id")}
    for column in _AGENT_JSON:
        if isinstance(data.get(column), str):
            data[column] = json.loads(data[column])
    return data


class PodRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def all(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            pods = await conn.fetch("SELECT * FROM pods ORDER BY priority DESC, name")
            agents = await conn.fetch("SELECT * FROM pod_agents ORDER BY position, name")
        by_pod: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for agent in agents:
            by_pod.setdefault(agent["pod_id"], []).append(_agent_row(agent))
        return [self._pod(p, by_pod.get(p["id"], [])) for p in pods]

    async def get(self, pod_id: uuid.UUID) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn:
            pod = await conn.fetchrow("SELECT * FROM pods WHERE id = $1", pod_id)
            if pod is None:
                return None
            agents = await conn.fetch(
                "SELECT * FROM pod_agents WHERE pod_id = $1 ORDER BY position, name", pod_id
            )
        return self._pod(pod, [_agent_row(a) for a in agents])

    @staticmethod
    def _pod(record: asyncpg.Record, agents: list[dict[str, Any]]) -> dict[str, Any]:
        data = dict(record)
        data["routing_keywords"] = json.loads(data["routing_keywords"])
        if data["max_cost_usd"] is not None:
            data["max_cost_usd"] = float(data["max_cost_usd"])
        data["agents"] = agents
        return data

    async def create(self, pod: PodCreate, *, conn: asyncpg.Connection | None = None) -> uuid.UUID:
        if conn is None:
            async with self.pool.acquire() as own, own.transaction():
                return await self.create(pod, conn=own)
        values = _pod_values(pod.model_dump(mode="json"))
        if values.get("is_default"):
            await conn.execute("UPDATE pods SET is_default = false WHERE is_default")
        columns = list(values)
        placeholders = [
            f"${i + 1}" + ("::jsonb" if c == "routing_keywords" else "") for i, c in enumerate(columns)
        ]
        pod_id: uuid.UUID = await conn.fetchval(
            f"INSERT INTO pods ({', '.join(columns)}) VALUES ({', '.join(placeholders)}) RETURNING id",  # noqa: S608 - column names from _POD_COLUMNS
            *values.values(),
        )
        await self._replace_agents(conn, pod_id, pod.agents)
        return pod_id

    async def update(
        self, pod_id: uuid.UUID, changes: dict[str, Any], agents: list[PodAgentConfig] | None
    ) -> bool:
        values = _pod_values(changes)
        async with self.pool.acquire() as conn, conn.transaction():
            if values.get("is_default"):
                await conn.execute("UPDATE pods SET is_default = false WHERE is_default AND id <> $1", pod_id)
            sets = [
                f"{c} = ${i + 2}" + ("::jsonb" if c == "routing_keywords" else "")
                for i, c in enumerate(values)
            ]
            sets.append("updated_at = now()")
            status = await conn.execute(
                f"UPDATE pods SET {', '.join(sets)} WHERE id = $1",  # noqa: S608 - column names from _POD_COLUMNS
                pod_id,
                *values.values(),
            )
            if status.endswith(" 0"):
                return False
            if agents is not None:
                await conn.execute("DELETE FROM pod_agents WHERE pod_id = $1", pod_id)
                await self._replace_agents(conn, pod_id, agents)
        return True

    @staticmethod
    async def _replace_agents(
        conn: asyncpg.Connection, pod_id: uuid.UUID, agents: list[PodAgentConfig]
    ) -> None:
        await conn.executemany(
            """INSERT INTO pod_agents (pod_id, name, role, enabled, model, temperature, max_tokens, timeout_seconds,
                                       max_retries, system_prompt, allowed_tools, on_failure, run_condition,
                                       output_schema, artifact_type, position, skills)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13::jsonb, $14::jsonb, $15, $16,
                       $17::jsonb)""",
            [
                (
                    pod_id,
                    a.name,
                    a.role.value,
                    a.enabled,
                    a.model,
                    a.temperature,
                    a.max_tokens,
                    a.timeout_seconds,
                    a.max_retries,
                    a.system_prompt,
                    json.dumps(a.allowed_tools),
                    a.on_failure.value,
                    a.run_condition.model_dump_json(),
                    json.dumps(a.output_schema) if a.output_schema else None,
                    a.artifact_type,
                    a.position,
                    json.dumps(a.skills),
                )
                for a in agents
            ],
        )

    async def add_agent(self, pod_id: uuid.UUID, agent: PodAgentConfig) -> None:
        """Add one agent to a pod; raises ForeignKeyViolationError (no pod) or UniqueViolationError (name)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._replace_agents(conn, pod_id, [agent])
            await conn.execute("UPDATE pods SET updated_at = now() WHERE id = $1", pod_id)

    async def remove_agent(self, pod_id: uuid.UUID, name: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "DELETE FROM pod_agents WHERE pod_id = $1 AND name = $2", pod_id, name
            )
            await conn.execute("UPDATE pods SET updated_at = now() WHERE id = $1", pod_id)
        return str(status).endswith(" 1")

    async def delete(self, pod_id: uuid.UUID) -> bool:
        status = await self.pool.execute("DELETE FROM pods WHERE id = $1", pod_id)
        return status.endswith(" 1")

    async def seed(self, presets: list[PodCreate]) -> list[str]:
        """Create each preset the first time this database sees it; return the names created."""
        created: list[str] = []
        async with self.pool.acquire() as conn, conn.transaction():
            # Two orchestrators starting together must not both seed.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('nova:pipeline:pod-presets'))")
            for preset in presets:
                first_time = await conn.fetchval(
                    "INSERT INTO pod_presets_seeded (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING name",
                    preset.name,
                )
                if first_time is None:
                    continue
                exists = await conn.fetchval("SELECT 1 FROM pods WHERE name = $1", preset.name)
                if exists is None:
                    has_default = await conn.fetchval("SELECT 1 FROM pods WHERE is_default")
                    pod = preset.model_copy(update={"is_default": preset.is_default and has_default is None})
                    await self.create(pod, conn=conn)
                    created.append(preset.name)
        return created
