"""Extraction: one llm-gateway `/complete` call with a JSON schema turns a text into what is worth keeping.

Small local models (SmolLM2) often answer with broken or off-schema JSON even when asked for a schema;
`parse_extraction` accepts what is usable and `Extractor.extract` raises `ExtractionUnusable` for the rest,
which the formation service turns into a plain, flagged episode rather than losing the text.
"""

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memory_service.clients.llm_gateway import CompletionUnavailable, MemoryGatewayClient
from nova_contracts.llm import CompleteRequest, Message, ResponseFormat

Score = Annotated[float, Field(ge=0.0, le=1.0)]
Phrase = Annotated[str, Field(min_length=1, max_length=500)]
MAX_PER_KIND = 20


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ExtractedFact(_Lenient):
    subject: Phrase
    attribute: Phrase
    value: Phrase
    # The fact as one sentence ("The user lives in Lisbon."); built from the triple when missing.
    statement: Phrase | None = None
    confidence: Score = 0.8
    importance: Score = 0.5


class ExtractedPreference(_Lenient):
    content: Phrase
    confidence: Score = 0.8
    importance: Score = 0.5


class ExtractedEntity(_Lenient):
    name: Phrase
    kind: Annotated[str, Field(max_length=100)] = "thing"
    description: Annotated[str, Field(max_length=500)] = ""
    confidence: Score = 0.8
    importance: Score = 0.4


class Extraction(_Lenient):
    facts: Annotated[list[ExtractedFact], Field(max_length=MAX_PER_KIND)] = Field(default_factory=list)
    preferences: Annotated[list[ExtractedPreference], Field(max_length=MAX_PER_KIND)] = Field(
        default_factory=list
    )
    entities: Annotated[list[ExtractedEntity], Field(max_length=MAX_PER_KIND)] = Field(default_factory=list)
    summary: Annotated[str, Field(max_length=1000)] = ""
    summary_importance: Score = 0.5


def _scored(**properties: Any) -> dict[str, Any]:
    fields = {**properties, "confidence": {"type": "number"}, "importance": {"type": "number"}}
    return {
        "type": "object",
        "properties": fields,
        "required": list(fields),
        "additionalProperties": False,
    }


_TEXT = {"type": "string"}
EXTRACTION_SCHEMA: dict[str, Any] = {
    "name": "memory_extraction",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "items": _scored(subject=_TEXT, attribute=_TEXT, value=_TEXT, statement=_TEXT),
            },
            "preferences": {"type": "array", "items": _scored(content=_TEXT)},
            "entities": {"type": "array", "items": _scored(name=_TEXT, kind=_TEXT, description=_TEXT)},
            "summary": _TEXT,
            "summary_importance": {"type": "number"},
        },
        "required": ["facts", "preferences", "entities", "summary", "summary_importance"],
        "additionalProperties": False,
    },
}

EXTRACTION_PROMPT = """You decide what an assistant should remember from a text. Answer with JSON only.
- facts: durable facts as subject, attribute, value, plus the fact as one sentence (statement). Use the
  subject "user" for the person talking to the assistant and a short snake_case attribute that stays the
  same when the value changes (lives_in, works_at, birthday), so a new value replaces the old one.
- preferences: what the user likes, dislikes or wants done a certain way, one sentence each.
- entities: people, places, projects or things named, with a short description.
- summary: the text in one line; summary_importance: how much it matters later (0..1).
confidence: how sure the text makes you (0..1). importance: how useful it is to remember (0..1).
Leave lists empty when there is nothing durable; do not invent anything."""

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


class ExtractionUnusable(Exception):
    """The model was unreachable or its answer could not be used; the reason is the message."""


def parse_extraction(content: str) -> Extraction:
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ExtractionUnusable(f"the model's answer is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ExtractionUnusable("the model's answer is not a JSON object")
    try:
        extraction = Extraction.model_validate(data)
    except ValidationError as exc:
        raise ExtractionUnusable(f"the model's JSON does not fit the schema: {exc.errors()[:3]}") from exc
    if not (extraction.facts or extraction.preferences or extraction.entities or extraction.summary):
        raise ExtractionUnusable("the model's JSON is empty")
    return extraction


class Extractor:
    def __init__(
        self, gateway: MemoryGatewayClient, *, model: str | None, timeout: float, max_input_chars: int
    ) -> None:
        self.gateway = gateway
        self.model = model
        self.timeout = timeout
        self.max_input_chars = max_input_chars

    async def extract(self, content: str, *, source_kind: str, title: str | None) -> Extraction:
        header = f"Source: {source_kind}" + (f" — {title}" if title else "")
        request = CompleteRequest(
            model=self.model,
            messages=[
                Message(role="system", content=EXTRACTION_PROMPT),
                Message(role="user", content=f"{header}\n\n{content[: self.max_input_chars]}"),
            ],
            temperature=0.0,
            max_tokens=2000,
            response_format=ResponseFormat(type="json_schema", json_schema=EXTRACTION_SCHEMA),
            task_type="memory_extraction",
        )
        try:
            response = await self.gateway.complete(request, timeout=self.timeout)
        except CompletionUnavailable as exc:
            raise ExtractionUnusable(str(exc)) from exc
        return parse_extraction(response.content)

    async def summarise(self, texts: list[str]) -> str | None:
        """One or two sentences that say what these related episodes have in common; None if unusable."""
        listing = "\n".join(f"- {t[:1000]}" for t in texts)
        request = CompleteRequest(
            model=self.model,
            messages=[
                Message(
                    role="system",
                    content="Summarise what these related memories say, in one or two plain sentences."
                    " Answer with the summary only.",
                ),
                Message(role="user", content=listing[: self.max_input_chars]),
            ],
            temperature=0.0,
            max_tokens=300,
            task_type="memory_consolidation",
        )
        try:
            response = await self.gateway.complete(request, timeout=self.timeout)
        except CompletionUnavailable:
            return None
        summary = response.content.strip()
        return summary[:2000] or None
