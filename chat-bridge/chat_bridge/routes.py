"""HTTP routes: adapter status, reload (admin), and the endpoints Telegram and Slack push updates to."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request
from starlette.responses import Response

from chat_bridge.adapters.manager import AdapterManager
from chat_bridge.adapters.telegram import SECRET_HEADER
from nova_common.auth import AdminAuth
from nova_common.errors import NotFound
from nova_contracts.chat import BridgeStatus

router = APIRouter()


async def _manager(request: Request) -> AdapterManager:
    manager: AdapterManager = request.app.state.adapters
    return manager


Adapters = Annotated[AdapterManager, Depends(_manager)]


@router.get("/api/status", response_model=BridgeStatus, tags=["bridge"])
async def get_status(adapters: Adapters) -> BridgeStatus:
    """Each platform adapter: configured or not, running or failed (with the error), and its mode."""
    return adapters.status()


@router.post("/reload", response_model=BridgeStatus, tags=["bridge"])
async def reload_adapters(_: AdminAuth, adapters: Adapters) -> BridgeStatus:
    """Re-read tokens and settings and restart the adapters (the dashboard's "apply" after editing them)."""
    return await adapters.start()


@router.post("/webhook/telegram", tags=["webhooks"])
async def receive_telegram_update(
    adapters: Adapters,
    update: Annotated[dict[str, Any], Body()],
    secret: Annotated[str | None, Header(alias=SECRET_HEADER)] = None,
) -> dict[str, bool]:
    """Telegram's webhook delivery (webhook mode only); the secret-token header must match."""
    if adapters.telegram is None:
        raise NotFound("the Telegram adapter is not running")
    await adapters.telegram.handle_webhook(update, secret)
    return {"ok": True}


@router.post("/slack/events", tags=["webhooks"])
async def receive_slack_request(request: Request, adapters: Adapters) -> Response:
    """Slack's Events API and slash-command deliveries (HTTP mode); bolt verifies the signature."""
    if adapters.slack is None:
        raise NotFound("the Slack adapter is not running")
    return await adapters.slack.handle_http(request)
