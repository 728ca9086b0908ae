"""Questions about an article itself ("Who wrote the article about ...?", "When was it published?"):
answered from its byline or dateline near the top of the text, so the citation is an exact span. The
article is the one the best-ranked passage comes from; stored metadata alone is never cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.text import content_terms
from assistant.types import Passage

HEAD = 1200  # characters from the start of a document where bylines and datelines are looked for
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?)"
# "the article", "the UK article", "the two articles", "it"; not "the UN report", a report the news is about.
ARTICLE = (
    r"(?:(?:[\w'ʼ-]+\s+){0,3}?(?:articles?|stor(?:y|ies)|pieces?)|reports?|texts?"
    r"|it(?!\s+(?:is|was|would|will|has|had)\b))"
)
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
# "By Jane Doe", "Author:\nLiza Brovko", "Written by: J. Smith": the label, then a capitalised name on its line.
BYLINE = re.compile(
    r"^[ \t]*(?i:by|author:?|written by:?)[ \t]*\n?[ \t]*[A-Z][\w'’.-]+(?:[ \t]+[A-Z][\w'’.-]+){1,3}[ \t]*$", re.MULTILINE
)
# A short line holding a full date: "6:48 AM EST, January 22, 2024", "Published 2024-01-22", "22 January 2024".
DATELINE = re.compile(
    rf"^[^\n]{{0,40}}(?:{MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})[^\n]{{0,30}}$",
    re.MULTILINE,
)


def line_asked_for(question: str) -> re.Pattern[str] | None:
    """BYLINE for "who wrote the article", DATELINE for "when was it published", else None."""
    return BYLINE if AUTHOR_QUESTION.search(question) else DATELINE if DATE_QUESTION.search(question) else None


def about_articles(question: str, passages: Sequence[Passage]) -> list[tuple[Passage, int, int]]:
    """(passage, start, end) of the byline or dateline that answers a question about an article: the one whose
    title or outlet the question names, else the best-ranked; for "the articles", "both", each retrieved
    article's that has one. start/end are offsets in the document."""
    pattern = line_asked_for(question)
    if pattern is None or not passages:
        return []
    docs = list(dict.fromkeys(p.doc_id for p in passages))  # in rank order
    if not PLURAL.search(question):
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
