"""Inference routes: hardware, a recommendation, stop/start/switch of the local model server (admin only)."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from nova_common.auth import AdminAuth
from nova_contracts.llm import InferenceState
from nova_contracts.recovery import (
    BackendState,
    Hardware,
    InferenceBackendStatus,
    InferenceRecommendation,
    InferenceSwitchProgress,
    InferenceSwitchRequest,
)
from recovery import inference
from recovery.config import Settings
from recovery.inference_switch import InferenceSwitcher
from recovery.services.routes import Manager

router = APIRouter(prefix="/api/v1/recovery/inference", tags=["inference"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _switcher(request: Request) -> InferenceSwitcher:
    switcher: InferenceSwitcher = request.app.state.inference
    return switcher


Switcher = Annotated[InferenceSwitcher, Depends(_switcher)]


@router.get("/hardware", response_model=Hardware)
async def get_hardware(_: AdminAuth, request: Request) -> Hardware:
    """CPU, RAM, disk and GPUs (nvidia-smi / rocm-smi when present)."""
    return await asyncio.to_thread(inference.detect_hardware, _settings(request).data_dir)


@router.get("/recommendation", response_model=InferenceRecommendation)
async def get_recommendation(_: AdminAuth, request: Request) -> InferenceRecommendation:
    """A backend and model that fit this machine."""
    return inference.recommend(
        await asyncio.to_thread(inference.detect_hardware, _settings(request).data_dir)
    )


@router.post("/backend/stop", response_model=BackendState)
async def stop_backend(_: AdminAuth, manager: Manager, switcher: Switcher, request: Request) -> BackendState:
    """Wait for the gateway's local requests to finish (bounded), then stop the local model server."""
    switcher.ensure_idle()
    state = await inference.stop_backend(_settings(request), manager)
    await switcher.publish_state(InferenceState.STOPPED)
    return state


@router.post("/backend/start", response_model=BackendState)
async def start_backend(_: AdminAuth, manager: Manager, switcher: Switcher, request: Request) -> BackendState:
    """Start the local model server."""
    switcher.ensure_idle()
    state = await inference.start_backend(_settings(request), manager)
    # The gateway probes the server itself and reports it unavailable until it answers.
    await switcher.publish_state(InferenceState.READY)
    return state


@router.get("/backend", response_model=InferenceBackendStatus)
async def get_backend(_: AdminAuth, switcher: Switcher) -> InferenceBackendStatus:
    """The backend and model the gateway routes local requests to, the last switch, and what can be chosen."""
    return await switcher.status()


@router.post("/backend/switch", response_model=InferenceSwitchProgress, status_code=202)
async def switch_backend(
    _: AdminAuth, switcher: Switcher, body: InferenceSwitchRequest
) -> InferenceSwitchProgress:
    """Switch the local model slot to another backend or model (drain, stop, start, publish), in the
    background: follow it on GET /backend. 409 while a switch runs; 400 names the valid backends/models."""
    return await switcher.start(body)
