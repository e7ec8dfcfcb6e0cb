"""Sealed secrets: what one service token seals, only the same token opens."""

import json

import pytest

from nova_common.errors import NotConfigured
from nova_common.secretbox import SecretUnreadable, open_config_value, seal, seal_config_value, unseal

TOKEN = "a-service-token-of-some-length"


def test_a_sealed_value_round_trips_and_hides_the_plaintext() -> None:
    sealed = seal("sk-live-abcdef", TOKEN)
    assert "sk-live-abcdef" not in sealed
    assert unseal(sealed, TOKEN) == "sk-live-abcdef"
    assert seal("sk-live-abcdef", TOKEN) != sealed  # a fresh IV each time


def test_another_token_or_a_tampered_value_cannot_be_opened() -> None:
    sealed = seal("secret-value", TOKEN)
    with pytest.raises(SecretUnreadable):
        unseal(sealed, TOKEN + "x")
    with pytest.raises(SecretUnreadable):
        unseal(sealed[:-4] + "AAAA", TOKEN)


def test_config_values_are_json_objects_and_plain_values_are_refused() -> None:
    raw = seal_config_value("xoxb-123", TOKEN)
    assert set(json.loads(raw)) == {"sealed"}
    assert open_config_value(raw, TOKEN) == "xoxb-123"
    with pytest.raises(SecretUnreadable):
        open_config_value('"xoxb-123"', TOKEN)


def test_without_a_service_token_nothing_is_sealed() -> None:
    with pytest.raises(NotConfigured):
        seal("value", "")
