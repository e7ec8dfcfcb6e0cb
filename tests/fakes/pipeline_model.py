"""A fake OpenAI-compatible model for the pipeline: it answers by the role named in `response_format`.

Pipeline stages run concurrently, so a queue of replies cannot say which answer goes to which stage; this
fake reads the schema name the orchestrator sends (`context_output`, `task_output`, ...) and answers that
role with valid JSON, unless a test scripted the role to do something else:

    model = PipelineModel()
    model.behave("task", "invalid")        # every task call returns text that is not JSON
    model.behave("context", "hang")        # context calls never answer (until `release()`)
    model.behave("code_review", "refactor_once")
"""

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VALID: dict[str, dict[str, Any]] = {
    "context": {"curated_context": "The repo uses FastAPI.", "relevant_files": ["main.py"], "key_patterns": []},
    "task": {"output": "def add(a, b):\n    return a + b\n", "files_changed": ["math.py"], "explanation": "done"},
    "guardrail": {"blocked": False, "findings": [], "summary": "clean"},
    "code_review": {"verdict": "pass", "issues": [], "summary": "looks good"},
    "decision": {"action": "escalate", "reasoning": "needs a human", "adr": "# ADR 1\nEscalate.", "escalation_message": "please decide"},
    "documentation": {"content": "Docs.", "artifact_type": "documentation"},
    "diagramming": {"content": "graph TD; A-->B", "artifact_type": "diagram"},
    "security_review": {"content": "No issues.", "artifact_type": "security_review"},
    "memory_extraction": {"content": "Facts.", "artifact_type": "memory"},
}  # fmt: skip


class PipelineModel:
    def __init__(self, model: str = "gpt-4o-mini") -> None:
        self.model = model
        self.behaviour: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.started: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"]),
                                     Route("/v1/models", self.models, methods=["GET"])])  # fmt: skip

    def behave(self, role: str, behaviour: str) -> None:
        self.behaviour[role] = behaviour

    def release(self) -> None:
        self._release.set()

    async def models(self, request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "fake"}]}
        )

    def _content(self, role: str, call: int) -> str:
        behaviour = self.behaviour.get(role, "valid")
        if behaviour == "invalid":
            return "Sure! Here is what I think, in prose rather than JSON."
        if behaviour == "clarify":
            return json.dumps(
                {**VALID["context"], "needs_clarification": True, "questions": ["Which language?"]}
            )
        if behaviour == "refactor_once":
            verdict = "needs_refactor" if call == 1 else "pass"
            return json.dumps({"verdict": verdict, "issues": [{"severity": "low", "description": "name it better"}],
                               "summary": verdict})  # fmt: skip
        if behaviour == "reject":
            return json.dumps({"verdict": "reject", "issues": [], "summary": "wrong approach"})
        if behaviour == "block":
            return json.dumps({"blocked": True, "summary": "leak", "findings": [
                {"type": "credential_leak", "severity": "critical", "description": "an API key", "evidence": "sk-..."}]})  # fmt: skip
        return json.dumps(VALID[role])

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        schema_name = ((body.get("response_format") or {}).get("json_schema") or {}).get(
            "name", "task_output"
        )
        role = schema_name.removesuffix("_output")
        with self._lock:
            self.started[role] += 1
            call = self.started[role]
        if self.behaviour.get(role) == "hang":
            while not self._release.is_set():
                await asyncio.sleep(0.05)
        content = self._content(role, call)
        with self._lock:
            self.calls[role] += 1
        return JSONResponse({
            "id": "chatcmpl-pipeline", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        })  # fmt: skip
