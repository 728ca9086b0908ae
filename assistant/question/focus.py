"""The kind of thing a question asks for ("Which ships ...?") and the names that answer it in a text."""

from __future__ import annotations

import os
import re
from functools import lru_cache

from assistant.core.text import name_terms, stem

# "Name the ships", "List the ...": a request for names.
NAME_REQUEST = r"^\s*(?:please\s+)?(?:name|list)"
# "At which port ...?": the kind of thing asked for; a sentence naming one ("port of Najin") answers it.
FOCUS = re.compile(
    r"\b(?:which|what)\s+(?:[a-z-]+\s+){0,2}?([a-z]+)\s+(?:is|are|was|were|did|does|do|has|have|had)\b"
    # "the names of the (three Russian) ships", "Name the ships", "the ship names": the thing named
    rf"|(?:\bnames?\s+of|{NAME_REQUEST})\s+"
    r"(?:(?:the|these|those|all|both|each|(?-i:[A-Z][\w-]*)|[a-z]+ty|two|three|four|five)\s+)*([a-z]+)"
    r"|\b(?!(?:the|their|its|whose|what|which|these|those)\b)([a-z]+)\s+names\b",
    re.I,
)
NAME = r"[A-Z][\w'ʼ-]+"
# The rest of a list of names: "(the Maya), Angara and Maria", "(the Maja), Angara, and Maria".
MORE_NAMES = rf"(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+)(?:the\s+)?{NAME})*"


@lru_cache(maxsize=256)
def asked_focus(question: str) -> re.Pattern[str] | None:
    """What names one of the things asked for ("ships, the Maya" for "Which ships ...?", "port of Najin" for
    "At which port ...?"); None when the question asks for no kind of thing."""
    focus = FOCUS.search(question)
    if not focus:
        return None
    word = next(g for g in focus.groups() if g).lower()
    prefix = os.path.commonprefix([word, stem(word)])  # port/ports, company/companies
    return re.compile(rf"(?i:\b{prefix}\w*)\s*(?:,|-|–|—|\bof\b|\bcalled\b|\bnamed\b)?\s*(?:the\s+)?{NAME}")


def focus_names(question: str, text: str) -> frozenset[str]:
    """The terms of the names in `text` that answer "Which X ...?": {maya, angara, maria} for "Which ships were
    loaded?" in "... three Russian ships, the Maya, Angara and Maria, loading ..."; empty when it asks for no X."""
    named = asked_focus(question)
    if named is None:
        return frozenset()
    listed = re.compile(rf"(?:{named.pattern}){MORE_NAMES}")
    return frozenset().union(*(name_terms(m.group()) for m in listed.finditer(text)))
