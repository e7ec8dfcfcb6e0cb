"""Conventions every service's app keeps, checked on the apps themselves (`create_app()`, no lifespan)."""

import importlib
import inspect
from collections.abc import Iterator, Sequence

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from nova_common.stack import SERVICES

PACKAGES = [spec.package for spec in SERVICES if spec.package is not None]


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router as one entry that wraps the original (`original_router`).
        inner = getattr(route, "original_router", route)
        yield from _api_routes(getattr(inner, "routes", ()))


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _is_async(call: object) -> bool:
    # a function, or an instance (a security scheme) whose class defines `async def __call__`
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_route_dependency_is_async(package: str) -> None:
    """FastAPI runs a plain `def` dependency in a worker thread: a thread hop on every request that uses it."""
    config = importlib.import_module(f"{package}.config")
    main = importlib.import_module(f"{package}.main")
    app = main.create_app(config.Settings(_env_file=None))
    sync = sorted(
        {
            f"{route.path}: {getattr(sub.call, '__qualname__', sub.call)}"
            for route in _api_routes(app.routes)
            for sub in _dependencies(route.dependant)
            if sub.call is not None and not _is_async(sub.call)
        }
    )
    assert any(True for _ in _api_routes(app.routes)), (
        "no routes found: the walk above no longer fits FastAPI"
    )
    assert not sync, f"{package} has plain `def` dependencies (make them `async def`): {sync}"
