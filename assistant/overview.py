"""Requests for an overview ("Summarize the articles", "What are these documents about?"): no passage
matches words such a request does not have, so it is answered from each document's opening instead,
when the corpus is small enough for that to be an overview (a few articles, not a whole archive)."""

from __future__ import annotations

import re

from assistant.text import content_terms, stem

MAX_DOCUMENTS = 5
# Naming the corpus or asking for a summary; "What is the article about?" names nothing else.
ASKS = re.compile(
    r"\b(?:summar(?:y|ies|i[sz]e[sd]?)|overview|gist|tl;?dr|main points|key points|"
    r"articles?|documents?|corpus|texts?|stories|story|files?|reports?)\b",
    re.IGNORECASE,
)
# Words of such a request that name no subject of their own.
REQUEST_TERMS = frozenset(
    stem(word)
    for word in """summary summaries summarise summarize summarised summarized overview gist tldr tl dr main key
    point points document documents corpus text texts story stories file files give brief briefly
    short quick please cover covers covered topic topics discuss discusses describe describes explain explains
    content contents these those here whole each all""".split()
)


# "What do both articles say about it?" has a subject: whatever "it" was in the conversation.
REFERS_BACK = re.compile(r"\b(?:it|its|they|them|their|he|she|him|her|his)\b", re.IGNORECASE)


def asks_for_overview(question: str) -> bool:
    """True for a request about the corpus as a whole, with no subject of its own."""
    return (
        bool(ASKS.search(question))
        and not REFERS_BACK.search(question)
        and not set(content_terms(question)) - REQUEST_TERMS
    )
