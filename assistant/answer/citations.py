"""Citations: an extractive answer's sentences numbered in order of first use (`compose`), and the citation
check for generated answers: every sentence is attributed to the source sentence that holds it.

A model's own `[n]` markers are hints, not proof. When a generated sentence is complete, each
sentence inside the numbered sources is scored for how well it supports it: the IDF-weighted
share of the generated sentence's content words it holds, mixed with the cosine of their
embeddings (as the extractive answerer scores sentences against a question). A number the model
wrote must appear in the source sentence. Then:

- a model-written `[n]` stays only when a sentence of source n supports the sentence, and the
  citation narrows to that sentence;
- otherwise the best-supporting source sentence is cited instead (and the replaced marker reported);
- a sentence no source sentence supports stays uncited and is reported in `Answer.unsupported`.

Citations are sentence spans with exact document offsets (`document_text[start:end] == text`),
numbered 1..k in order of first use, markers placed before the sentence's full stop as in the
extractive mode. Text streams as generated: only a sentence's closing punctuation and any marker
are held back until the sentence is complete, so the streamed pieces join to the final text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.scoring import Scored, TermWeights
from assistant.core.text import content_terms, sentence_spans
from assistant.core.tuning import CitationTuning
from assistant.core.types import Answer, Citation, Passage
from assistant.index.vectors import Embed

# A marker with the space before it: "Najin [1]." -> "Najin."
MARKER = re.compile(r"\s*\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
# An unfinished marker at the end of the generated text is held back until it closes.
OPEN_MARKER = re.compile(r"\s*\[[\d,\s]{0,12}$")
# The end of an unfinished sentence that may still get a marker before it: space, full stop, closing quotes.
HELD_TAIL = re.compile(r"[\s.!?\"'”’)\]]*$")
QUESTION = re.compile(r"\?[\"'”’)]*$")
ENUMERATOR = re.compile(r"\(?\d{1,2}[.)]")
DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# Words a model wraps its answer in ("The answer is ...", "The text mentions ..."): they claim nothing.
FRAMING = frozenset(content_terms("answer question text source sentence mention provide"))


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
        key = s.span
        if key not in numbers:
            numbers[key] = len(citations) + 1
            citations.append(Citation.quoting(numbers[key], s.passage, s.text, s.start, s.end))
        parts.append(with_marker(" ".join(s.text.split()), f"[{numbers[key]}]"))
    return Answer(question=question, text=" ".join(parts), citations=citations, retrieved=retrieved)



@dataclass(frozen=True)
class SourceSentence:
    number: int  # the source's number in the prompt
    passage: Passage
    start: int  # in the document
    end: int
    text: str
    terms: frozenset[str]
    numbers: frozenset[str]

    @property
    def span(self) -> tuple[str, int, int]:
        """(doc_id, start, end), as an extractive answer's sentences name where they are quoted from."""
        return self.passage.doc_id, self.start, self.end


@dataclass(frozen=True)
class Match:
    sentence: SourceSentence
    support: float
    covered: frozenset[str]


def numbers_in(text: str) -> frozenset[str]:
    return frozenset(n.replace(",", "") for n in DIGITS.findall(text))


class Attributor:
    """Scores every sentence of the numbered sources against a generated sentence."""

    def __init__(self, sources: Sequence[Passage], weights: TermWeights, embed: Embed, tuning: CitationTuning) -> None:
        self.weights = weights
        self.embed = embed
        self.tuning = tuning
        self.count = len(sources)
        self.sentences = [
            SourceSentence(n, p, p.start + s, p.start + e, p.text[s:e], frozenset(content_terms(p.text[s:e])), numbers_in(p.text[s:e]))
            for n, p in enumerate(sources, 1)
            for s, e in sentence_spans(p.text)
        ]
        self._vectors: np.ndarray | None = None  # embedded on first use (mostly precomputed at ingest)

    def matches(self, generated: str) -> list[Match]:
        """Source sentences by support for `generated`, best first."""
        terms = set(content_terms(generated)) - FRAMING
        if not terms or not self.sentences:
            return []
        if self._vectors is None:
            self._vectors = self.embed([s.text for s in self.sentences])
        idf = {t: self.weights.idf(t) for t in terms}
        total = sum(idf.values())
        cosines = self._vectors @ self.embed([generated])[0]
        numbers = numbers_in(generated)
        found = []
        for sentence, cosine in zip(self.sentences, cosines):
            covered = frozenset(terms & sentence.terms)
            lexical = self.tuning.lexical_weight
            support = lexical * sum(idf[t] for t in covered) / total + (1 - lexical) * max(float(cosine), 0.0)
            if numbers - sentence.numbers:
                support -= self.tuning.missing_number_penalty
            found.append(Match(sentence, support, covered))
        found.sort(key=lambda m: -m.support)
        return found

    def attribute(self, generated: str, claimed: Sequence[int]) -> tuple[list[Match], list[str]]:
        """(source sentences to cite, problems with the model's own markers)."""
        ranked = [m for m in self.matches(generated) if m.support >= self.tuning.min_support]
        problems = []
        kept: list[Match] = []
        for n in dict.fromkeys(claimed):
            if not 1 <= n <= self.count:
                problems.append(f"[{n}]: no such source (the prompt had {self.count})")
                continue
            best = next((m for m in ranked if m.sentence.number == n), None)
            if best:
                kept.append(best)
            else:
                problems.append(f"[{n}]: source {n} does not support “{generated}”")
        chosen = kept or ranked[:1]
        if chosen and len(chosen) == 1:
            # A sentence joining two facts cites both: add the best other sentence that holds much more of it.
            idf = {t: self.weights.idf(t) for t in set(content_terms(generated)) - FRAMING}
            total = sum(idf.values()) or 1.0
            covered = set(chosen[0].covered)
            for m in ranked:
                gain = sum(idf[t] for t in m.covered - covered) / total
                if m.sentence is not chosen[0].sentence and gain >= self.tuning.second_citation_gain:
                    chosen.append(m)
                    break
        return chosen, problems


@dataclass
class Checked:
    """A completed generated sentence: its text without markers and what it cites."""

    text: str
    cited: list[int] = field(default_factory=list)  # final citation numbers
    claims: bool = True


class CitationChecker:
    """Feeds on streamed text; yields what is safe to show; ends with the checked text and citations."""

    def __init__(self, attributor: Attributor, exempt: str) -> None:
        self.attributor = attributor
        self.exempt = exempt
        self.raw = ""
        self.emitted = ""
        self.checked: list[Checked] = []
        self.keys: list[tuple[str, int, int]] = []  # cited source sentences, in citation order
        self.spans: list[SourceSentence] = []
        self.problems: list[str] = []
        self.text = ""

    def feed(self, delta: str) -> str:
        """The text that is safe to show now, given one more generated piece."""
        self.raw += delta
        return self._advance(done=False)

    def finish(self) -> str:
        """The rest of the text; afterwards `text`, `citations()` and `problems` are final."""
        shown = self._advance(done=True)
        for item in self.checked:
            if item.claims and not item.cited and item.text != self.exempt:
                self.problems.append(f"no citation: {item.text}")
        return shown

    def _advance(self, done: bool) -> str:
        raw = self.raw.lstrip()
        if not done:
            held = OPEN_MARKER.search(raw)
            raw = raw[: held.start()] if held else raw
        plain, markers = strip_markers(raw)
        spans = sentence_spans(plain)
        complete = spans if done else spans[:-1]
        for i in range(len(self.checked), len(complete)):
            start, end = complete[i]
            claimed = [n for pos, numbers in markers if owner(pos, spans) == i for n in numbers]
            self.checked.append(self._check(plain[start:end], claimed))
        shown, cursor = [], 0
        for (start, end), item in zip(complete, self.checked):
            shown += [plain[cursor:start], self._marked(item)]
            cursor = end
        if not done and len(spans) > len(complete):
            start = spans[-1][0]
            tail = plain[start:]
            shown += [plain[cursor:start], tail[: HELD_TAIL.search(tail).start()]]
        text = "".join(shown)
        if done:
            text = self.text = text.strip()
        if not text.startswith(self.emitted):
            return ""  # cannot happen with the rules above; the final Answer carries the text regardless
        piece, self.emitted = text[len(self.emitted) :], text
        return piece

    def _check(self, sentence: str, claimed: list[int]) -> Checked:
        if QUESTION.search(sentence) or ENUMERATOR.fullmatch(sentence) or not set(content_terms(sentence)) - FRAMING:
            return Checked(sentence, claims=False)  # a question (often the user's, echoed) or a "1." claims nothing
        chosen, problems = self.attributor.attribute(sentence, claimed)
        self.problems += problems
        item = Checked(sentence)
        for match in chosen:
            s = match.sentence
            if s.span not in self.keys:
                self.keys.append(s.span)
                self.spans.append(s)
            number = self.keys.index(s.span) + 1
            if number not in item.cited:
                item.cited.append(number)
        return item

    @staticmethod
    def _marked(item: Checked) -> str:
        return with_marker(item.text, "".join(f"[{n}]" for n in item.cited)) if item.cited else item.text

    def citations(self) -> list[Citation]:
        return [Citation.quoting(number, s.passage, s.text, s.start, s.end) for number, s in enumerate(self.spans, 1)]

    def sentences(self) -> list[str]:
        return [item.text for item in self.checked]


def strip_markers(text: str) -> tuple[str, list[tuple[int, list[int]]]]:
    """(text without markers, [(position in that text, numbers)] for each marker)."""
    out, markers, cursor = [], [], 0
    length = 0
    for match in MARKER.finditer(text):
        out.append(text[cursor : match.start()])
        length += match.start() - cursor
        markers.append((length, [int(n) for n in match.group(1).split(",")]))
        cursor = match.end()
    out.append(text[cursor:])
    return "".join(out), markers


def owner(position: int, spans: Sequence[tuple[int, int]]) -> int:
    """The sentence a marker belongs to: the one it follows ("Najin. [1]" cites "Najin.")."""
    before = [i for i, (start, _) in enumerate(spans) if start < position]
    return before[-1] if before else 0
