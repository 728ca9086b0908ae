"""Questions about an article itself ("Who wrote the article about ...?", "When was it published?", "Which
outlet published it?"): answered from its byline, dateline or outlet line near the top of the text, so the
citation is an exact span. The article is the one the best-ranked passage comes from; stored metadata alone is
never cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.core.text import content_terms
from assistant.core.types import Passage
from assistant.question.articles import ORDER_QUESTION, ORDINAL, OTHER, PLURAL, Line, line_asked_for
from assistant.question.followup import Followed

HEAD = 1200  # characters from the start of a document where bylines and datelines are looked for
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?)"
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
LINES = {Line.AUTHOR: BYLINE, Line.OUTLET: OUTLET_LINE, Line.DATE: DATELINE}


def about_articles(question: str, passages: Sequence[Passage], last: Followed = Followed()) -> list[tuple[Passage, int, int]]:
    """(passage, start, end) of the byline or dateline that answers a question about an article: the one whose
    title or outlet the question names, else the best-ranked; for "the articles", "both", each retrieved
    article's that has one; for "the other article", the retrieved one(s) that the `last` turn was not about.
    start/end are offsets in the document."""
    line = line_asked_for(question)
    if line is None or not passages or ORDINAL.search(question):
        return []
    pattern = LINES[line]
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
