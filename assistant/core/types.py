"""The objects every caller sees: passages, citations and answers (all JSON-serialisable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Span = tuple[str, int, int]  # (doc_id, start, end): a stretch of a document, as citations and "Tell me more" name it


@dataclass
class Passage:
    """A retrieved chunk. `text == document_text[start:end]`."""

    node_id: str
    doc_id: str
    title: str
    path: str
    source: str
    date: str
    text: str
    start: int
    end: int
    score: float = 0.0
    header: str = ""
    page: int | None = None  # paged documents (PDF): the page `start` is on, from 1
    page_starts: tuple[int, ...] = ()  # and where later pages begin inside the passage

    def page_at(self, offset: int) -> int | None:
        """The page of a document offset inside this passage; None when the document has no pages."""
        return None if self.page is None else self.page + sum(1 for begins in self.page_starts if begins <= offset)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Citation:
    """A numbered source: the exact quoted span (often one sentence) of a document."""

    number: int
    doc_id: str
    title: str
    path: str
    source: str
    date: str
    text: str
    start: int
    end: int
    page: int | None = None  # the page the quote starts on (PDF); None for documents without pages

    @classmethod
    def quoting(cls, number: int, passage: Passage, text: str, start: int, end: int) -> Citation:
        """Citation `number` of `text`, the span start:end of the passage's document."""
        return cls(
            number, passage.doc_id, passage.title, passage.path, passage.source, passage.date, text, start, end,
            passage.page_at(start),
        )

    @property
    def span(self) -> Span:
        """What it quotes, as answers name the spans a conversation has seen."""
        return self.doc_id, self.start, self.end

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    retrieved: list[Passage] = field(default_factory=list)
    mode: str = "extractive"
    standalone_question: str = ""  # the follow-up rewritten against the history
    unsupported: list[str] = field(default_factory=list)  # sentences / markers that failed the citation check
    notice: str = ""  # e.g. "the LLM was unreachable; answered extractively"
    timings_ms: dict[str, float] = field(default_factory=dict)
    # (doc_id, start, end) of what this answer and those it continues ("Tell me more") quoted: the next
    # "Tell me more" skips it all.
    seen: frozenset[Span] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "retrieved": [p.to_dict() for p in self.retrieved],
            "mode": self.mode,
            "standalone_question": self.standalone_question,
            "unsupported": list(self.unsupported),
            "notice": self.notice,
            "timings_ms": dict(self.timings_ms),
        }
