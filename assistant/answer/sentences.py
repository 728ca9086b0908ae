"""The retrieved passages as sentences that can be quoted: split where a sentence ends (also where no space
follows it, as in a caption glued to its photo credit), less a list item's bullet, the headline and repeated
captions; a quotation's sentence grown to the whole quotation; dates, which a photo credit's year is not."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from assistant.core.text import content_terms, name_terms, sentence_spans
from assistant.core.types import Passage

# "... in North Korea.© Ministry of Defense", "... forces.NewsUK reveals": a sentence end with no space after it.
GLUED = re.compile(r"(?<=[a-z)\"”][.!?])(?=[©A-Z])")
# "Author:" with the name on the line below: one sentence, so the name is quoted with what it is.
LABEL = re.compile(r"[A-Z][\w ]{0,24}:")
# A list item's marker is not part of the sentence quoted ("• For Russia, the DPRK is ...").
BULLET = re.compile(r"^(?:[•▪◦‣●○■□►*·]|[-–—](?=\s))\s*")
# A sentence that opens with a pronoun, which stands for a name in the sentence before.
PRONOUN_FIRST = re.compile(r"(?:He|She|They|His|Her|Their)\b")
QUOTE_MARKS = '"“”«»'
DATE = re.compile(
    r"\b(\d{4}|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|last (week|month|year))\b",
    re.IGNORECASE,
)
# A photo credit: "Images source: © Getty Images | 2023 Anadolu Agency".
CREDIT = re.compile(r"©|\b(?:images?|photos?|pictures?)\s+(?:source|credits?)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    rank: int
    start: int  # in the document
    end: int
    text: str
    terms: frozenset[str]
    # "He issued a warning ...": the names of the sentence before, whom the opening pronoun stands for.
    inherited: frozenset[str] = frozenset()
    before: frozenset[str] = frozenset()  # the words of the sentence before it in its passage

    @property
    def about(self) -> frozenset[str]:
        return self.terms | self.inherited

    @property
    def span(self) -> tuple[str, int, int]:
        """(doc_id, start, end): where it is quoted from, as citations and `Scope.exclude` name it."""
        return self.passage.doc_id, self.start, self.end

    def overlaps(self, span: tuple[str, int, int]) -> bool:
        doc_id, start, end = span
        return self.passage.doc_id == doc_id and self.start < end and start < self.end


def sentence_pieces(text: str) -> Iterator[tuple[int, int]]:
    """The sentence spans of a passage, also split where no space follows a sentence's end, less a list
    item's bullet; a label line ("Author:") joins the line below it, and alone is no sentence."""
    label = None  # start of a label line ("Author:") whose value is on the next line
    for start, end in sentence_spans(text):
        if label is not None and text[label:start].count("\n") == 1:
            start = label
        label = start if LABEL.fullmatch(text, start, end) else None
        if label is not None:
            continue
        cuts = [start, *(m.start() for m in GLUED.finditer(text, start, end)), end]
        for a, b in zip(cuts, cuts[1:]):
            piece = BULLET.sub("", text[a:b], count=1)
            yield b - len(piece), b


def split_sentences(passages: Sequence[Passage]) -> list[Sentence]:
    seen: set[str] = set()
    out: list[Sentence] = []
    for rank, passage in enumerate(passages):
        before, before_terms = "", frozenset[str]()  # the sentence before: whom an opening "He" stands for
        for start, end in sentence_pieces(passage.text):
            text = passage.text[start:end]
            key = " ".join(text.lower().split())
            terms = frozenset(content_terms(text))
            inherited = frozenset()
            if PRONOUN_FIRST.match(text):
                inherited = name_terms(before)
            previous_terms, before, before_terms = before_terms, text, terms
            if key in seen or not terms or key.endswith("?") or is_headline(text, passage.title):
                # Repeated captions, lone punctuation, questions (subheadings), and the headline, which every
                # citation shows already and which echoes a question more often than it answers one.
                continue
            seen.add(key)
            out.append(
                Sentence(passage, rank, passage.start + start, passage.start + end, text, terms, inherited, previous_terms)
            )
    return out


def is_headline(sentence: str, title: str) -> bool:
    """'UK reveals satellite images.' within 'UK reveals satellite images. Russian ships in ...'; also
    'NewsUK reveals satellite images.', where a section label ran into the headline's first word."""
    words = re.findall(r"\w+", sentence.lower())
    title_words = " " + " ".join(re.findall(r"\w+", title.lower())) + " "
    if not words:
        return False
    if " " + " ".join(words) + " " in title_words:
        return True
    glued = re.search(r" (\w+) " + re.escape(" ".join(words[1:])) + " ", title_words) if len(words) > 1 else None
    return bool(glued and words[0].endswith(glued.group(1)))


def adjacent(a: Sentence, b: Sentence) -> bool:
    """`a` and `b` are neighbours in one paragraph of one passage (in either order)."""
    if a.passage is not b.passage:
        return False
    first, second = (a, b) if a.start < b.start else (b, a)
    gap = a.passage.text[first.end - a.passage.start : second.start - a.passage.start]
    return not gap.strip() and "\n" not in gap


def quote_marks(text: str) -> int:
    """Double quotation marks; an odd count leaves a quotation open (or closes one opened before)."""
    return sum(text.count(mark) for mark in QUOTE_MARKS)


def whole_quote(sentence: Sentence, document: str, reach: int) -> Sentence:
    """The sentence with the rest of the quotation it opens or closes, at most `reach` sentences away within its
    paragraph of `document` (which may begin in the chunk before): the end of '"Russia's use ... resolutions. It
    undermines ... This and other evidence ...," said the UN diplomat.'"""
    if quote_marks(sentence.text) % 2 == 0:
        return sentence
    top = document.rfind("\n", 0, sentence.start) + 1
    bottom = document.find("\n", sentence.end)
    bottom = len(document) if bottom < 0 else bottom
    spans = [(top + a, top + b) for a, b in sentence_pieces(document[top:bottom])]
    if (sentence.start, sentence.end) not in spans:
        return sentence  # the passage began inside this sentence
    here = spans.index((sentence.start, sentence.end))
    # An odd count of marks before it: the quotation opened in a sentence before; else it closes in one after.
    if quote_marks(document[top : sentence.start]) % 2:
        others = spans[max(here - reach, 0) : here][::-1]
    else:
        others = spans[here + 1 : here + 1 + reach]
    for start, end in others:
        if quote_marks(document[start:end]) % 2:
            start, end = min(start, sentence.start), max(end, sentence.end)
            return replace(sentence, start=start, end=end, text=document[start:end])
    return sentence


def states_a_date(sentence: str) -> bool:
    # A credit's year ("© Getty Images | 2023") dates the licence, not what the picture shows.
    return bool(DATE.search(sentence)) and not CREDIT.search(sentence)
