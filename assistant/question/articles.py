"""Questions about the articles themselves: which line of an article answers "Who wrote the article about
...?", "When was it published?", "Which outlet published it?"; and the words that point at one article among
several ("the other article", "the second one", "both articles")."""

from __future__ import annotations

import re
from enum import Enum

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


class Line(Enum):
    """The line near the top of an article that answers a question about the article."""

    AUTHOR = "byline"
    OUTLET = "outlet line"
    DATE = "dateline"


def line_asked_for(question: str) -> Line | None:
    """AUTHOR for "who wrote the article", OUTLET for "which outlet published it", DATE for "when was it
    published", else None."""
    if AUTHOR_QUESTION.search(question):
        return Line.AUTHOR
    if OUTLET_QUESTION.search(question):
        return Line.OUTLET
    return Line.DATE if DATE_QUESTION.search(question) else None
