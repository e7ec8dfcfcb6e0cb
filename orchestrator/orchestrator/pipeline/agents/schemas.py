"""Each role's output: the JSON schema sent as `response_format` and the model that validates the answer."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nova_contracts.orchestrator import PipelineRole, Severity


class _Output(BaseModel):
    # Models often add a stray key; the schema's required fields are what the pipeline relies on.
    model_config = ConfigDict(extra="ignore")


class ContextOutput(_Output):
    curated_context: str
    relevant_files: list[str] = Field(default_factory=list)
    key_patterns: list[str] = Field(default_factory=list)
    recommendations: str = ""
    needs_clarification: bool = False
    questions: list[str] = Field(default_factory=list)


class TaskOutput(_Output):
    output: str
    files_changed: list[str] = Field(default_factory=list)
    explanation: str = ""
    commands_run: list[str] = Field(default_factory=list)


class Finding(_Output):
    type: str
    severity: Severity
    description: str
    evidence: str | None = None


class GuardrailOutput(_Output):
    blocked: bool
    findings: list[Finding] = Field(default_factory=list)
    summary: str = ""


class ReviewIssue(_Output):
    severity: Severity = Severity.MEDIUM
    description: str
    file: str | None = None
    line: int | None = None
    suggestion: str | None = None


class CodeReviewOutput(_Output):
    verdict: Literal["pass", "needs_refactor", "reject"]
    issues: list[ReviewIssue] = Field(default_factory=list)
    summary: str = ""


class DecisionOutput(_Output):
    action: Literal["escalate", "override"]
    reasoning: str
    adr: str
    escalation_message: str = ""


class PostPipelineOutput(_Output):
    content: str
    artifact_type: str = "document"


class PassthroughOutput(_Output):
    output: str


OUTPUT_MODELS: dict[PipelineRole, type[_Output]] = {
    PipelineRole.CONTEXT: ContextOutput,
    PipelineRole.TASK: TaskOutput,
    PipelineRole.GUARDRAIL: GuardrailOutput,
    PipelineRole.CODE_REVIEW: CodeReviewOutput,
    PipelineRole.DECISION: DecisionOutput,
    PipelineRole.DOCUMENTATION: PostPipelineOutput,
    PipelineRole.DIAGRAMMING: PostPipelineOutput,
    PipelineRole.SECURITY_REVIEW: PostPipelineOutput,
    PipelineRole.MEMORY_EXTRACTION: PostPipelineOutput,
    PipelineRole.PASSTHROUGH: PassthroughOutput,
}


def output_schema(role: PipelineRole) -> dict[str, Any]:
    return OUTPUT_MODELS[role].model_json_schema()
