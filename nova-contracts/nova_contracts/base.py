"""Base classes shared by every contract module.

Requests are strict (unknown fields are refused, so a typo in a field name is a 422 rather than a silently
ignored option); responses are lenient so an older client keeps working when a service adds a field.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticSerializationError, to_json

JSON_WITHOUT_NUL = "json_without_nul"
"""Validation context key: the JSON document being validated holds no `\\u0000`, so no value in it has a NUL."""


def _nul_free(value: Any, depth: int = 0) -> bool:
    """No NUL character anywhere in `value` (strings, and the keys and items of nested JSON)."""
    if isinstance(value, str):
        return "\x00" not in value
    if depth > 32:  # deeper than any contract nests; the body-size cap bounds the rest
        return True
    if isinstance(value, dict):
        if depth == 0 and value:
            # JSON writes a NUL as \u0000: one pass in Rust clears almost every open-ended value (tool schemas,
            # tags); only one whose JSON holds that sequence (a NUL, or those six characters as text) is walked.
            try:
                if b"\\u0000" not in to_json(value):
                    return True
            except PydanticSerializationError:
                pass
        return all(_nul_free(k, depth + 1) and _nul_free(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_nul_free(item, depth + 1) for item in value)
    return True


class RequestModel(BaseModel):
    """A payload a service accepts: unknown fields are an error, and so is a NUL character in any text
    (PostgreSQL cannot store one, so it would otherwise fail as a 500 at the database)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: Any, info: ValidationInfo) -> Any:
        # A caller that saw the raw JSON hold no `\u0000` (the only way JSON can carry a NUL) skips the walk.
        if info.context is not None and info.context.get(JSON_WITHOUT_NUL):
            return value
        if not _nul_free(value):
            raise ValueError("may not contain NUL (\\u0000) characters")
        return value


class ResponseModel(BaseModel):
    """A payload a service returns: unknown fields from a newer peer are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def utc_now() -> datetime:
    return datetime.now(UTC)


# Bounded building blocks, so every contract states its limits the same way.
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-/@]+$")]
MetadataKey = Annotated[str, Field(min_length=1, max_length=100)]
# Open-ended JSON kept in a JSONB column: the key count is bounded here, the body size by the server.
Metadata = Annotated[dict[MetadataKey, Any], Field(max_length=50)]


class UpdateRequestModel(RequestModel):
    """A PATCH body: all fields optional, at least one sent, and `null` accepted only for nullable columns.

    Subclasses list in `clearable` the fields whose column may be NULL; an explicit `null` for any other
    field is a 422 here instead of a NOT NULL violation (a 500) in the database. Serialising keeps only the
    fields that were set, so a client's `model_dump()` never turns "not sent" into "set to null".
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _null_only_for_clearable(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("may be omitted but not set to null")
        return value

    @model_validator(mode="after")
    def _at_least_one_field(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("send at least one field to update")
        return self

    @model_serializer(mode="wrap")
    def _only_sent_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if name in self.model_fields_set}
