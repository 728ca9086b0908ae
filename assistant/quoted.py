""""Who is quoted in the articles?", "Which officials are quoted?": answered by every sentence of the passages
in which someone speaks, directly or in reported speech, in reading order. A question that names a topic
("Who is quoted about the sanctions?") is not a listing: the usual ranking answers it.
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
# Lower case: "the United States officially announced that" is no speaker's verb.
SPOKE = (
    r"(?:said|says|stated|states|told|tells|warned|warns|explained|explains|added|adds|noted|notes|declared|"
    r"declares|insisted|insists|argued|argues|stressed|stresses)"
)
SPEAKS = re.compile(
    # "Peskov stated last week that ...", "... said: "These horrific attacks ..."
    rf"\b{SPOKE}(?:\s+\w+){{0,2}}?(?:\s+that\b|\s*:)"
    # "... the Russian Federation and North Korea," said the UN diplomat.
    rf"|[,.!?][\"”»]?\s*{SPOKE}\s+\w"
    # "... is "unprecedented," according to the White House ..." (not "according to analysts")
    r"|\b(?i:according\s+to)\s+(?:the\s+)?[A-Z]"
)
QUOTATION = re.compile(r"[\"“«][^\"“”«»]*?\S+\s+\S+\s+\S+[^\"“”«»]*[\"”»]")  # three words or more
SPOKEN = re.compile(rf"\b{SPOKE}\b")
QUOTED_MAX = 10  # sentences in a listing


def asks_who_is_quoted(question: str) -> bool:
    return bool(QUOTED_ASKED.match(question))


def speaks(sentence: str) -> bool:
    """Someone is quoted: reported speech with a speaker's verb, or a quotation of three words or more said by
    someone ('He said "we will win."'); not a name in quotation marks ('obtained by "The Guardian"')."""
    return bool(SPEAKS.search(sentence) or (QUOTATION.search(sentence) and SPOKEN.search(sentence)))
