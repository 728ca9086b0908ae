"""Conversations: a history of user turns and answers; each question is asked with them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from assistant.core.types import Answer

if TYPE_CHECKING:
    from assistant.app.assistant import Assistant


class Chat:
    """One conversation with its own history; `ask` and `stream` add each turn to it."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.history: list[str] = []
        self.answers: list[Answer] = []

    def ask(self, question: str) -> Answer:
        answer = self.assistant.ask(question, history=self.history, previous=self.last)
        self._remember(question, answer)
        return answer

    def stream(self, question: str) -> Iterator[str]:
        """Yields text pieces; the complete Answer is `self.answers[-1]` (and `last`) afterwards."""
        for piece in self.assistant.stream(question, history=self.history, previous=self.last):
            if isinstance(piece, Answer):
                self._remember(question, piece)
            else:
                yield piece

    @property
    def last(self) -> Answer | None:
        return self.answers[-1] if self.answers else None

    def reset(self) -> None:
        self.history.clear()
        self.answers.clear()

    def _remember(self, question: str, answer: Answer) -> None:
        self.history.append(question)
        self.answers.append(answer)
