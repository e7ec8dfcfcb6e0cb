"""Every request example of the earlier implementation's docs (`api-reference.md` first, then every other page
that shows requests; issue 20), run as written against real processes (llm-gateway in front of a fake OpenAI
model, memory-service, orchestrator), with Nova's credentials added where an example omits them, checking the
status and the fields clients read.

Adaptations, all mechanical: `sk-nova-...` and `your-secret` become the stack's API key and admin secret; the
internal services (8001, 8002) get the service token; `{placeholders}` and `"agent_id": "..."` become ids
created by earlier examples; a model the stack has no provider for (`claude-max/...`) becomes its fake model.
Examples deliberately not run are in `NOT_RUN`, each with the reason.
"""

import asyncio
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fakes import FakeOpenAI, serve_in_thread
from tests.stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis, free_port
from nova_common.testing import create_database

# The documented requests, extracted from the earlier implementation's public docs into the repository
# (see the file's header; `--extract` below regenerates it).
EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "nova-docs-requests.md"
MODEL = "openai/gpt-4o-mini"
SERVICES = {"8000": "orchestrator", "8001": "llm-gateway", "8002": "memory-service"}

# (method, path as documented) → why it is not run here.
NOT_RUN: dict[tuple[str, str], str] = {
    (
        "GET",
        "/api/v1/mcp-servers",
    ): "Nova lists MCP servers to the admin only (their commands and environment "
    "are configuration); an API key gets 401",
    ("POST", "/api/v1/mcp-servers"): "starts `npx @modelcontextprotocol/server-filesystem`, a download",
    ("POST", "/api/v1/mcp-servers/{id}/reload"): "needs the server registered by the example above",
}
# Ports of services not in this stack, and why.
PORTS_NOT_RUN = {
    "8080": "chat-api: its WebSocket and health are covered by tests/test_chat_stack.py",
    "8888": "recovery manages a deployment's containers and backups: covered by recovery's own tests",
}

# Status each documented request gets: 201 created, 202 accepted work, 204 deleted, else 200.
EXPECTED_STATUS: dict[tuple[str, str], int] = {
    ("POST", "/api/v1/agents"): 201,
    ("POST", "/api/v1/pipeline/tasks"): 202,
    ("POST", "/api/v1/pods"): 201,
    ("POST", "/api/v1/pods/{pod_id}/agents"): 201,
    ("POST", "/api/v1/keys"): 201,
    ("DELETE", "/api/v1/keys/{key_id}"): 204,
    ("POST", "/api/v1/memories"): 201,
    ("DELETE", "/api/v1/memories/{memory_id}"): 204,
}
# Fields a client of the earlier implementation reads from the response.
EXPECTED_FIELDS: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/agents"): {"id", "config"},
    ("POST", "/api/v1/tasks"): {"task_id", "status", "response"},
    ("POST", "/api/v1/pipeline/tasks"): {"id", "status", "goal"},
    ("GET", "/api/v1/pipeline/tasks/{task_id}"): {"id", "status"},
    ("POST", "/api/v1/pods"): {"id", "name", "routing_keywords"},
    ("POST", "/api/v1/pods/{pod_id}/agents"): {"name", "role", "model"},
    ("POST", "/api/v1/keys"): {"id", "raw_key", "key"},
    ("GET", "/api/v1/identity"): {"name", "greeting"},
    ("GET", "/api/v1/pipeline/queue-stats"): set(),
    ("POST", "/embed"): {"embeddings"},
    ("POST", "/complete"): {"content", "model"},
    ("POST", "/api/v1/memories"): {"id", "content", "tier"},
    ("POST", "/api/v1/memories/search"): set(),
    ("POST", "/api/v1/memories/facts"): set(),
}


@dataclass
class Example:
    method: str
    port: str
    path: str  # as documented, placeholders included; query string kept
    headers: dict[str, str]
    body: Any = None
    text: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path.split("?", 1)[0]


def parse_examples(markdown: str) -> list[Example]:
    """Every `curl` of the ```bash blocks, in order."""
    examples = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.DOTALL):
        tokens = shlex.split(block.replace("\\\n", " "), comments=True)
        commands: list[list[str]] = []
        for token in tokens:
            if token == "curl":
                commands.append([])
            elif commands:
                commands[-1].append(token)
        for words in commands:
            method, headers, body, url = "", {}, None, ""
            i = 0
            while i < len(words):
                word = words[i]
                if word == "-X":
                    method, i = words[i + 1], i + 2
                elif word == "-H":
                    name, _, value = words[i + 1].partition(":")
                    headers[name.strip()] = value.strip()
                    i += 2
                elif word == "-d":
                    body, i = json.loads(words[i + 1]), i + 2
                elif word == "|":  # piped into jq: the request is what came before
                    break
                elif word.startswith("-"):
                    i += 1  # -s and other flags without a value
                else:
                    url, i = word, i + 1
            line = "curl " + " ".join(shlex.quote(w) for w in words)
            match = re.match(r"https?://localhost:(\d+)(/.*)", url)
            if match is None:
                continue  # an install script downloaded with curl, not a request to Nova
            method = method or ("POST" if body is not None else "GET")
            examples.append(Example(method, match[1], match[2], headers, body, line))
    return examples


@dataclass
class Stack:
    urls: dict[str, str]
    api_key: str
    primary_id: str
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "api_reference"))
    logs = tmp_path_factory.mktemp("api-reference")
    workspace = logs / "workspace"
    workspace.mkdir()
    model = FakeOpenAI(models=["gpt-4o-mini", "text-embedding-3-small"])
    processes: list[ServiceProcess] = []
    # The gateway validates API keys at the orchestrator, so it is told the port before either starts.
    orchestrator_port = free_port()
    with serve_in_thread(model.app) as upstream:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                {
                    "REDIS_URL": redis_url,
                    "OPENAI_API_KEY": "sk-fake",
                    "OPENAI_BASE_URL": f"{upstream.url}/v1",
                    "DEFAULT_CHAT_MODEL": MODEL,
                    "INFERENCE_BACKEND": "none",
                    "LLM_ROUTING_STRATEGY": "cloud-only",
                    "ORCHESTRATOR_URL": f"http://127.0.0.1:{orchestrator_port}",
                },
                logs,
            ).start(ready_within=180)
            processes.append(gateway)
            memory = ServiceProcess(
                "memory_service",
                {
                    "REDIS_URL": redis_url,
                    "DATABASE_URL": database_url,
                    "LLM_GATEWAY_URL": gateway.url,
                    # The fake model is scripted turn by turn: no extraction or consolidation calls in between.
                    "INGEST_ENABLED": "false",
                    "CONSOLIDATION_ENABLED": "false",
                },
                logs,
            ).start()
            processes.append(memory)
            env = orchestrator_env(database_url, redis_url, gateway_url=gateway.url, workspace=workspace)
            orchestrator = ServiceProcess(
                "orchestrator",
                # No pipeline workers: the documented "cancel a task" finds the submitted task still queued.
                {**env, "MEMORY_SERVICE_URL": memory.url, "PIPELINE_WORKERS_ENABLED": "false"},
                logs,
                port=orchestrator_port,
            ).start()
            processes.append(orchestrator)
            admin = {"X-Admin-Secret": STACK_ADMIN_SECRET}
            primary = httpx.get(f"{orchestrator.url}/api/v1/agents", headers=admin).json()[0]
            key = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                json={"name": "reference", "rate_limit_rpm": 10_000},
                headers=admin,
            ).json()["key"]
            urls = {"8000": orchestrator.url, "8001": gateway.url, "8002": memory.url}
            yield Stack(urls, key, primary["id"], {"agent_id": primary["id"]})
        finally:
            for process in reversed(processes):
                process.stop()


def _credentials(example: Example, stack: Stack) -> dict[str, str]:
    headers = {}
    for name, value in example.headers.items():
        if name == "Authorization" and value.startswith("Bearer sk-nova-"):
            value = f"Bearer {stack.api_key}"
        elif name == "X-API-Key":
            value = stack.api_key
        elif name == "X-Admin-Secret":
            value = STACK_ADMIN_SECRET
        headers[name] = value
    if example.port == "8001" and example.path.startswith("/v1/"):
        # The gateway's OpenAI-compatible API is for API keys (IDEs, scripts).
        headers["Authorization"] = f"Bearer {stack.api_key}"
    elif example.port != "8000" and not example.path.startswith("/health"):
        headers["X-Service-Token"] = STACK_SERVICE_TOKEN
    return headers


def _models(value: Any) -> Any:
    """The stack's fake model in place of one it has no provider for; the primary agent for `"..."`."""
    if isinstance(value, dict):
        return {k: _models(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_models(v) for v in value]
    if isinstance(value, str) and value.startswith("claude-max/"):
        return MODEL
    return value


def _fill(path: str, ids: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match[1]
        assert name in ids, f"no id for {{{name}}} yet (the example creating it comes later or failed)"
        return ids[name]

    return re.sub(r"\{(\w+)\}", one, path)


def _remember_ids(example: Example, body: Any, ids: dict[str, str]) -> None:
    if not isinstance(body, dict) or "id" not in body:
        return
    names = {
        "/api/v1/pipeline/tasks": "task_id",
        "/api/v1/pods": "pod_id",
        "/api/v1/keys": "key_id",
        "/api/v1/memories": "memory_id",
    }
    name = names.get(example.key[1])
    if example.method == "POST" and name:
        ids[name] = str(body["id"])


def test_every_request_example_of_the_nova_docs_gets_its_documented_answer(stack: Stack) -> None:
    examples = parse_examples(EXAMPLES.read_text())
    assert len(examples) > 50
    documented = {e.key for e in examples}
    assert set(NOT_RUN) <= documented, "NOT_RUN names an example the reference no longer has"

    failures, ran = [], 0
    for example in examples:
        if example.key in NOT_RUN or example.port in PORTS_NOT_RUN:
            continue
        assert example.port in SERVICES, f"unknown service port in {example.text}"
        if example.key == ("DELETE", "/api/v1/memories/{memory_id}"):
            stack.ids["agent_id"] = (
                "optional-agent-id"  # the context example next reads this agent's memories
            )
        body = _models(example.body)
        if isinstance(body, dict) and body.get("agent_id") == "...":
            body["agent_id"] = stack.primary_id
        url = stack.urls[example.port] + _fill(example.path, stack.ids)
        response = httpx.request(
            example.method, url, json=body, headers=_credentials(example, stack), timeout=60
        )
        ran += 1
        expected = EXPECTED_STATUS.get(example.key, 200)
        payload: Any = None
        if response.headers.get("content-type", "").startswith("application/json"):
            payload = response.json()
        if response.status_code != expected:
            failures.append(
                f"{example.text}\n  → {response.status_code} (expected {expected}): {response.text[:300]}"
            )
            continue
        missing = EXPECTED_FIELDS.get(example.key, set()) - set(payload if isinstance(payload, dict) else {})
        if missing:
            failures.append(f"{example.text}\n  → fields missing: {sorted(missing)}")
        if example.key == ("POST", "/api/v1/chat/stream") and "X-Session-Id" not in response.headers:
            failures.append(f"{example.text}\n  → no X-Session-Id header")
        _remember_ids(example, payload, stack.ids)
    assert ran > 30
    assert not failures, "\n".join(failures)


def extract(docs: Path) -> None:
    """Rewrite the examples file from a copy of the docs: the `curl` blocks of each page, api-reference first."""
    reference = docs / "api-reference.md"
    pages = [reference, *sorted(p for p in docs.glob("*.md") if p != reference)]
    header = EXAMPLES.read_text().split("\n## ", 1)[0].rstrip("\n")
    out = [header, ""]
    for page in pages:
        blocks = re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.DOTALL)
        blocks = [b for b in blocks if "curl" in b and "localhost:" in b]
        if blocks:
            out += [f"## {page.name}", ""]
            for block in blocks:
                out += ["```bash", block.rstrip("\n"), "```", ""]
    EXAMPLES.write_text("\n".join(out))


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "--extract":
        raise SystemExit("usage: python -m tests.test_api_reference_examples --extract DOCS_DIR")
    extract(Path(sys.argv[2]))
