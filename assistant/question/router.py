"""How a question is answered, in one ordered table: what it asks for (its intent), where its passages come
from (retrieval), and which answer path takes them. The first row whose intent the question's form allows
and whose retrieval finds passages wins: a request for an overview of a corpus too large for its openings to
be one falls through to the rows below it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial

from assistant.core.types import Passage
from assistant.question.articles import line_asked_for
from assistant.question.followup import own_terms
from assistant.question.forms import BARE_WHY
from assistant.question.overview import asks_overview, overview_of
from assistant.question.question import Intent, Question
from assistant.question.quoted import asks_who_is_quoted
from assistant.retrieve.hybrid import HybridRetriever


class Retrieval(Enum):
    OPENINGS = "the documents' openings"  # none when the corpus is too large for them to be an overview
    PASSAGES = "the best passages"  # of the one article the question names, else of the whole index


class AnswerPath(Enum):
    OPENINGS = "their first sentences"
    ARTICLE_LINE = "the byline, dateline or outlet line"  # or nothing: a headline does not say who wrote it
    QUOTATIONS = "every sentence in which someone speaks"
    ABSTAIN = "the corpus does not answer"
    SENTENCES = "the best sentences"


@dataclass(frozen=True)
class Route:
    intent: Intent
    asks: Callable[[str, str], bool]  # (question as answered, its context) -> whether its form asks for `intent`
    retrieval: Retrieval
    path: AnswerPath


def by_form(reads: Callable[[str], object]) -> Callable[[str, str], bool]:
    """A test of the question's own words, whatever its context."""
    return lambda question, _: bool(reads(question))


def nothing_asked(question: str, context: str) -> bool:
    """Nothing to look for: "When did that happen?" outside a conversation; "Why?", "How so?" in one, where the
    sentence the history points to rarely gives the reason."""
    return not own_terms(question) and (not context or bool(BARE_WHY.match(question)))


ROUTES = (
    Route(Intent.OVERVIEW, by_form(asks_overview), Retrieval.OPENINGS, AnswerPath.OPENINGS),
    Route(Intent.ARTICLE_LINE, by_form(line_asked_for), Retrieval.PASSAGES, AnswerPath.ARTICLE_LINE),
    Route(Intent.WHO_IS_QUOTED, by_form(asks_who_is_quoted), Retrieval.PASSAGES, AnswerPath.QUOTATIONS),
    Route(Intent.NOTHING_ASKED, nothing_asked, Retrieval.PASSAGES, AnswerPath.ABSTAIN),
    Route(Intent.FACTS, lambda _, __: True, Retrieval.PASSAGES, AnswerPath.SENTENCES),
)


def intents(question: str, context: str) -> tuple[Intent, ...]:
    """The intents the form of `question` (as answered) allows, in the table's order."""
    return tuple(route.intent for route in ROUTES if route.asks(question, context))


@dataclass(frozen=True)
class Routed:
    route: Route
    passages: list[Passage]
    around: list[Passage]  # the chunks that hold what the question excludes ("Tell me more"), and their neighbours


class Router:
    """Applies ROUTES with one index's retriever; `overview_documents`: the most documents whose openings are an
    overview."""

    def __init__(self, retriever: HybridRetriever, overview_documents: int) -> None:
        self.retriever = retriever
        self.overview_documents = overview_documents

    def route(self, question: Question, k: int) -> Routed:
        for route in ROUTES:
            if route.intent in question.intents:
                passages = self.passages(route.retrieval, question, k)
                if passages is not None:
                    return Routed(route, passages, self.retriever.around(question.exclude))
        raise ValueError(f"no route for {question.asked!r}: ROUTES must end with one for every question")

    def passages(self, retrieval: Retrieval, question: Question, k: int) -> list[Passage] | None:
        if retrieval is Retrieval.OPENINGS:
            firsts = partial(self.retriever.openings, self.overview_documents)  # fetched only for such a request
            return overview_of(question.answered, firsts, question.last, within=question.article)
        if question.article:
            return self.retriever.retrieve_within(question.standalone, question.article, k)
        return self.retriever.retrieve(question.standalone, k)
