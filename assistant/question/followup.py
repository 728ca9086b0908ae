"""Follow-ups: a question read against its conversation. The earlier turns within a token budget carry a
follow-up along; "When did that happen?" is read against the passages the last answer cited, "Tell me more"
against what the conversation quoted, "the other article" against the documents the last turn was about."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.core.text import content_terms, name_terms, stem
from assistant.core.tokens import count_tokens
from assistant.core.types import Answer
from assistant.question.articles import OTHER
from assistant.question.focus import focus_names

# Words that point back at something said earlier ("they", "that company", "the same port").
ANAPHORA = re.compile(
    r"\b(he|she|it|they|them|his|her|hers|its|their|theirs|this|that|these|those|there|then|same|such|"
    r"former|latter|one|ones|him)\b",
    re.IGNORECASE,
)
SHORT_QUESTION_TERMS = 2  # "And Maria?" leans on the history; "When does the ferry leave?" does not
# "When did that happen?", "Who said so?": a when/where/who follow-up with no words of its own (beyond
# "happen") asks about what the last answer said, not about the earlier questions.
ASKS_FACT = re.compile(r"(?:when|where|who|whom|whose)\b", re.IGNORECASE)
EMPTY_TERMS = frozenset(stem(word) for word in ("happen", "occur", "take", "place"))  # "took" reads as "take"


# "Tell me more", "What else?", "Go on": the same subject, less what the last answer already quoted.
MORE = re.compile(
    r"\s*(?:(?:tell|give|show) me more|(?:any ?thing|what) else|go on|more(?: details?)?|elaborate|continue)\b",
    re.IGNORECASE,
)


def history_within(history: list[str], budget: int) -> list[str]:
    """The most recent turns (or cited passages) that fit in `budget` tokens, oldest first."""
    kept: list[str] = []
    used = 0
    for turn in reversed(history):
        cost = count_tokens(turn)
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    return list(reversed(kept))


def is_followup(question: str) -> bool:
    return bool(ANAPHORA.search(question)) or len(content_terms(question)) < SHORT_QUESTION_TERMS


def own_terms(question: str) -> set[str]:
    """The question's content words less the ones that name nothing ("When did that happen?" has none)."""
    return set(content_terms(question)) - EMPTY_TERMS


def asks_about(question: str, previous: Answer | None) -> bool:
    """Whether the question only points back at the `previous` answer's cited passages."""
    return (
        previous is not None
        and bool(previous.citations)
        and bool(ASKS_FACT.match(question.strip()))
        and is_followup(question)
        and not own_terms(question)
    )


def quoted_before(question: str, previous: Answer | None) -> frozenset[tuple[str, int, int]]:
    """(doc_id, start, end) of what the `previous` answer and those it continued quoted, when the question asks
    for more."""
    if previous is None or not MORE.match(question):
        return frozenset()
    return previous.seen | {c.span for c in previous.citations}


def resolve_followup(
    question: str, history: list[str], budget: int, previous: Answer | None = None
) -> tuple[str, str]:
    """(standalone question for retrieval, history context for answering).

    Without an LLM to rewrite the question, a follow-up is made standalone by carrying the
    earlier turns along: retrieval sees them, and answering weighs their words at half. One that
    only points back ("When did that happen?") carries the passages the `previous` answer cited.
    """
    if previous is not None and asks_about(question, previous):
        context = " ".join(history_within([c.text for c in previous.citations], budget))
        if context:
            return f"{question} (context: {context})", context
    turns = history_within(history, budget)
    if not turns or not is_followup(question):
        return question, ""
    context = " ".join(turns)
    return f"{question} (context: {context})", context


@dataclass(frozen=True)
class Followed:
    """The turn a question follows: the documents its answer `cited`, whether it `asked_other`, i.e. was
    itself about "the other article", and the terms of the names its quoted passages hold (`named`)."""

    cited: frozenset[str] = frozenset()
    asked_other: bool = False
    named: frozenset[str] = frozenset()

    def others(self, docs: Sequence[str]) -> list[str]:
        """Of `docs`, the ones "the other article" means: those the turn did not cite, or the same ones again
        when it was itself about the other article ("When was the other article published?", "Who wrote the
        other one?"); none when it cited nothing."""
        return [doc for doc in docs if (doc in self.cited) == self.asked_other] if self.cited else []


def followed(previous: Answer | None) -> Followed:
    if previous is None:
        return Followed()
    quoted = " ".join(c.text for c in previous.citations)
    return Followed(
        frozenset(c.doc_id for c in previous.citations),
        bool(OTHER.search(previous.question)),
        # "they" after "Which ships ...?" are the ships it named, not every name quoted ("North Korean").
        focus_names(previous.question, quoted) or name_terms(quoted),
    )
