"""Request fields that the earlier implementation's documentation names differently are read under both names."""

import pytest
from pydantic import ValidationError

from nova_contracts.chat import ChatStreamRequest
from nova_contracts.memory import ContextRequest


def test_context_request_reads_the_documented_max_tokens_as_its_token_budget() -> None:
    documented = ContextRequest.model_validate({"query": "authentication patterns", "max_tokens": 1500})
    today = ContextRequest.model_validate({"query": "authentication patterns", "token_budget": 1500})
    assert documented.token_budget == today.token_budget == 1500
    assert "max_tokens" not in documented.model_dump()


def test_context_request_max_tokens_keeps_the_token_budget_bounds() -> None:
    with pytest.raises(ValidationError):
        ContextRequest.model_validate({"query": "q", "max_tokens": 10})


def test_chat_stream_request_is_not_a_research_turn_unless_asked() -> None:
    assert ChatStreamRequest.model_validate({"message": "hi"}).research is False
    assert ChatStreamRequest.model_validate({"message": "hi", "research": True}).research is True
