"""Which pod a goal goes to: the highest-priority enabled pod whose keywords or regex match, else the default."""

import re
from typing import Any


def matches(pod: dict[str, Any], goal: str) -> bool:
    text = goal.lower()
    if any(keyword.lower() in text for keyword in pod.get("routing_keywords") or []):
        return True
    pattern = pod.get("routing_regex")
    if pattern:
        try:
            return re.search(pattern, goal, flags=re.IGNORECASE) is not None
        except re.error:
            return False
    return False


def route(pods: list[dict[str, Any]], goal: str) -> dict[str, Any] | None:
    enabled = [p for p in pods if p["enabled"]]
    for pod in sorted(enabled, key=lambda p: (-p["priority"], p["name"])):
        if matches(pod, goal):
            return pod
    return next((p for p in enabled if p["is_default"]), None)


def resolve_enabled(pods: list[dict[str, Any]], pod: dict[str, Any]) -> dict[str, Any] | None:
    """A disabled pod hands its tasks to its fallback pod (following the chain, without looping)."""
    by_id = {p["id"]: p for p in pods}
    seen: set[Any] = set()
    current: dict[str, Any] | None = pod
    while current is not None and not current["enabled"]:
        if current["id"] in seen:
            return None
        seen.add(current["id"])
        current = by_id.get(current.get("fallback_pod_id"))
    return current
