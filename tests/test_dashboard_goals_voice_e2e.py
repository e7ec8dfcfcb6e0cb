"""Goals, the spec review and voice in real headless Chromium, against the real stack with voice-service.

Starts `make run`'s launcher with COMPOSE_PROFILES=voice on its own shifted ports (data folder and .env of its
own), the fake OpenAI-compatible provider as the model, then runs `dashboard/e2e/goals-voice.mjs`: create a
scheduled goal (the cron preview in words), approve a spec the test put up for review with the service token,
and talk to the chat through Chromium's fake microphone playing a WAV that voice-service's offline voice
spoke, then play the reply through the speaker button. Screenshots land in NOVA_E2E_ARTIFACTS.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values
from tests.fakes import LiveServer, serve_in_thread
from tests.fakes.openai_fake import FakeOpenAI
from tests.fakes.pipeline_model import PipelineModel
from tests.fakes.script import Reply
from tests.test_dashboard_e2e import by_purpose

from nova_common.testing import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard"
# Apart from the other e2e stacks (tests/test_service_conventions.py checks all four), so they can run side by side.
OFFSET = 19000  # below the ephemeral port range, apart from the other e2e stacks
READY_TIMEOUT = 240
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FAKE_REPLY = "Hello from the fake provider."
PORTS = {
    "orchestrator": 8000,
    "llm-gateway": 8001,
    "memory-service": 8002,
    "recovery": 8888,
    "voice-service": 8130,
    "dashboard": 3000,
}
# What the fake microphone says: short, common words the offline recogniser has a fair chance at.
SPOKEN = "hello what is the weather today"
SPEC = (
    "## Plan\n\nSummarise every open pull request each Monday.\n\n## Acceptance\n\nA summary in the journal."
)


def _url(service: str) -> str:
    return f"http://127.0.0.1:{PORTS[service] + OFFSET}"


@dataclass
class Stack:
    workdir: Path
    proc: subprocess.Popen[bytes]

    def log(self, tail: int = 4000) -> str:
        return (self.workdir / "launcher.log").read_text(errors="replace")[-tail:]

    def secret(self, name: str) -> str:
        return dotenv_values(self.workdir / ".env")[name] or ""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (DASHBOARD / "dist" / "index.html").exists():
        pytest.fail("the dashboard is not built: run `make test` (it builds it) or `make dashboard`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make install-browser` installs Debian's package")
    chat = FakeOpenAI(models=["fake-local-model"])
    chat.script.default = Reply(content=f"{FAKE_REPLY} Ask me anything else.")
    workdir = tmp_path_factory.mktemp("goals-voice-stack")
    with serve_in_thread(by_purpose(chat.app, PipelineModel("fake-local-model").app)) as model:
        proc = _start_launcher(workdir, model)
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


def _start_launcher(workdir: Path, model: LiveServer) -> subprocess.Popen[bytes]:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "NOVA_PROFILES", "COMPOSE_PROFILES")
        },
        "NOVA_PORT_OFFSET": str(OFFSET),
        "NOVA_DATA_DIR": str(workdir / "data"),
        "NOVA_ENV_FILE": str(workdir / ".env"),
        "COMPOSE_PROFILES": "voice",
        "LOCAL_MODEL_URL": model.url,
    }
    with (workdir / "launcher.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nova_common.launcher", "run", "--root", str(ROOT)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _wait_ready(stack: Stack) -> None:
    pending = set(PORTS)

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


@pytest.fixture(scope="module")
def goal_in_review(stack: Stack) -> str:
    """A complex goal walked to `review` with a spec, as cortex would (service token); paused, so cortex leaves it."""
    admin = {"X-Admin-Secret": stack.secret("NOVA_ADMIN_SECRET")}
    service = {"X-Service-Token": stack.secret("NOVA_SERVICE_TOKEN")}
    base = _url("orchestrator") + "/api/v1/goals"
    with httpx.Client(timeout=10) as client:
        created = client.post(base, headers=admin, json={"title": "E2E: weekly PR summary", "complex": True})
        assert created.status_code == 201, created.text
        goal_id = created.json()["id"]
        paused = client.patch(f"{base}/{goal_id}", headers=admin, json={"status": "paused"})
        assert paused.status_code == 200, paused.text
        for stage, spec in (("speccing", None), ("review", SPEC)):
            moved = client.post(
                f"{base}/{goal_id}/maturation", headers=service, json={"stage": stage, "spec": spec}
            )
            # cortex may have taken it a step itself before the pause landed; the stage is what counts.
            current = client.get(f"{base}/{goal_id}", headers=admin).json()["maturation_status"]
            assert moved.status_code == 200 or current == stage, f"{moved.status_code} {moved.text}"
        assert client.get(f"{base}/{goal_id}", headers=admin).json()["maturation_status"] == "review"
    return str(goal_id)


@pytest.fixture(scope="module")
def speech_wav(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's input: a sentence spoken by voice-service's offline voice, as WAV."""
    admin = {"X-Admin-Secret": stack.secret("NOVA_ADMIN_SECRET")}
    voice = _url("voice-service") + "/api/v1/voice"
    with httpx.Client(timeout=60, headers=admin) as client:
        spoken = client.post(
            voice + "/synthesize",
            json={"text": SPOKEN, "format": "wav", "provider": "offline", "speed": 0.8},
        )
        assert spoken.status_code == 200, spoken.text
        assert spoken.content[:4] == b"RIFF", spoken.content[:16]
        # The browser records the WAV and sends it back: it must be heard as something, or nothing is sent.
        heard = client.post(
            voice + "/transcribe", files={"file": ("speech.wav", spoken.content, "audio/wav")}
        )
        assert heard.status_code == 200 and heard.json()["text"], heard.text
    path = tmp_path_factory.mktemp("goals-voice-audio") / "speech.wav"
    path.write_bytes(spoken.content)
    return path


def test_goals_spec_review_and_voice_work_in_a_real_browser(
    stack: Stack, goal_in_review: str, speech_wav: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    artifacts = Path(
        os.environ.get("NOVA_E2E_ARTIFACTS") or tmp_path_factory.mktemp("goals-voice-e2e-artifacts")
    )
    node = shutil.which("node")
    assert node, "Node.js is needed for the browser test (`make install-node`)"
    env = {
        **os.environ,
        "NOVA_DASHBOARD_URL": _url("dashboard"),
        "NOVA_ADMIN_SECRET": stack.secret("NOVA_ADMIN_SECRET"),
        "NOVA_E2E_REVIEW_GOAL_ID": goal_in_review,
        "NOVA_E2E_SPEECH_WAV": str(speech_wav),
        "NOVA_E2E_REPLY": FAKE_REPLY,
        "NOVA_E2E_ARTIFACTS": str(artifacts),
        "CHROMIUM_PATH": CHROMIUM,
    }
    run = subprocess.run(
        [node, "e2e/goals-voice.mjs"], cwd=DASHBOARD, env=env, capture_output=True, text=True, timeout=600
    )
    print(run.stdout)
    result_line = next((line for line in run.stdout.splitlines() if line.startswith("E2E_RESULT ")), None)
    assert result_line, (
        f"the browser run ended without a result (exit {run.returncode}):\n{run.stderr[-4000:]}"
    )
    result = json.loads(result_line.removeprefix("E2E_RESULT "))
    print(f"\nheard through the fake microphone: {result['observed'].get('heard')!r} (spoken: {SPOKEN!r})")
    assert run.returncode == 0 and not result["failures"], (
        f"browser steps failed: {json.dumps(result['failures'], indent=2)}\n"
        f"screenshots: {artifacts}\nstderr: {run.stderr[-2000:]}\nlauncher log:\n{stack.log()}"
    )
