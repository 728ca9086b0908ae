"""One shared tokenizer (tiktoken cl100k_base, read from llama-index-core's bundled cache)."""

from __future__ import annotations

from functools import lru_cache

import tiktoken

from assistant.core.offline import go_offline

TOKENIZER = "cl100k_base"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    go_offline()
    return tiktoken.get_encoding(TOKENIZER)


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))
