"""A question, read once: as typed, as answered and as retrieved, with what its conversation gives it and what
its form asks for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from assistant.core.errors import QuestionError
from assistant.core.text import normalized
from assistant.core.tokens import count_tokens
from assistant.core.types import Span
from assistant.question.followup import Followed


class Intent(Enum):
    """What a question asks for, by its form; question/router.py says how each is answered."""

    OVERVIEW = "an overview of the documents"  # "Summarize the articles", "What are these documents about?"
    ARTICLE_LINE = "a line of the article itself"  # "Who wrote the article?", "When was it published?"
    WHO_IS_QUOTED = "who is quoted"  # "Which officials are quoted?"
    NOTHING_ASKED = "nothing of its own"  # "When did that happen?" outside a conversation; "Why?" in one
    FACTS = "what the documents say"  # every question


@dataclass(frozen=True)
class Question:
    asked: str  # as typed, normalized, white space folded (`folded`)
    # Names spelt as the corpus spells them, an indirect question made direct ("Do you know who ...?" is
    # "Who ...?"), less the words that name the one article it is about ("the UK article" is "the article").
    answered: str
    standalone: str  # for retrieval: a follow-up with its history (or the LLM's rewrite of it)
    context: str  # what answering reads it with: earlier turns, or the passages the last answer cited
    article: str  # the doc id of the one article the question names ("the UK article"), or ""
    exclude: frozenset[Span]  # for "Tell me more": what the conversation quoted since the question it follows
    last: Followed  # what the last turn was about ("the other article" is another)
    parts: tuple[str, ...]  # answered each on its own: "Who is X, and when did Y?"
    intents: tuple[Intent, ...]  # what its form asks for, in the router's order; FACTS always, last


def folded(text: str) -> str:
    """`text` normalized (core.text.normalized), its white space folded: how questions, and earlier turns, are read."""
    return " ".join(normalized(text).split())


def checked(question: str, max_tokens: int) -> str:
    """The question as it is read, before anything else: NFKC, without invisible characters, white space folded
    (core.text.normalized). A QuestionError when it is not text, holds bytes that are not UTF-8 (a terminal in
    another encoding gives Python lone surrogates), is empty or invisible, or is longer than `max_tokens`."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QuestionError(
            f"the question is not valid UTF-8 text (at character {exc.start + 1}); retype it, or set the terminal "
            "or client to UTF-8"
        ) from None
    read = folded(question)
    if not read:
        if question.strip():
            raise QuestionError("the question has only invisible or control characters; type a question about the documents")
        raise QuestionError("the question is empty; type a question about the documents")
    tokens = count_tokens(read)
    if tokens > max_tokens:
        raise QuestionError(f"the question is {tokens} tokens, over the limit of {max_tokens}; shorten it")
    return read
