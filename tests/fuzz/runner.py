"""Schemathesis against one running service, as one caller.

Every operation of the service's live OpenAPI document gets a fixed number of generated requests: valid ones
(`positive`) and, for a caller that gets past authentication, invalid ones (`negative`). Generation is
derandomized, so a run sends the same requests every time and its request count is stable. Nothing is
asserted here: every exchange is kept as a `Call` for the test to judge, so one run reports every problem
instead of stopping, and shrinking (which would multiply the requests), at the first.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

# Every credential a Nova route reads. Schemathesis generates values for the schemes an operation declares;
# a caller replaces them with its own (or, without a credential, may keep the generated garbage).
CREDENTIAL_HEADERS = frozenset({"x-admin-secret", "x-api-key", "x-service-token", "authorization"})
EXCERPT = 300
# What the HTTP client adds to every request; left out of reports.
ROUTINE_HEADERS = frozenset(
    {"user-agent", "accept", "accept-encoding", "connection", "content-type", "x-schemathesis-testcaseid"}
)


@dataclass(frozen=True)
class Caller:
    name: str
    headers: Mapping[str, str] = field(default_factory=dict)
    # True: send the credential headers schemathesis generates (random strings, never a valid credential),
    # so a caller without a credential also tries wrong ones. False: they are removed before sending.
    keeps_generated_credentials: bool = False


@dataclass(frozen=True)
class Budget:
    """Generated requests per operation and generation mode."""

    positive: int
    negative: int = 0


@dataclass
class Call:
    """One generated request and what came back."""

    service: str
    caller: str
    mode: str
    method: str
    path: str  # the operation's path template, as the OpenAPI document names it
    secured: bool  # the operation declares a security requirement
    request: str
    # False: the HTTP client itself refused the generated request (say, a header it cannot encode).
    sent: bool = True
    status: int | None = None
    response: str = ""
    code: str | None = None  # the `code` of a JSON error body (the kit's error types set one)
    error: str | None = None  # no answer: connection refused or reset, timeout
    conformance: str | None = None  # the response body breaks the schema documented for its status

    @property
    def operation(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    def describe(self) -> str:
        outcome = self.error or f"{self.status} {self.response}"
        return f"[{self.caller}/{self.mode}] {self.request}\n    -> {outcome}"


def fuzz_service(
    service: str,
    base_url: str,
    caller: Caller,
    budget: Budget,
    *,
    excluded: Mapping[tuple[str, str], str] | None = None,
    check_conformance: bool = False,
    timeout: float = 60.0,
) -> list[Call]:
    """Send `budget` generated requests to every operation of the service at `base_url` not in `excluded`
    (keyed by method and path template)."""
    document = httpx.get(f"{base_url}/openapi.json", timeout=30).raise_for_status().json()
    schema = schemathesis.openapi.from_dict(document)
    calls: list[Call] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()
            operation = result.ok()
            if (operation.method.upper(), operation.path) in (excluded or {}):
                continue
            target = _Target(
                session,
                service,
                base_url,
                caller,
                secured=_declares_security(document, operation),
                check_conformance=check_conformance,
                timeout=timeout,
            )
            for mode, examples in (
                (GenerationMode.POSITIVE, budget.positive),
                (GenerationMode.NEGATIVE, budget.negative),
            ):
                if examples:
                    calls.extend(target.fuzz(operation, mode, examples))
    return calls


def _declares_security(document: Mapping[str, Any], operation: APIOperation) -> bool:
    definition = document["paths"][operation.path][operation.method.lower()]
    requirements = definition.get("security", document.get("security", []))
    # An empty requirement (`{}`) among the alternatives means the route also admits callers without one.
    return bool(requirements) and all(requirements)


@dataclass
class _Target:
    session: requests.Session
    service: str
    base_url: str
    caller: Caller
    secured: bool
    check_conformance: bool
    timeout: float

    def fuzz(self, operation: APIOperation, mode: GenerationMode, examples: int) -> list[Call]:
        calls: list[Call] = []

        # No shrinking and no example database: the test function never fails, so each example is sent once.
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: Case) -> None:
            calls.append(self.send(case, mode))

        try:
            send()
        except Unsatisfiable:
            pass  # nothing about this operation can be made invalid (no parameters, no body)
        return calls

    def send(self, case: Case, mode: GenerationMode) -> Call:
        kwargs = case.as_transport_kwargs(base_url=self.base_url)
        kwargs["headers"] = {
            **{
                name: value
                for name, value in kwargs["headers"].items()
                if self.caller.keeps_generated_credentials or name.lower() not in CREDENTIAL_HEADERS
            },
            **self.caller.headers,
            # A fresh connection each time: after an unhandled error the server drops the connection it
            # answered on, and the next request on it would be reported as unanswered in that one's name.
            "Connection": "close",
        }
        call = Call(
            service=self.service,
            caller=self.caller.name,
            mode=mode.value,
            method=case.method.upper(),
            path=case.operation.path,
            secured=self.secured,
            request=_describe_request(kwargs, self.caller),
        )
        try:
            response = self.session.request(
                **kwargs, timeout=(5, self.timeout), stream=True, allow_redirects=False
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            call.error = f"no answer: {type(exc).__name__}: {str(exc)[:EXCERPT]}"
            return call
        except (requests.RequestException, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            call.sent, call.error = False, f"not sent: {type(exc).__name__}: {str(exc)[:EXCERPT]}"
            return call
        with response:
            call.status = response.status_code
            if "text/event-stream" in response.headers.get("content-type", ""):
                # A stream may never end (`/pipeline/events`); its status and headers are the answer.
                call.response = "(event stream, not read)"
                return call
            try:
                content = response.content
            except requests.RequestException as exc:
                call.error = f"body not read: {type(exc).__name__}: {str(exc)[:EXCERPT]}"
                return call
            call.response = content[:EXCERPT].decode(errors="replace")
            call.code = _error_code(content)
            if self.check_conformance and response.status_code < 500:
                try:
                    case.validate_response(response, checks=[response_schema_conformance])
                except FailureGroup as group:
                    call.conformance = "; ".join(
                        f"{failure.title}: {failure.message[:EXCERPT]}" for failure in group.exceptions
                    )
        return call


def _error_code(content: bytes) -> str | None:
    try:
        body = json.loads(content)
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _describe_request(kwargs: Mapping[str, Any], caller: Caller) -> str:
    """The request as reports show it; the caller's own credential appears as its header name only."""
    prepared = requests.Request(
        method=kwargs["method"], url=kwargs["url"], params=kwargs.get("params")
    ).prepare()
    text = f"{kwargs['method'].upper()} {prepared.url}"
    shown = {
        name: f"<{caller.name}>" if name in caller.headers else value
        for name, value in kwargs["headers"].items()
        if name.lower() not in ROUTINE_HEADERS
    }
    if shown:
        text += f" headers={shown}"
    for key in ("json", "data", "files"):
        if kwargs.get(key) is not None:
            text += f" {key}={str(kwargs[key])[:EXCERPT]}"
    return text
