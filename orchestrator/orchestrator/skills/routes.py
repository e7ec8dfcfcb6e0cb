"""`/api/v1/skills` and `/api/v1/rules`: admin CRUD."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from nova_common.auth import require_admin
from nova_contracts.orchestrator import RuleCreate, RuleInfo, RuleUpdate, SkillCreate, SkillInfo, SkillUpdate
from orchestrator.skills.service import SkillService

router = APIRouter(prefix="/api/v1", tags=["skills"], dependencies=[Depends(require_admin)])


async def get_skills(request: Request) -> SkillService:  # async: no thread hop per request
    service: SkillService = request.app.state.skills
    return service


Skills = Annotated[SkillService, Depends(get_skills)]


@router.get("/skills", response_model=list[SkillInfo])
async def list_skills(skills: Skills) -> list[SkillInfo]:
    """Every skill, by name."""
    return await skills.list_skills()


@router.post("/skills", response_model=SkillInfo, status_code=status.HTTP_201_CREATED)
async def create_skill(body: SkillCreate, skills: Skills) -> SkillInfo:
    """Create a skill; pod agents include it by name (`skills` of a pod agent)."""
    return await skills.create_skill(body)


@router.get("/skills/{skill_id}", response_model=SkillInfo)
async def get_skill(skill_id: uuid.UUID, skills: Skills) -> SkillInfo:
    """One skill."""
    return await skills.get_skill(skill_id)


@router.patch("/skills/{skill_id}", response_model=SkillInfo)
async def update_skill(skill_id: uuid.UUID, body: SkillUpdate, skills: Skills) -> SkillInfo:
    """Change a skill."""
    return await skills.update_skill(skill_id, body)


@router.delete("/skills/{skill_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_skill(skill_id: uuid.UUID, skills: Skills) -> Response:
    """Delete a skill; agents naming it no longer get it."""
    await skills.delete_skill(skill_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/rules", response_model=list[RuleInfo])
async def list_rules(skills: Skills) -> list[RuleInfo]:
    """Every rule, by name."""
    return await skills.list_rules()


@router.post("/rules", response_model=RuleInfo, status_code=status.HTTP_201_CREATED)
async def create_rule(body: RuleCreate, skills: Skills) -> RuleInfo:
    """Create a rule; with a tool or argument pattern it refuses matching tool calls."""
    return await skills.create_rule(body)


@router.get("/rules/{rule_id}", response_model=RuleInfo)
async def get_rule(rule_id: uuid.UUID, skills: Skills) -> RuleInfo:
    """One rule."""
    return await skills.get_rule(rule_id)


@router.patch("/rules/{rule_id}", response_model=RuleInfo)
async def update_rule(rule_id: uuid.UUID, body: RuleUpdate, skills: Skills) -> RuleInfo:
    """Change a rule; `null` clears a pattern."""
    return await skills.update_rule(rule_id, body)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: uuid.UUID, skills: Skills) -> Response:
    """Delete a rule."""
    await skills.delete_rule(rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
