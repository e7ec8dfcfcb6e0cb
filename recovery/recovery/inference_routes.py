"""Inference routes: hardware, a recommendation, stop/start of the local model server (admin only)."""

import asyncio

from fastapi import APIRouter, Request

from nova_common.auth import AdminAuth
from nova_contracts.recovery import BackendState, Hardware, InferenceRecommendation
from recovery import inference
from recovery.config import Settings
from recovery.services.routes import Manager

router = APIRouter(prefix="/api/v1/recovery/inference", tags=["inference"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


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
async def stop_backend(_: AdminAuth, manager: Manager, request: Request) -> BackendState:
    """Wait for the gateway's local requests to finish (bounded), then stop the local model server."""
    return await inference.stop_backend(_settings(request), manager)


@router.post("/backend/start", response_model=BackendState)
async def start_backend(_: AdminAuth, manager: Manager, request: Request) -> BackendState:
    """Start the local model server."""
    return await inference.start_backend(_settings(request), manager)
