"""What every answerer shares: the `Answerer` protocol, the `Scope` an answer is given, and abstaining."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.core.types import Answer, Passage, Span
from assistant.question.followup import Followed
from assistant.question.question import Question
from assistant.question.router import AnswerPath

ABSTAIN_TEXT = "The corpus does not answer this question."


@dataclass(frozen=True)
class Scope:
    """How the router says to answer, and what the answer draws on besides the question's passages: `path`, the
    router's answer path; `parts`, the question's parts, each answered on its own (empty: the question whole);
    `exclude`, (doc_id, start, end) of what the conversation quoted since the question that "Tell me more"
    follows, which it does not want again; `last`, what the last turn was about, which "the other article" is
    not; `around`, the text "Tell me more" may go on with when nothing new reaches the bar."""

    path: AnswerPath = AnswerPath.SENTENCES
    parts: tuple[str, ...] = ()
    exclude: frozenset[Span] = frozenset()
    last: Followed = Followed()
    around: Sequence[Passage] = ()  # the chunks that hold what `exclude` names, and their neighbours


class Answerer(Protocol):
    """Answers a question from its passages: the text in pieces as it comes, then the complete Answer."""

    @property
    def mode(self) -> str: ...

    def respond(self, question: Question, passages: list[Passage], scope: Scope) -> Iterator[str | Answer]: ...


def abstain(question: str, retrieved: list[Passage]) -> Answer:
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, retrieved=retrieved)
