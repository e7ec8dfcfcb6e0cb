"""FastAPI dependency aliases for cortex's routes."""

from typing import Annotated

from fastapi import Depends, Request

from cortex.loop import Cortex


async def get_cortex(request: Request) -> Cortex:  # async: no thread hop per request
    cortex: Cortex = request.app.state.cortex
    return cortex


CortexDep = Annotated[Cortex, Depends(get_cortex)]
