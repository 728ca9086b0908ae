"""An LLM answer mode as an `Answerer` (answer/base.py): the extractive answerer of the open index picks the
source sentences (and answers alone when the LLM fails and `fallback` allows it), the LLM writes from them,
and the citation check ties every sentence it writes to one of them. The LLM is loaded once per mode; the
extractive answerer changes with each ingest, so they are paired per question."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from assistant.answer.base import Scope
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm.answerer import LLMAnswerer
from assistant.core.types import Answer, Passage
from assistant.question.question import Question


@dataclass(frozen=True)
class GroundedLLM:
    llm: LLMAnswerer
    extractive: ExtractiveAnswerer

    @property
    def mode(self) -> str:
        return self.llm.mode

    def respond(self, question: Question, passages: list[Passage], scope: Scope) -> Iterator[str | Answer]:
        q = question
        return self.llm.stream(q.answered, q.standalone, q.context, passages, self.extractive, scope)
