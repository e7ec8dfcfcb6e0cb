"""A NUL character cannot be stored in PostgreSQL text, so every request model refuses it up front (422)."""

import pytest
from pydantic import ValidationError

from nova_contracts.goals import GoalCreate
from nova_contracts.orchestrator import ApiKeyCreate, PipelineTaskSubmit


@pytest.mark.parametrize(
    "build",
    [
        lambda: ApiKeyCreate(name="a\x00b"),
        lambda: PipelineTaskSubmit(goal="fix it\x00"),
        lambda: PipelineTaskSubmit(goal="fix it", tags=["ok", "b\x00d"]),
        lambda: PipelineTaskSubmit(goal="fix it", metadata={"k\x00": 1}),
        lambda: PipelineTaskSubmit(goal="fix it", metadata={"k": {"deeper": ["\x00"]}}),
        lambda: GoalCreate(title="t", description="\x00"),
    ],
)
def test_nul_anywhere_in_a_request_is_refused(build: object) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        build()  # type: ignore[operator]


def test_text_without_nul_is_accepted_unchanged() -> None:
    body = PipelineTaskSubmit(goal="naïve ✓ \t tab", metadata={"k": {"deeper": ["fine"]}})
    assert body.goal == "naïve ✓ \t tab"


@pytest.mark.parametrize(
    "body", [{"inference_url": "https://\U000d9f80host"}, {"inference_auth_header": "Bearer \x8a"}]
)
def test_gateway_config_refuses_what_an_http_request_cannot_carry(body: dict[str, str]) -> None:
    from nova_contracts.llm import GatewayConfigUpdate

    with pytest.raises(ValidationError):
        GatewayConfigUpdate.model_validate(body)
