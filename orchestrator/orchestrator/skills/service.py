"""Skills and rules: admin CRUD, the prompt text pipeline agents get, and the check before a tool call runs.

Rules are read on every tool call, so each process keeps them for a few seconds; a change made through this
process is seen at once, one made through another orchestrator within `cache_seconds`.
"""

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from nova_common.errors import BadRequest, Conflict, NotFound
from nova_contracts.llm import ToolCall
from nova_contracts.orchestrator import (
    RuleCreate,
    RuleInfo,
    RuleUpdate,
    SkillCreate,
    SkillInfo,
    SkillUpdate,
)
from orchestrator.skills.repository import RuleRepository, SkillRepository

Info = TypeVar("Info", SkillInfo, RuleInfo)


@dataclass(frozen=True)
class CompiledRule:
    name: str
    description: str
    tool: re.Pattern[str] | None
    argument: re.Pattern[str] | None

    def blocks(self, call: ToolCall) -> bool:
        if self.tool is None and self.argument is None:
            return False  # a prompt-only rule
        if self.tool is not None and not self.tool.fullmatch(call.name):
            return False
        arguments = json.dumps(call.arguments, ensure_ascii=False, sort_keys=True)
        return self.argument is None or self.argument.search(arguments) is not None


def _compile(field: str, pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise BadRequest(f"{field} does not compile: {exc}") from exc


def rule_refusal(rule: CompiledRule) -> str:
    """The tool result the model (and the task's timeline) sees for a blocked call."""
    return f"blocked by rule {rule.name!r}: {rule.description}"


class SkillService:
    def __init__(self, skills: SkillRepository, rules: RuleRepository, *, cache_seconds: float = 5.0) -> None:
        self.skills = skills
        self.rules = rules
        self.cache_seconds = cache_seconds
        self._rules: list[CompiledRule] | None = None
        self._rules_at = 0.0

    # Skills.

    async def list_skills(self) -> list[SkillInfo]:
        return [SkillInfo.model_validate(r) for r in await self.skills.all()]

    async def get_skill(self, skill_id: uuid.UUID) -> SkillInfo:
        return SkillInfo.model_validate(_found(await self.skills.get(skill_id), "skill", skill_id))

    async def create_skill(self, body: SkillCreate) -> SkillInfo:
        return await _unique(SkillInfo, self.skills.create(body.model_dump()), "skill", body.name)

    async def update_skill(self, skill_id: uuid.UUID, body: SkillUpdate) -> SkillInfo:
        row = await _unique(None, self.skills.update(skill_id, body.model_dump()), "skill", body.name)
        return SkillInfo.model_validate(_found(row, "skill", skill_id))

    async def delete_skill(self, skill_id: uuid.UUID) -> None:
        if not await self.skills.delete(skill_id):
            raise NotFound(f"skill {skill_id} not found")

    async def skill_text(self, names: list[str]) -> str:
        """The content of the enabled skills named, for a prompt; unknown or disabled names add nothing."""
        if not names:
            return ""
        rows = await self.skills.by_names(names)
        return "\n\n".join(f"## Skill: {r['name']}\n{r['content']}" for r in rows)

    # Rules.

    async def list_rules(self) -> list[RuleInfo]:
        return [RuleInfo.model_validate(r) for r in await self.rules.all()]

    async def get_rule(self, rule_id: uuid.UUID) -> RuleInfo:
        return RuleInfo.model_validate(_found(await self.rules.get(rule_id), "rule", rule_id))

    async def create_rule(self, body: RuleCreate) -> RuleInfo:
        _compile("tool_pattern", body.tool_pattern)
        _compile("argument_pattern", body.argument_pattern)
        created = await _unique(RuleInfo, self.rules.create(body.model_dump()), "rule", body.name)
        self._rules = None
        return created

    async def update_rule(self, rule_id: uuid.UUID, body: RuleUpdate) -> RuleInfo:
        changes = body.model_dump()
        _compile("tool_pattern", changes.get("tool_pattern"))
        _compile("argument_pattern", changes.get("argument_pattern"))
        row = await _unique(None, self.rules.update(rule_id, changes), "rule", body.name)
        self._rules = None
        return RuleInfo.model_validate(_found(row, "rule", rule_id))

    async def delete_rule(self, rule_id: uuid.UUID) -> None:
        if not await self.rules.delete(rule_id):
            raise NotFound(f"rule {rule_id} not found")
        self._rules = None

    async def active_rules(self) -> list[CompiledRule]:
        if self._rules is None or time.monotonic() - self._rules_at > self.cache_seconds:
            read_at = time.monotonic()
            rows = await self.rules.all(enabled_only=True)
            compiled = []
            for r in rows:
                try:
                    tool, argument = _compile("", r["tool_pattern"]), _compile("", r["argument_pattern"])
                except BadRequest:
                    continue  # checked on write; a pattern Python cannot compile cannot be enforced
                compiled.append(CompiledRule(r["name"], r["description"], tool, argument))
            self._rules, self._rules_at = compiled, read_at
        return self._rules

    async def blocking_rule(self, call: ToolCall) -> CompiledRule | None:
        """The first enabled rule that refuses `call`, if any."""
        return next((r for r in await self.active_rules() if r.blocks(call)), None)

    async def rules_text(self) -> str:
        """The enabled rules as prompt text."""
        rules = await self.active_rules()
        if not rules:
            return ""
        lines = "\n".join(f"- {r.name}: {r.description}" for r in rules)
        return f"## Rules you must follow (a tool call that breaks one is refused)\n{lines}"


def _found(row: dict[str, Any] | None, kind: str, row_id: uuid.UUID) -> dict[str, Any]:
    if row is None:
        raise NotFound(f"{kind} {row_id} not found")
    return row


async def _unique(model: type[Info] | None, write: Any, kind: str, name: str | None) -> Any:
    """Await a write, turning a duplicate name into a 409; validate the row into `model` when given."""
    try:
        row = await write
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a {kind} named {name!r} already exists") from exc
    return model.model_validate(row) if model is not None else row
