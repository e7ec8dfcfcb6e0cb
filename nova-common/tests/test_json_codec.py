"""`nova_common.json_codec`: the Rust codec's speed with the standard library's results, including the few
documents only the standard library takes."""

import json

import pytest

from nova_common.json_codec import dump_json, parse_json

DOCUMENTS = [
    '{"a": [1, 2.5, -3e2, true, false, null], "b": {"c": "ünïcödé ✓"}}',
    '"\\u00e9 and an escaped \\u0000 NUL"',
    "[]",
    '"\\ud83d\\ude00"',  # a surrogate pair: one character
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_parse_gives_what_json_loads_gives(text: str) -> None:
    assert parse_json(text) == json.loads(text)
    assert parse_json(text.encode()) == json.loads(text)


def test_a_lone_surrogate_the_rust_parser_refuses_still_parses_as_json_loads_would() -> None:
    text = '{"note": "half a pair: \\ud800"}'
    assert parse_json(text) == json.loads(text) == {"note": "half a pair: \ud800"}


def test_malformed_json_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        parse_json('{"a": ')


@pytest.mark.parametrize("text", DOCUMENTS)
def test_dump_round_trips_to_the_same_value(text: str) -> None:
    value = json.loads(text)
    assert json.loads(dump_json(value)) == value


def test_non_ascii_is_sent_as_utf8_and_a_lone_surrogate_is_escaped() -> None:
    assert dump_json({"c": "é"}) == '{"c":"é"}'.encode()
    lone = {"note": "\ud800"}
    assert dump_json(lone) == json.dumps(lone).encode()
    assert json.loads(dump_json(lone)) == lone
