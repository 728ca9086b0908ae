"""The sentences in which someone speaks, directly or in reported speech: what "Who is quoted?" lists, in
reading order.
"""

from __future__ import annotations

import re

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


def speaks(sentence: str) -> bool:
    """Someone is quoted: reported speech with a speaker's verb, or a quotation of three words or more said by
    someone ('He said "we will win."'); not a name in quotation marks ('obtained by "The Guardian"')."""
    return bool(SPEAKS.search(sentence) or (QUOTATION.search(sentence) and SPOKEN.search(sentence)))
