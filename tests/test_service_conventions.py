"""Conventions every service's app keeps, checked on the apps themselves (`create_app()`, no lifespan)."""

import ast
import importlib
import inspect
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from nova_common.launcher import POSTGRES_PORT, REDIS_PORT
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


def _package_dirs() -> list[Path]:
    """Every workspace member's import package: the services', the kit's and the contracts'."""
    root = Path(__file__).resolve().parent.parent
    return sorted(
        package
        for pyproject in root.glob("*/pyproject.toml")
        for package in pyproject.parent.iterdir()
        if (package / "__init__.py").is_file()
    )


# Every service has its `config.Settings` by convention (STYLE.md); the module path says whose it is.
CONVENTIONAL_NAMES = frozenset({"Settings"})
# Names defined in two packages today, each still to be renamed by the package's owner. The list only
# shrinks: a new duplicate fails the test, and so does an entry here that is no longer duplicated.
PENDING_RENAMES: frozenset[str] = frozenset()


def _class_places() -> dict[str, list[str]]:
    places: dict[str, list[str]] = defaultdict(list)
    for package in _package_dirs():
        for source in sorted(package.rglob("*.py")):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                # A private class (`_Name`) cannot be imported by mistake for another: only public names count.
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    places[node.name].append(f"{source.relative_to(package.parent.parent)}:{node.lineno}")
    assert len(places) > 100, "found almost no classes: the walk no longer fits the workspace layout"
    return places


def test_every_class_name_is_unique_across_the_packages() -> None:
    """Two classes with one name (the orchestrator once had two `AgentRunner`s) make every import a guess."""
    places = _class_places()
    duplicated = {
        name: where
        for name, where in sorted(places.items())
        if len(where) > 1 and name not in CONVENTIONAL_NAMES | PENDING_RENAMES
    }
    assert not duplicated, f"class names defined more than once (rename one of each): {duplicated}"
    within_one_package = {
        name: where
        for name, where in sorted(places.items())
        if name not in CONVENTIONAL_NAMES | PENDING_RENAMES
        and len({w.split("/")[1] for w in where}) < len(where)
    }
    assert not within_one_package, f"class names defined twice inside one package: {within_one_package}"


def test_pending_renames_are_still_duplicated() -> None:
    """Once a pending rename is done its entry goes, so the exception list cannot outlive its reason."""
    places = _class_places()
    done = sorted(name for name in PENDING_RENAMES if len(places.get(name, ())) < 2)
    assert not done, f"no longer duplicated, remove from PENDING_RENAMES: {done}"


E2E_STACKS = [
    "tests/test_dashboard_e2e.py",
    "tests/test_dashboard_goals_voice_e2e.py",
    "tests/test_launcher_e2e.py",
    "recovery/tests/test_supervisor_e2e.py",
]


def test_e2e_stacks_listen_below_the_ephemeral_range_and_apart_from_each_other() -> None:
    """A stack port inside the kernel's ephemeral range can be taken by any outgoing connection of the
    machine, which fails the launcher's start ("these ports are already in use"); two stacks sharing a port
    cannot run side by side."""
    root = Path(__file__).resolve().parents[1]
    base_ports = {spec.port for spec in SERVICES} | {POSTGRES_PORT, REDIS_PORT}
    ephemeral_start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    taken: dict[int, str] = {}
    for path in E2E_STACKS:
        match = re.search(
            r'^OFFSET = (?:int\(os\.environ\.get\("\w+", "(\d+)"\)\)|(\d+))', (root / path).read_text(), re.M
        )
        assert match, f"{path} has no OFFSET"
        offset = int(match[1] or match[2])
        for port in sorted(base_ports):
            assert port + offset < ephemeral_start, f"{path}: port {port + offset} is in the ephemeral range"
            assert port + offset not in taken, (
                f"{path} and {taken[port + offset]} both use port {port + offset}"
            )
            taken[port + offset] = path
