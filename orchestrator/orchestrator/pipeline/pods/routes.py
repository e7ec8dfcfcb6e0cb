"""`/api/v1/pods`: read with an API key, change with the admin secret."""

import uuid

from fastapi import APIRouter, Depends, Request, status

from nova_common.auth import require_admin
from nova_contracts.orchestrator import PodAgentConfig, PodCreate, PodInfo, PodUpdate
from orchestrator.deps import CallerAuth, Page
from orchestrator.pipeline.pods.service import PodService

router = APIRouter(prefix="/api/v1/pods", tags=["pods"])


async def get_pods(request: Request) -> PodService:  # async: no thread hop per request
    service: PodService = request.app.state.pipeline.pods
    return service


@router.get("", response_model=list[PodInfo])
async def list_pods(_: CallerAuth, page: Page, pods: PodService = Depends(get_pods)) -> list[PodInfo]:
    """All pods with their agents, highest routing priority first."""
    # Pods are few and cached whole; a page is a slice of the cache.
    return (await pods.all())[page.offset : page.offset + page.limit]


@router.get("/{pod_id}", response_model=PodInfo)
async def get_pod(pod_id: uuid.UUID, _: CallerAuth, pods: PodService = Depends(get_pods)) -> PodInfo:
    """One pod with its agents."""
    return await pods.get(pod_id)


@router.post(
    "", response_model=PodInfo, status_code=status.HTTP_201_CREATED, dependencies=[Depends(require_admin)]
)
async def create_pod(body: PodCreate, pods: PodService = Depends(get_pods)) -> PodInfo:
    """Create a pod (admin)."""
    return await pods.create(body)


@router.patch("/{pod_id}", response_model=PodInfo, dependencies=[Depends(require_admin)])
async def update_pod(pod_id: uuid.UUID, body: PodUpdate, pods: PodService = Depends(get_pods)) -> PodInfo:
    """Change a pod (admin); `agents` replaces the whole agent list. Running tasks keep the pod they started with."""
    return await pods.update(pod_id, body)


@router.delete("/{pod_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_admin)])
async def delete_pod(pod_id: uuid.UUID, pods: PodService = Depends(get_pods)) -> None:
    """Delete a pod (admin). Its tasks keep their snapshot of it."""
    await pods.delete(pod_id)


@router.get("/{pod_id}/agents", response_model=list[PodAgentConfig])
async def list_pod_agents(
    pod_id: uuid.UUID, _: CallerAuth, pods: PodService = Depends(get_pods)
) -> list[PodAgentConfig]:
    """A pod's agents in stage order."""
    return (await pods.get(pod_id)).agents


@router.post(
    "/{pod_id}/agents",
    response_model=PodAgentConfig,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_admin)],
)
async def add_pod_agent(
    pod_id: uuid.UUID, body: PodAgentConfig, pods: PodService = Depends(get_pods)
) -> PodAgentConfig:
    """Add one agent to a pod (admin); its name must be new in the pod."""
    return await pods.add_agent(pod_id, body)


@router.delete(
    "/{pod_id}/agents/{agent_name}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(require_admin)],
)
async def remove_pod_agent(pod_id: uuid.UUID, agent_name: str, pods: PodService = Depends(get_pods)) -> None:
    """Remove an agent, named by its name, from a pod (admin)."""
    await pods.remove_agent(pod_id, agent_name)
