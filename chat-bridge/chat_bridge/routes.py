"""HTTP routes: adapter status, reload (admin), and the endpoints Telegram and Slack push updates to."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
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


# The body is read by the adapter only after the secret header checks out, so it is declared here for the
# OpenAPI document rather than parsed by FastAPI.
_TELEGRAM_UPDATE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "title": "Telegram Update"}}},
    }
}


@router.post("/webhook/telegram", tags=["webhooks"], openapi_extra=_TELEGRAM_UPDATE_BODY)
async def receive_telegram_update(
    request: Request,
    adapters: Adapters,
    _secret: Annotated[str | None, Header(alias=SECRET_HEADER, include_in_schema=True)] = None,
) -> dict[str, bool]:
    """Telegram's webhook delivery (webhook mode only); the secret-token header must match."""
    if adapters.telegram is None:
        raise NotFound("the Telegram adapter is not running")
    await adapters.telegram.handle_webhook(request)
    return {"ok": True}


@router.post("/slack/events", tags=["webhooks"])
async def receive_slack_request(request: Request, adapters: Adapters) -> Response:
    """Slack's Events API and slash-command deliveries (HTTP mode); bolt verifies the signature."""
    if adapters.slack is None:
        raise NotFound("the Slack adapter is not running")
    return await adapters.slack.handle_http(request)
