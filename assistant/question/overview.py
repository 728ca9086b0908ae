"""Requests for an overview ("Summarize the articles", "What are these documents about?", "Summarize the UK
article"): no passage matches words such a request does not have, so it is answered from the documents'
openings instead, when the corpus is small enough for that to be an overview (a few articles, not a whole
archive)."""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.core.lexicon import words
from assistant.core.text import content_terms, stem
from assistant.core.types import Passage
from assistant.question.articles import OTHER
from assistant.question.followup import Followed
from assistant.question.named_article import label_terms

# Naming the corpus or asking for a summary; "What is the article about?" names nothing else.
ASKS = re.compile(
    r"\b(?:summar(?:y|ies|i[sz]e[sd]?)|overview|gist|tl;?dr|main points|key points|"
    r"articles?|documents?|corpus|texts?|stories|story|files?|reports?)\b",
    re.IGNORECASE,
)
# Words of such a request that name no subject of their own.
REQUEST_TERMS = frozenset(stem(word) for word in words("en/request_words"))

# "each article", "both", "the articles": a question about several documents, which no one title names.
SEVERAL = re.compile(r"\b(?:each|every|both|all|articles|documents|stories|texts|reports|files)\b", re.IGNORECASE)
# "What do both articles say about it?" has a subject: whatever "it" was in the conversation.
REFERS_BACK = re.compile(r"\b(?:it|its|they|them|their|he|she|him|her|his)\b", re.IGNORECASE)


def asks_overview(question: str) -> bool:
    """The question names the corpus or asks for a summary, and no subject from the conversation."""
    return bool(ASKS.search(question)) and not REFERS_BACK.search(question)


def overview_of(
    question: str, openings: Callable[[], list[Passage] | None], last: Followed = Followed(), within: str = ""
) -> list[Passage] | None:
    """The document openings a request for an overview asks for: every document's ("Summarize the articles"),
    the one whose title or outlet holds all the request's other words ("Summarize the article about Britain
    giving the UN photos"), the one the question names (`within`: "Summarize the UK article"), or the one(s) the
    `last` turn was not about ("What does the other article say?"); None for any other question, and when
    `openings` gives none (a corpus too big for its openings to be an overview)."""
    if not asks_overview(question):
        return None
    named = set(content_terms(question)) - REQUEST_TERMS
    firsts = openings()
    if firsts is None:
        return None
    if within or OTHER.search(question):
        # The article is named already: any other word is a subject ("What does the UK article say about Peskov?").
        wanted = {within} if within else set(last.others([p.doc_id for p in firsts]))
        chosen = [p for p in firsts if p.doc_id in wanted and not named]
    elif named:
        # A title names one article ("Summarize the article about ..."); "What does each article say about the
        # ships?" asks all of them about a subject, whichever title holds its words.
        chosen = [p for p in firsts if named <= label_terms(p.title, p.source)] if not SEVERAL.search(question) else []
        chosen = chosen if len(chosen) == 1 else []
    else:
        chosen = firsts
    return chosen or None
