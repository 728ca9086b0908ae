""""Who is quoted in the articles?", "Which officials are quoted?": a request for every sentence of the
passages in which someone speaks. A question that names a topic ("Who is quoted about the sanctions?") is
not such a listing: the usual ranking answers it.
"""

from __future__ import annotations

import re

THE_ARTICLES = (
    r"(?:the|this|these|those|both|each|all(?:\s+the)?)\s+(?:two\s+)?"
    r"(?:articles?|stor(?:y|ies)|reports?|pieces?|texts?|documents?|corpus)"
)
PEOPLE = r"(?:people|persons|officials|experts|sources|speakers|individuals|politicians|analysts|leaders)"
QUOTED_ASKED = re.compile(
    rf"^\s*(?:(?:who(?:m)?|which\s+(?:[\w-]+\s+){{0,2}}?{PEOPLE})\s+"
    r"(?:(?:is|are|was|were|gets?|got)\s+(?:being\s+)?(?:quoted|cited)|speaks?|spoke|comments?|commented)"
    rf"(?:\s+(?:in|by)\s+{THE_ARTICLES})?"
    rf"|who(?:m)?\s+(?:does|do|did)\s+{THE_ARTICLES}\s+(?:quote|cite))\s*\??\s*$",
    re.IGNORECASE,
)


def asks_who_is_quoted(question: str) -> bool:
    return bool(QUOTED_ASKED.match(question))
