"""Questions about an article itself ("Who wrote the article about ...?", "When was it published?"):
answered from its byline or dateline near the top of the text, so the citation is an exact span. The
article is the one the best-ranked passage comes from; stored metadata alone is never cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.types import Passage

HEAD = 1200  # characters from the start of a document where bylines and datelines are looked for
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?)"
ARTICLE = r"(?:article|report|story|piece|text|it)"
AUTHOR_QUESTION = re.compile(
    rf"\bwho (?:wrote|authored|penned) (?:the |this |that )?{ARTICLE}\b|\b(?:author|byline) of (?:the |this |that )?{ARTICLE}\b",
    re.IGNORECASE,
)
DATE_QUESTION = re.compile(
    rf"\bwhen (?:was|were) (?:the |this |that )?{ARTICLE}\b.*\b(?:published|written|posted|released|dated)\b|"
    rf"\b(?:publication|publishing) date\b|\bdate of (?:the |this |that )?{ARTICLE}\b",
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


def about_article(question: str, passages: Sequence[Passage]) -> tuple[Passage, int, int] | None:
    """(passage, start, end) of the byline or dateline that answers a question about the article, if any;
    start/end are offsets in the document."""
    pattern = line_asked_for(question)
    if pattern is None or not passages:
        return None
    doc_id = passages[0].doc_id
    for passage in sorted((p for p in passages if p.doc_id == doc_id and p.start < HEAD), key=lambda p: p.start):
        match = pattern.search(passage.text)
        if match and passage.start + match.start() < HEAD:
            start = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
            end = match.end() - (len(match.group(0)) - len(match.group(0).rstrip()))
            return passage, passage.start + start, passage.start + end
    return None
