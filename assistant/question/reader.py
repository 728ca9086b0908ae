"""A question read once, before anything is retrieved: names spelt as the corpus spells them, an indirect
question made direct, a follow-up made standalone, the one article it names, its parts and intents."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from assistant.core.types import Answer
from assistant.question.followup import followed, quoted_before, resolve_followup
from assistant.question.forms import split_question
from assistant.question.indirect import direct
from assistant.question.named_article import named_article
from assistant.question.question import Question, folded
from assistant.question.router import intents
from assistant.question.spelling import Speller

# (question, earlier questions, last answer) -> (standalone question, context): an LLM's rewrite of a follow-up.
Resolve = Callable[[str, list[str], Answer | None], tuple[str, str]]


class Reader:
    """Reads questions against one index: its vocabulary (`speller`) and what a question may call each article
    (`labels`: doc_id -> `named_article.label_terms`); `history_tokens` bounds the history a follow-up carries."""

    def __init__(self, speller: Speller, labels: Mapping[str, frozenset[str]], history_tokens: int) -> None:
        self.speller = speller
        self.labels = labels
        self.history_tokens = history_tokens

    def read(self, text: str) -> str:
        """Names spelt as the corpus spells them, an indirect question made direct."""
        return direct(self.speller.correct(text))

    def question(
        self, asked: str, history: list[str], previous: Answer | None, resolve: Resolve | None = None
    ) -> Question:
        """`asked` after the `history` of earlier questions and the `previous` answer; `resolve` makes a follow-up
        standalone (default: it carries the history along)."""
        read = self.read(asked)
        turns = [self.read(folded(turn)) for turn in history]  # earlier turns may hold the same misspelling
        if resolve:
            standalone, context = resolve(read, turns, previous)
        else:
            standalone, context = resolve_followup(read, turns, self.history_tokens, previous)
        named = named_article(read, self.labels)
        answered = named.question if named else read  # "the UK article" names no word of the answer
        return Question(
            asked=asked,
            answered=answered,
            standalone=standalone,
            context=context,
            article=named.doc_id if named else "",
            exclude=quoted_before(read, previous),
            last=followed(previous),
            parts=tuple(split_question(answered)),
            intents=intents(answered, context),
        )
