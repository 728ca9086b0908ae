"""Extractive answers: the retrieved sentences that best answer the question, each with its citation.

Deterministic and LLM-free. A sentence is scored by the IDF-weighted share of the question's
content words it contains (history words count half), plus a small bonus for the rank of its
passage and for holding the kind of thing asked for (a date for "when", a number for "how many").
When no sentence covers enough of the question the answer abstains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assistant.text import content_terms, sentence_spans
from assistant.types import Answer, Citation, Passage

ABSTAIN_TEXT = "The corpus does not answer this question."
MAX_SENTENCES = 3
NUMBER = re.compile(r"\d")
DATE = re.compile(
    r"\b(\d{4}|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|last (week|month|year))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    rank: int
    start: int  # in the document
    end: int
    text: str
    terms: frozenset[str]


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    coverage: float
    matched: frozenset[str]


class TermWeights:
    """IDF from the keyword index's document frequencies; unseen words weigh the most."""

    def __init__(self, df: dict[str, int], n_chunks: int) -> None:
        self.df = df
        self.n = max(n_chunks, 1)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


def split_sentences(passages: Sequence[Passage]) -> list[Sentence]:
    seen: set[str] = set()
    out: list[Sentence] = []
    for rank, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text):
            text = passage.text[start:end]
            key = " ".join(text.lower().split())
            terms = frozenset(content_terms(text))
            if key in seen or not terms:
                continue  # repeated captions and lone punctuation
            seen.add(key)
            out.append(Sentence(passage, rank, passage.start + start, passage.start + end, text, terms))
    return out


def answer_type_bonus(question: str, sentence: str) -> float:
    q = question.lower()
    if q.startswith("when") or "what date" in q or "which date" in q or "what year" in q:
        return 0.1 if DATE.search(sentence) else -0.05
    if "how many" in q or "how much" in q or "what number" in q:
        return 0.1 if NUMBER.search(sentence) else -0.05
    return 0.0


def score_sentences(
    question: str, context: str, sentences: Sequence[Sentence], weights: TermWeights
) -> list[Scored]:
    q_weights: dict[str, float] = {}
    for term in content_terms(context):
        q_weights[term] = 0.5 * weights.idf(term)
    for term in content_terms(question):
        q_weights[term] = weights.idf(term)
    total = sum(q_weights.values())
    if not total:
        return []
    question_only = {t for t in content_terms(question)}
    scored = []
    for sentence in sentences:
        matched = frozenset(sentence.terms & q_weights.keys())
        coverage = sum(q_weights[t] for t in matched) / total
        # A sentence must share a word with the question itself, not only with the history.
        if not matched & question_only and question_only:
            coverage *= 0.5
        score = coverage + 0.05 / (1 + sentence.rank) + answer_type_bonus(question, sentence.text)
        scored.append(Scored(sentence, score, coverage, matched))
    scored.sort(key=lambda s: (-s.score, s.sentence.rank, s.sentence.start))
    return scored


def choose(scored: Sequence[Scored], min_coverage: float) -> list[Scored]:
    """1-3 sentences: the best, then others close to it that add a new matched word or document."""
    if not scored or scored[0].coverage < min_coverage:
        return []
    best = scored[0]
    chosen = [best]
    covered = set(best.matched)
    docs = {best.sentence.passage.doc_id}
    for candidate in scored[1:]:
        if len(chosen) == MAX_SENTENCES:
            break
        if candidate.score < 0.8 * best.score or candidate.coverage < min_coverage:
            break
        new_doc = candidate.sentence.passage.doc_id not in docs
        if new_doc or candidate.matched - covered:
            chosen.append(candidate)
            covered |= candidate.matched
            docs.add(candidate.sentence.passage.doc_id)
    # Read in document order within each document, documents in order of first use.
    return chosen


def with_marker(sentence: str, markers: str) -> str:
    """'... of Najin.' -> '... of Najin [1].'; a closing quote stays with its words: '"unprecedented" [1].'"""
    sentence = sentence.rstrip()
    body = sentence.rstrip("\"'”’)]")
    closers = sentence[len(body) :]
    if body and body[-1] in ".!?" and not body.endswith("..."):
        return f"{body[:-1]}{closers} {markers}{body[-1]}"
    return f"{sentence} {markers}."


def compose(question: str, chosen: Sequence[Scored], retrieved: list[Passage]) -> Answer:
    citations: list[Citation] = []
    numbers: dict[tuple[str, int, int], int] = {}
    parts: list[str] = []
    for item in chosen:
        s = item.sentence
        key = (s.passage.doc_id, s.start, s.end)
        if key not in numbers:
            numbers[key] = len(citations) + 1
            p = s.passage
            citations.append(Citation(numbers[key], p.doc_id, p.title, p.path, p.source, p.date, s.text, s.start, s.end))
        parts.append(with_marker(" ".join(s.text.split()), f"[{numbers[key]}]"))
    return Answer(question=question, text=" ".join(parts), citations=citations, retrieved=retrieved)


def abstain(question: str, retrieved: list[Passage]) -> Answer:
    return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, retrieved=retrieved)


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(self, weights: TermWeights, min_coverage: float) -> None:
        self.weights = weights
        self.min_coverage = min_coverage

    def answer(self, question: str, context: str, passages: list[Passage]) -> Answer:
        scored = score_sentences(question, context, split_sentences(passages), self.weights)
        chosen = choose(scored, self.min_coverage)
        return compose(question, chosen, passages) if chosen else abstain(question, passages)

    def stream(self, question: str, context: str, passages: list[Passage]) -> Iterator[str | Answer]:
        """Sentence by sentence; the complete Answer comes last."""
        answer = self.answer(question, context, passages)
        for piece in re.split(r"(?<=\]\.) ", answer.text):
            yield piece if piece is answer.text else piece + " "
        yield answer
