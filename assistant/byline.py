"""Questions about an article itself ("Who wrote the article about ...?", "When was it published?", "Which
outlet published it?"): answered from its byline, dateline or outlet line near the top of the text, so the
citation is an exact span. The article is the one the best-ranked passage comes from; stored metadata alone is
never cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.focus import focus_names
from assistant.core.text import content_terms, name_terms
from assistant.core.types import Answer, Passage

HEAD = 1200  # characters from the start of a document where bylines and datelines are looked for
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?)"
# "the article", "the UK article", "the two articles", "it"; not "the UN report", a report the news is about.
ARTICLE = (
    r"(?:(?:[\w'ʼ-]+\s+){0,3}?(?:articles?|stor(?:y|ies)|pieces?)|reports?|texts?"
    r"|(?:other|first|second|third|fourth|fifth|last)\s+one"
    r"|it(?!\s+(?:is|was|would|will|has|had)\b))"
)
# "the second article", "the last one": retrieval ranks passages, it does not order articles, so which one is
# meant is unknown. "The other article" is known when exactly one retrieved article is not the one last cited.
ORDINAL = re.compile(r"\b(?:first|second|third|fourth|fifth|last)\s+(?:article|story|piece|one)\b", re.IGNORECASE)
OTHER = re.compile(r"\bother\s+(?:articles?|stor(?:y|ies)|pieces?|ones?)\b", re.IGNORECASE)
DETERMINER = r"(?:the |this |that |these |those |both |each |all )?"
PLURAL = re.compile(
    r"\b(?:articles|reports|stories|pieces|texts|these|those|both|each|all|which)\b", re.IGNORECASE
)  # "which article ...?" compares them all
# "Which article was published first?": answered only when every article's dateline is there to compare.
ORDER_QUESTION = (
    r"\bwhich (?:article|story|piece|report)\b.*\b(?:published|written|posted|released)\b.*"
    r"\b(?:first|last|earlier|later|earliest|latest|most recently)\b"
)
AUTHOR_QUESTION = re.compile(
    rf"\bwho (?:wrote|authored|penned) {DETERMINER}{ARTICLE}\b|\b(?:authors?|bylines?) of {DETERMINER}{ARTICLE}\b"
    r"|\bwho(?:\s+is|\s+was|\s+are|'s|’s) the (?:authors?|writers?|journalists?|reporters?)\b(?!\s+of\b)"
    r"|\b(?:authors?|writers?)['’]s? names?\b|\bnames? of the (?:authors?|writers?)\b",
    re.IGNORECASE,
)
DATE_QUESTION = re.compile(
    rf"\bwhen (?:was|were) {DETERMINER}{ARTICLE}\b.*\b(?:published|written|posted|released|dated)\b|"
    rf"\b(?:publication|publishing) dates?\b|\bdates? of {DETERMINER}{ARTICLE}\b|{ORDER_QUESTION}",
    re.IGNORECASE,
)
# "Which outlet published the article?", "Who published these stories?", "Where was it published?".
OUTLET = r"(?:news\s+)?(?:outlets?|publications?|newspapers?|papers?|magazines?|websites?|sites?|media|publishers?|agenc(?:y|ies))"
# "the article", "these stories", "it": not "an article about Tesla", one the text itself speaks of.
THE_ARTICLE = rf"(?:(?:the|this|that|these|those|both|each|all)\s+{ARTICLE}|it\b)"
OUTLET_QUESTION = re.compile(
    rf"\b(?:which|what)\s+{OUTLET}\s+(?:published|ran|carried|printed|posted|released)\s+{THE_ARTICLE}"
    rf"|\bwho\s+(?:published|ran|printed|posted)\s+{THE_ARTICLE}"
    rf"|\b(?:where|in\s+which\s+\w+)\s+(?:was|were)\s+{THE_ARTICLE}\s+(?:first\s+)?(?:published|printed|posted)\b"
    rf"|\b(?:publishers?|outlets?)\s+of\s+{THE_ARTICLE}"
    rf"|\b(?:which|what)\s+{OUTLET}\s+(?:is|are|was|were)\s+{THE_ARTICLE}\s+from\b",
    re.IGNORECASE,
)
# A line naming the outlet: "Source: Reuters", "Published by the Kyiv Independent", or a wire dateline
# "LONDON (Reuters) -". The text must say it: an outlet stored as metadata alone is never cited.
OUTLET_LINE = re.compile(
    r"^[ \t]*(?i:source|publisher|published\s+(?:by|in)|originally\s+published\s+(?:by|in))[ \t]*:?[ \t]*"
    r"(?:the\s+)?[A-Z][^\n]{0,60}$"
    r"|^[ \t]*[A-Z][\w .,'-]{0,40}\((?:[A-Z][\w&.]*[ \t]?){1,3}\)[ \t]*[-–—]",
    re.MULTILINE,
)
# "By Jane Doe", "Author:\nLiza Brovko", "Written by: J. Smith": the label, then a capitalised name on its line.
BYLINE = re.compile(
    r"^[ \t]*(?i:by|author:?|written by:?)[ \t]*\n?[ \t]*[A-Z][\w'’.-]+(?:[ \t]+[A-Z][\w'’.-]+){1,3}[ \t]*$", re.MULTILINE
)
# A short line holding a full date: "6:48 AM EST, January 22, 2024", "Published 2024-01-22", "22 January 2024".
DATELINE = re.compile(
    rf"^[^\n]{{0,40}}(?:{MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})[^\n]{{0,30}}$",
    re.MULTILINE,
)


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


def line_asked_for(question: str) -> re.Pattern[str] | None:
    """BYLINE for "who wrote the article", DATELINE for "when was it published", OUTLET_LINE for "which outlet
    published it", else None."""
    if AUTHOR_QUESTION.search(question):
        return BYLINE
    if OUTLET_QUESTION.search(question):
        return OUTLET_LINE
    return DATELINE if DATE_QUESTION.search(question) else None


def about_articles(question: str, passages: Sequence[Passage], last: Followed = Followed()) -> list[tuple[Passage, int, int]]:
    """(passage, start, end) of the byline or dateline that answers a question about an article: the one whose
    title or outlet the question names, else the best-ranked; for "the articles", "both", each retrieved
    article's that has one; for "the other article", the retrieved one(s) that the `last` turn was not about.
    start/end are offsets in the document."""
    pattern = line_asked_for(question)
    if pattern is None or not passages or ORDINAL.search(question):
        return []
    docs = list(dict.fromkeys(p.doc_id for p in passages))  # in rank order
    other = OTHER.search(question)
    if other:
        docs = last.others(docs)
        if len(docs) != 1 and not other.group(0).lower().endswith("s"):
            return []
    elif not PLURAL.search(question):
        asked = set(content_terms(question))
        named = {p.doc_id: len(asked & set(content_terms(f"{p.title} {p.source}"))) for p in passages}
        docs = [max(docs, key=lambda doc: named[doc])]  # the first of equals: the best-ranked
    found = [_line_in(pattern, [p for p in passages if p.doc_id == doc]) for doc in docs]
    if re.search(ORDER_QUESTION, question, re.IGNORECASE) and not all(found):
        return []  # an undated article leaves the order unknown
    return [line for line in found if line]


def _line_in(pattern: re.Pattern[str], passages: Sequence[Passage]) -> tuple[Passage, int, int] | None:
    """The first match of `pattern` near the top of the document that `passages` come from."""
    for passage in sorted((p for p in passages if p.start < HEAD), key=lambda p: p.start):
        match = pattern.search(passage.text)
        if match and passage.start + match.start() < HEAD:
            start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
            end = match.end() - (len(match.group(0)) - len(match.group(0).rstrip()))
            return passage, passage.start + start, passage.start + end
    return None
