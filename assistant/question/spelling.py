"""Misspelt words in a question ("Oboronlogistica", "Tikoretsk", "sanctons") read as the corpus spells them: a
word the index has never seen would otherwise match nothing, and the assistant would say the corpus does not
answer a question it does. Only long words unknown to the corpus are changed: capitalised ones (a name is what a
reader cannot know how to spell), and lower-case ones that are no English word either (an unknown common word,
"uninjured", is more often right than a typo); and only to a single clear nearest word of the corpus. An English
noun the corpus does not use reads as the word it is made from when the corpus uses that ("relationship" as
"relations")."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence

from lemminflect import getAllLemmas

from assistant.core.text import STOPWORDS, stem
from assistant.core.tuning import QuestionTuning

WORD = re.compile(r"\b[^\W\d_]+")
# A suffix that makes a noun of what it is about, and that the stemmer keeps ("relationship", "partnerships");
# it strips "-ment" and "-ation" itself. Plural first.
DERIVATIONAL = ("ships", "ship")
POSSESSIVE = re.compile(r"['ʼ’].*$")  # the corpus's "Pyongyangʼs" is the question's "Pyongyang"


class Speller:
    """Corrects question words against the index's vocabulary (stems); `surface` finds how a stem is
    written in the documents; `tuning` holds the spelling_* and derived_min_base values."""

    def __init__(self, vocabulary: Iterable[str], surface: Callable[[str], str | None], tuning: QuestionTuning) -> None:
        self.known = set(vocabulary)
        self.tuning = tuning
        self.by_initial: dict[str, list[str]] = {}
        for term in self.known:
            if len(term) >= tuning.spelling_min_length - 1:
                self.by_initial.setdefault(term[0], []).append(term)
        self.surface = surface

    def correct(self, question: str) -> str:
        return WORD.sub(lambda m: self._word(m.group(0)), question)

    def _word(self, word: str) -> str:
        term = stem(word.lower())
        if len(word) < self.tuning.spelling_min_length or term in self.known or word.lower() in STOPWORDS:
            return word
        name = word[0].isupper()
        if not name and getAllLemmas(word):
            return self._derived_from(word.lower()) or word  # an English word the corpus does not use
        near = [t for t in self.by_initial.get(term[0], []) if abs(len(t) - len(term)) <= 2]
        matches = difflib.get_close_matches(term, near, n=2, cutoff=self.tuning.spelling_cutoff)
        if len(matches) != 1 or POSSESSIVE.sub("", matches[0]) == term:
            return word  # none, no single clear one, or the same word (not a misspelling)
        written = self.surface(matches[0])
        # A name only for a name: "AppleCare" is not a misspelt "appearing" (a lower-case word may be either).
        return written if written and (written[0].isupper() or not name) else word

    def _derived_from(self, word: str) -> str | None:
        """The corpus's word that `word` is derived from: "relationship" is what "relations" are; None when the
        corpus has no such word."""
        for suffix in DERIVATIONAL:
            base = word.removesuffix(suffix)
            if base != word and len(base) >= self.tuning.derived_min_base and (term := stem(base)) in self.known:
                return self.surface(term)
        return None


def first_written(term: str, texts: Sequence[str]) -> str | None:
    """How `texts` write a word whose stem is `term`: its first form there (a `Speller`'s `surface`)."""
    word = re.compile(rf"\b{re.escape(term)}\w*", re.IGNORECASE)
    for text in texts:
        found = next((m.group(0) for m in word.finditer(text) if stem(m.group(0).lower()) == term), None)
        if found:
            return found
    return None
