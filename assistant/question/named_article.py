"""A question about one article named by words of its title or outlet ("What does the UK article say about
Peskov?", "According to the Britain article, who ...?"): it is answered from that article alone, and the words
that name the article are not words the answer must hold ("Britain" is in its title, rarely in its sentences)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from assistant.core.lexicon import words
from assistant.core.text import content_terms

ARTICLES = re.compile(r"\b(?:articles?|stor(?:y|ies)|pieces?)\b", re.I)
# "the UK article", "this satellite images story": up to four words before the noun.
REFERENCE = re.compile(
    r"\b(?:the|this|that)\s+(?P<words>(?:(?!(?:the|this|that)\b)[\w'ʼ’.-]+\s+){1,4}?)(?:article|story|piece)\b", re.I
)
# Words that place an article rather than name it: "the later article", "the same source's article".
PLACING = frozenset(content_terms(" ".join(words("en/placing_words"))))


@dataclass(frozen=True)
class NamedArticle:
    doc_id: str
    question: str  # as answered: "the UK article" reads "the article"


def label_terms(title: str, source: str) -> frozenset[str]:
    """What a question may call an article by: the words of its title and outlet."""
    return frozenset(content_terms(f"{title} {source}"))


def named_article(question: str, labels: Mapping[str, frozenset[str]]) -> NamedArticle | None:
    """The one article the question names, when all the words before "article" are in its title or outlet and
    in no other document's (`labels`: doc_id -> `label_terms`); None for no reference, or several."""
    if len(ARTICLES.findall(question)) != 1:
        return None  # "Do the articles ... and does the 'NBA Odds' article ...?" is about several
    references = [m for m in REFERENCE.finditer(question) if content_terms(m["words"])]  # not "the other article"
    if len(references) != 1:
        return None
    reference = references[0]
    words = set(content_terms(reference["words"]))
    if words & PLACING:
        return None
    docs = [doc_id for doc_id, label in labels.items() if words <= label]
    if len(docs) != 1:
        return None
    return NamedArticle(docs[0], f"{question[: reference.start()]}the article{question[reference.end() :]}")
