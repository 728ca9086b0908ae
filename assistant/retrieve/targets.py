"""What a question names that ranks chunks of its own: the outlets (and dates) it draws on, and its clauses.

Questions that span several documents usually say which outlets (and sometimes dates) they draw on:
"Does the TechCrunch article ... while The Verge reports ...". Each outlet the question names (matched
against the `source` values in the index) becomes a *target*: its part of the question, with the whole
question, ranks that outlet's chunks (of that date, when a date is named). Each clause of the question
("..., is also battling Epic Games in court, and has showcased ...") usually paraphrases one sentence of one
article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.core.text import content_terms

MONTHS = "January February March April May June July August September October November December".split()
DATE = re.compile(
    r"\b(%s)\s+(\d{1,2}),?\s+(\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})(?=\b|T)" % "|".join(MONTHS), re.IGNORECASE
)
SAME_SOURCE = re.compile(r"\bsame (?:source|outlet|publication|news source|publisher)\b", re.IGNORECASE)
ALIAS_SEPARATORS = (" | ", " - ", ": ")
# "..., is also battling Epic Games in court, and has showcased ...": each clause usually asks for one fact.
CLAUSE = re.compile(
    r",\s+(?:and\s+|while\s+|but\s+)?|;\s+|\?\s*|\s+(?:and|while|whereas|but)\s+"
    r"(?=(?:is|was|has|had|also|the|a|an|in|on|by|according|as|did|does|do|which|who|that)\b)"
)


@dataclass(frozen=True)
class Target:
    """A named outlet (any of `sources`), optionally on one date, and the words of the question about it."""

    sources: frozenset[str]
    date: str
    text: str


def source_aliases(source: str) -> set[str]:
    """'The Roar | Sports Writers Blog' is also named 'The Roar'; 'FOX News - Health' also 'FOX News'; a
    one-word name is also written in capitals (feeds title-case acronyms: 'Cnbc | ...' is 'CNBC')."""
    names = {source.strip()}
    for separator in ALIAS_SEPARATORS:
        if separator in source:
            names.add(source.split(separator)[0].strip())
    names |= {name.upper() for name in names if " " not in name}
    return {name for name in names if len(name) >= 3}


class OutletMatcher:
    """Finds the outlets and dates a question names, among the `source` values of the index."""

    def __init__(self, sources: set[str], published: set[tuple[str, str]] | None = None) -> None:
        self.published = published  # (source, date) of every article, when known
        self.aliases: dict[str, set[str]] = {}
        for source in sources:
            for alias in source_aliases(source):
                self.aliases.setdefault(alias, set()).add(source)
        names = sorted(self.aliases, key=len, reverse=True)  # longest first: 'The Independent - Sports'
        # Case-sensitive on purpose: outlet names are capitalised, 'The Age' is not 'the age of'.
        self.pattern = re.compile(r"(?<!\w)(%s)(?!\w)" % "|".join(map(re.escape, names))) if names else None

    def targets(self, question: str) -> list[Target]:
        if self.pattern is None:
            return []
        mentions = [(m.start(), m.end(), frozenset(self.aliases[m.group(1)])) for m in self.pattern.finditer(question)]
        for m in SAME_SOURCE.finditer(question):  # "... and the subsequent report by the same source"
            earlier = [x for x in mentions if x[1] <= m.start()]
            if earlier:
                mentions.append((m.start(), m.end(), max(earlier, key=lambda x: x[1])[2]))
        mentions.sort()
        dates = [(m.start(), iso_date(m)) for m in DATE.finditer(question)]
        targets = []
        for i, (start, end, sources) in enumerate(mentions):
            lo = mentions[i - 1][1] if i else 0
            hi = mentions[i + 1][0] if i + 1 < len(mentions) else len(question)
            # The date written after the outlet ("TechCrunch, on October 7"), else the one just before it.
            named = [d for p, d in dates if end <= p < hi] or [d for p, d in dates if lo <= p < start]
            # Its words: what follows the name up to the next outlet ("the TechCrunch article on ..."), or
            # the whole question when little follows ("..., as reported by The Age and Fortune?").
            words = question[end:hi]
            targets.append(Target(sources, named[0] if named else "", words if len(content_terms(words)) >= 3 else question))
        return targets + self.date_targets(question, mentions, dates, {t.date for t in targets})

    def date_targets(
        self, question: str, mentions: list[tuple[int, int, frozenset[str]]], dates: list[tuple[int, str]], used: set[str]
    ) -> list[Target]:
        """A date no outlet mention took ("Did TechCrunch, after reporting on September 28, ..., when reporting
        on December 19, ...") names another article of the outlet mentioned before it."""
        extra: list[Target] = []
        for i, (position, date) in enumerate(dates):
            if not mentions:
                break
            before = [sources for start, _, sources in mentions if start < position]
            sources = before[-1] if before else mentions[0][2]
            if date in used or (self.published is not None and not any((s, date) in self.published for s in sources)):
                continue
            used.add(date)
            end = dates[i + 1][0] if i + 1 < len(dates) else len(question)
            words = DATE.sub(" ", question[position:end], count=1)
            extra.append(Target(sources, date, words if len(content_terms(words)) >= 3 else question))
        return extra


def clause_targets(target: Target, min_terms: int) -> list[Target]:
    """An undated target whose words hold several clauses becomes one target per clause: an outlet named
    once ("according to TechCrunch") often backs several facts from different articles. A clause holds at least
    `min_terms` content words."""
    if target.date:
        return [target]
    parts = [part for part in CLAUSE.split(target.text) if part and len(content_terms(part)) >= min_terms]
    return [Target(target.sources, target.date, part) for part in parts] if len(parts) >= 2 else [target]


def iso_date(match: re.Match[str]) -> str:
    if match.group(1):
        month = next(i for i, m in enumerate(MONTHS, 1) if m.lower() == match.group(1).lower())
        return f"{match.group(3)}-{month:02d}-{int(match.group(2)):02d}"
    return match.group(0)[:10]



def question_clauses(question: str, min_terms: int) -> list[str]:
    """The parts of the question with words enough (`min_terms` content words) to match a sentence on their own;
    else the question."""
    parts = [part.strip() for part in CLAUSE.split(question) if part and len(content_terms(part)) >= min_terms]
    return parts or [question]

