"""The five pods of the reference docs, seeded once at first start."""

from nova_contracts.orchestrator import (
    OnFailure,
    PipelineRole,
    PodAgentConfig,
    PodCreate,
    RunCondition,
    SandboxTier,
    Severity,
)

R = PipelineRole


def _agent(name: str, role: PipelineRole, position: int, **values: object) -> PodAgentConfig:
    return PodAgentConfig.model_validate({"name": name, "role": role, "position": position, **values})


_REJECTED = RunCondition(type="on_flag", value="code_review_rejected")
_POST = {"on_failure": OnFailure.SKIP, "temperature": 0.2, "max_tokens": 2048}


def _quartet(*, tools: list[str] | None = None) -> list[PodAgentConfig]:
    return [
        _agent("context", R.CONTEXT, 10, temperature=0.2),
        _agent("task", R.TASK, 20, allowed_tools=tools or []),
        _agent("guardrail", R.GUARDRAIL, 30, temperature=0.0, max_tokens=2048),
        _agent("code_review", R.CODE_REVIEW, 40, temperature=0.1, max_retries=3),
        _agent("decision", R.DECISION, 50, run_condition=_REJECTED, on_failure=OnFailure.ESCALATE),
    ]


PRESETS: list[PodCreate] = [
    PodCreate(
        name="Quartet",
        description="Context, Task, Guardrail and Code Review; Decision on rejection. For code and configuration.",
        is_default=True,
        escalation_threshold=Severity.HIGH,
        agents=[
            *_quartet(),
            _agent("documentation", R.DOCUMENTATION, 100, run_condition={"type": "never"}, **_POST),
            _agent("security_review", R.SECURITY_REVIEW, 110, run_condition={"type": "never"}, **_POST),
        ],
    ),
    PodCreate(
        name="Quick Reply",
        description="Task only: fast answers to low-stakes questions.",
        routing_keywords=["quick", "what is", "define", "tl;dr"],
        priority=10,
        max_execution_seconds=120,
        agents=[_agent("task", R.TASK, 10, temperature=0.5, max_tokens=1024)],
    ),
    PodCreate(
        name="Research",
        description="Context and Task with web search: information gathering.",
        routing_keywords=["research", "find out", "compare", "survey", "investigate"],
        priority=20,
        sandbox_tier=SandboxTier.ISOLATED,
        agents=[
            _agent("context", R.CONTEXT, 10),
            _agent("task", R.TASK, 20, allowed_tools=["web_fetch", "search_memory"]),
            _agent("memory_extraction", R.MEMORY_EXTRACTION, 100, **_POST),
        ],
    ),
    PodCreate(
        name="Code Generation",
        description="The full Quartet with git tools: production code, committed when review passes.",
        routing_keywords=["implement", "refactor", "fix the bug", "write a function", "add a test"],
        routing_regex=r"\b(def|class|function|endpoint|migration)\b",
        priority=30,
        agents=[
            *_quartet(
                tools=[
                    "read_file",
                    "write_file",
                    "list_dir",
                    "search_files",
                    "run_shell",
                    "git_status",
                    "git_diff",
                    "git_commit",
                ]
            ),
            _agent("documentation", R.DOCUMENTATION, 100, **_POST),
            _agent(
                "diagramming",
                R.DIAGRAMMING,
                110,
                run_condition={"type": "has_tag", "value": "diagram"},
                **_POST,
            ),
        ],
    ),
    PodCreate(
        name="Analysis",
        description="Context and Task with read-only tools: codebase audits, no writes.",
        routing_keywords=["audit", "analyse", "analyze", "explain the code", "review the codebase"],
        priority=20,
        agents=[
            _agent("context", R.CONTEXT, 10, allowed_tools=["read_file", "list_dir", "search_files"]),
            _agent("task", R.TASK, 20, allowed_tools=["read_file", "list_dir", "search_files"]),
        ],
    ),
]
