"""The dashboard in real headless Chromium against the real stack, with the fake LLM provider as its model.

Starts `make run`'s launcher on shifted ports (its own data folder and .env), with LOCAL_MODEL_URL pointing
the stack's model slot at the fake OpenAI-compatible provider, then runs `dashboard/e2e/run.mjs`
(playwright-core driving the system's Chromium). The Node script does the clicking and asserting; this test
owns the processes, stages what a browser cannot (a dead-lettered task; the loopback feed and website the
Sources page reads, with the fake model's digest of the feed) and reports the measurements.
Screenshots land in NOVA_E2E_ARTIFACTS (default: a temp folder, printed at the end).
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from dotenv import dotenv_values
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tests.fakes import LiveServer, serve_in_thread
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.pipeline_model import PipelineModel
from tests.fakes.script import Reply
from tests.fakes.web_sites import SiteState, crawl_site, feed_site

from nova_common.testing import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard"
# Below the kernel's ephemeral range (32768+), so no outgoing connection holds one of the stack's ports.
OFFSET = int(os.environ.get("NOVA_E2E_PORT_OFFSET", "18000"))  # distinct per concurrent run
READY_TIMEOUT = 240
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
MCP_SERVER = ROOT / "orchestrator" / "tests" / "mcp_fixtures" / "tool_server.py"
CORE = ("orchestrator", "llm-gateway", "memory-service", "recovery")
# What the fake model answers: Markdown, so the test sees it rendered; streamed word by word, slowly enough
# that the Stop button is on screen while it arrives.
FAKE_REPLY = "Hello from the fake provider."
FAKE_ANSWER = Reply(content=f"{FAKE_REPLY} It streams **bold** words and `code`.", chunk_delay=0.05)
PORTS = {
    "orchestrator": 8000,
    "llm-gateway": 8001,
    "memory-service": 8002,
    "recovery": 8888,
    "dashboard": 3000,
}
POSTGRES_PORT = 5432
DEAD_LETTER_GOAL = "E2E dead letter: list the services that answer on loopback."
# The orchestrator's digest prompt opens with this sentence (orchestrator/intel/service.py); the fake model
# answers it with one recommendation drawn from the fake feed's items, which the Sources page approves.
INTEL_DIGEST_MARKER = "You read new items from technology feeds"
INTEL_RECOMMENDATION = "E2E: evaluate speculative decoding on the local backend"
INTEL_DIGEST = {
    "recommendations": [
        {
            "theme": "efficient inference",
            "title": INTEL_RECOMMENDATION,
            "summary": "TGI reports 2.3x throughput with a draft model; a distilled 8B could be the drafter.",
            "relevance": 0.8,
            "items": [1, 2],
        }
    ]
}

# memory-service's extraction prompt names a profile correction's source kind (formation/extraction.py); the
# fake model reads the Memory page's correction "I moved to Lisbon last month." as this fact.
CORRECTION_MARKER = "Source: correction"
CORRECTION_EXTRACTION = {
    "facts": [
        {
            "subject": "user",
            "attribute": "lives_in",
            "value": "Lisbon",
            "statement": "The user lives in Lisbon",
            "confidence": 0.95,
            "importance": 0.7,
        }
    ],
    "preferences": [],
    "entities": [],
    "summary": "The user moved to Lisbon.",
    "summary_importance": 0.5,
}


def _url(service: str) -> str:
    return f"http://127.0.0.1:{PORTS[service] + OFFSET}"


@dataclass
class Stack:
    workdir: Path
    proc: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.workdir / "launcher.log"

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    @property
    def admin_secret(self) -> str:
        return dotenv_values(self.workdir / ".env")["NOVA_ADMIN_SECRET"] or ""

    @property
    def database_url(self) -> str:
        password = dotenv_values(self.workdir / ".env")["POSTGRES_PASSWORD"]
        return f"postgresql://nova:{password}@127.0.0.1:{POSTGRES_PORT + OFFSET}/nova"


def _wait_ready(stack: Stack) -> None:
    pending = {*CORE, "dashboard"}

    def every_service_ready() -> bool:
        assert stack.proc.poll() is None, f"launcher exited:\n{stack.log()}"
        for name in list(pending):
            path = "/" if name == "dashboard" else "/health/ready"
            try:
                if httpx.get(_url(name) + path, timeout=3).status_code == 200:
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        return not pending

    try:
        eventually(every_service_ready, timeout=READY_TIMEOUT, interval=1, what="every service ready")
    except AssertionError:
        raise AssertionError(f"not ready after {READY_TIMEOUT}s: {sorted(pending)}\n{stack.log()}") from None


def by_purpose(
    chat: ASGIApp, pipeline: ASGIApp, digest: ASGIApp | None = None, correction: ASGIApp | None = None
) -> ASGIApp:
    """One model server for all: pipeline stages (they ask for a `<role>_output` JSON schema) get the
    role-aware fake, intel digests the recommendation JSON, memory extraction of a profile correction the
    corrected fact, everything else (chat, streamed) the scripted one."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            await chat(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        request = json.loads(body or b"{}")
        schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        target = pipeline if str(schema).endswith("_output") else chat
        if digest is not None and any(
            INTEL_DIGEST_MARKER in str(m.get("content")) for m in request.get("messages") or []
        ):
            target = digest
        if (
            correction is not None
            and schema == "memory_extraction"
            and any(CORRECTION_MARKER in str(m.get("content")) for m in request.get("messages") or [])
        ):
            target = correction
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await target(scope, replay, send)

    return app


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[LiveServer]:
    chat = FakeOpenAI(models=["fake-local-model"])
    chat.script.default = FAKE_ANSWER
    digest = FakeOpenAI(models=["fake-local-model"])
    digest.script.default = Reply(content=json.dumps(INTEL_DIGEST))
    correction = FakeOpenAI(models=["fake-local-model"])
    correction.script.default = Reply(content=json.dumps(CORRECTION_EXTRACTION))
    pipeline = PipelineModel("fake-local-model").app
    with serve_in_thread(by_purpose(chat.app, pipeline, digest.app, correction.app)) as server:
        yield server


@pytest.fixture(scope="module")
def rss_site() -> Iterator[LiveServer]:
    """A recorded RSS 2.0 feed on loopback (ETag and Last-Modified honoured), for the Sources page's feed."""
    with serve_in_thread(feed_site(SiteState())) as server:
        yield server


@pytest.fixture(scope="module")
def docs_site() -> Iterator[LiveServer]:
    """A small website on loopback (robots.txt disallows, an off-host link) the Sources page has crawled."""
    with serve_in_thread(crawl_site(SiteState(), off_host="http://elsewhere.invalid/page")) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_llm: LiveServer) -> Iterator[Stack]:
    if not (DASHBOARD / "dist" / "index.html").exists():
        pytest.fail("the dashboard is not built: run `make test` (it builds it) or `make dashboard`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make install-browser` installs Debian's package")
    workdir = tmp_path_factory.mktemp("dashboard-stack")
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "NOVA_PROFILES", "COMPOSE_PROFILES")
        },
        "NOVA_PORT_OFFSET": str(OFFSET),
        "NOVA_DATA_DIR": str(workdir / "data"),
        "NOVA_ENV_FILE": str(workdir / ".env"),
        "LOCAL_MODEL_URL": fake_llm.url,
        # The reaper dead-letters the task `dead_lettered_task` strands; sweeping every 2 s instead of every
        # minute lets the browser find it without waiting.
        "PIPELINE_REAPER_SECONDS": "2",
        # The Sources page adds a feed served on 127.0.0.1: the SSRF guard's test-only loopback allowance (the
        # orchestrator checks the URL, intel-worker fetches it), and a poll every 2 s instead of every minute.
        "SSRF_ALLOW_LOOPBACK_FOR_TESTS": "true",
        "POLL_INTERVAL_SECONDS": "2",
        # knowledge-worker too, so the Sources page watches a real crawl's progress.
        "COMPOSE_PROFILES": "knowledge",
    }
    with (workdir / "launcher.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nova_common.launcher", "run", "--root", str(ROOT)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    running = Stack(workdir, proc)
    try:
        _wait_ready(running)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _strand_as_if_its_worker_died(database_url: str, task_id: str) -> None:
    """Put a finished task back in a running state with a long-stale heartbeat and a worker that is gone: what
    a worker crash mid-stage leaves behind. No other way makes a live stack dead-letter a task in seconds."""
    conn = await asyncpg.connect(database_url)
    try:
        status = await conn.execute(
            """UPDATE pipeline_tasks SET status = 'task_running', completed_at = NULL,
                      worker_id = 'e2e-crashed-worker', heartbeat_at = clock_timestamp() - interval '1 hour'
               WHERE id = $1 AND status IN ('complete', 'failed')""",
            uuid.UUID(task_id),
        )
    finally:
        await conn.close()
    assert status == "UPDATE 1", f"task {task_id} was not finished: {status}"


@pytest.fixture(scope="module")
def dead_lettered_task(stack: Stack) -> str:
    """A task the real reaper dead-lettered (no retries left, its worker gone); returns its goal."""
    headers = {"X-Admin-Secret": stack.admin_secret}
    base = _url("orchestrator") + "/api/v1/pipeline"
    with httpx.Client(headers=headers, timeout=10) as client:
        submitted = client.post(base + "/tasks", json={"goal": DEAD_LETTER_GOAL, "max_retries": 0})
        assert submitted.status_code == 202, submitted.text
        task_id = submitted.json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"{base}/tasks/{task_id}").json()["status"] not in ("complete", "failed"):
            assert time.monotonic() < deadline, f"task {task_id} never finished\n{stack.log()}"
            time.sleep(1)
        asyncio.run(_strand_as_if_its_worker_died(stack.database_url, task_id))
        deadline = time.monotonic() + 60
        while not any(e["task_id"] == task_id for e in client.get(base + "/dead-letter").json()):
            assert time.monotonic() < deadline, (
                f"the reaper never dead-lettered task {task_id}\n{stack.log()}"
            )
            time.sleep(1)
    return DEAD_LETTER_GOAL


# The stack's start, the staged dead letter and the browser's own 900 s, on a machine that may be busy: the
# kit's 300 s default is too short for the whole run.
@pytest.mark.timeout(1500)
def test_dashboard_works_end_to_end_in_a_real_browser(
    stack: Stack,
    dead_lettered_task: str,
    rss_site: LiveServer,
    docs_site: LiveServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    artifacts = Path(
        os.environ.get("NOVA_E2E_ARTIFACTS") or tmp_path_factory.mktemp("dashboard-e2e-artifacts")
    )
    env = {
        **os.environ,
        "NOVA_DASHBOARD_URL": _url("dashboard"),
        "NOVA_ADMIN_SECRET": stack.admin_secret,
        "NOVA_ORCHESTRATOR_URL": _url("orchestrator"),
        "NOVA_MEMORY_SERVICE_URL": _url("memory-service"),
        "NOVA_E2E_ARTIFACTS": str(artifacts),
        "NOVA_E2E_REPLY": FAKE_REPLY,
        "NOVA_E2E_MCP_COMMAND": sys.executable,
        "NOVA_E2E_MCP_ARGS": json.dumps([str(MCP_SERVER), "echo"]),
        "NOVA_E2E_DEAD_LETTER_GOAL": dead_lettered_task,
        "NOVA_E2E_FEED_URL": f"{rss_site.url}/f/rss2.xml",
        "NOVA_E2E_RECOMMENDATION": INTEL_RECOMMENDATION,
        "NOVA_E2E_SITE_URL": docs_site.url,
        "CHROMIUM_PATH": CHROMIUM,
    }
    node = shutil.which("node")
    assert node, "Node.js is needed for the browser test (`make install-node`)"
    run = subprocess.run(
        [node, "e2e/run.mjs"],
        cwd=DASHBOARD,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    print(run.stdout)
    result_line = next((line for line in run.stdout.splitlines() if line.startswith("E2E_RESULT ")), None)
    assert result_line, (
        f"the browser run ended without a result (exit {run.returncode}):\n{run.stderr[-4000:]}"
    )
    result = json.loads(result_line.removeprefix("E2E_RESULT "))
    measured = result["measurements"]
    print(
        f"\ninitial JS (chat route): {measured.get('initial_js_gzip_bytes', 0) / 1024:.1f} KiB gzip "
        f"({measured.get('initial_js_raw_bytes', 0) / 1024:.1f} KiB raw)"
        f"\nchat time to interactive (cold cache): {measured.get('chat_time_to_interactive_ms')} ms"
        f"\nscreenshots: {artifacts}"
    )
    assert run.returncode == 0 and not result["failures"], (
        f"browser steps failed: {json.dumps(result['failures'], indent=2)}\n"
        f"screenshots: {artifacts}\nstderr: {run.stderr[-2000:]}\nlauncher log:\n{stack.log()}"
    )
