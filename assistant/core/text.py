"""Words and sentences: the shared tokenizer for keyword scoring and sentence spans with offsets."""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from lemminflect import getAllLemmas

# Two or more word characters, split at "ʼ" (U+02BC), which Unicode counts as a letter but texts use as an
# apostrophe ("Russiaʼs" is "Russia" + "s").
WORD_PATTERN = r"[^\Wʼ]{2,}"
WORD = re.compile(WORD_PATTERN + r"|\d", re.UNICODE)
# A sentence ends after . ! ? and any closing quotes/brackets, before white space; or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?])(?:[\"'”’)\]]*)(?=\s)|(?=\n)")
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "u.s", "u.k", "no", "inc", "ltd", "co", "gen", "lt", "col", "sgt", "e.g", "i.e", "etc", "jan", "feb", "aug", "sept", "oct", "nov", "dec"}
STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there these
    they this to was will with which what who whom whose when where why how did does do done was were been being
    has have had having can could would should may might must shall i you he she we me him her us them my your his
    its our from than so about any all also after before over under up down out more most other some only own same
    very just according article articles report reports reported said says say tell told both between among
    while during according per via whether either neither one many much each every""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


# Clipped words that texts use for the full ones ("photos" for "photographs"), counted as one term: stem -> stem.
CLIPPINGS = {
    "photograph": "photo", "telephon": "phone", "laboratori": "lab", "airplan": "plane", "aeroplan": "plane",
    "influenza": "flu", "memorandum": "memo", "gymnasium": "gym",
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    stemmed = _stemmer().stemWord(word)
    return CLIPPINGS.get(stemmed, stemmed)


@lru_cache(maxsize=65536)
def base_form(word: str) -> str:
    """'grew' -> 'grow', 'gave' -> 'give': an irregular verb form, which no stemmer joins to its base. A form
    that is also a word of its own ('found', 'left', 'shot', 'saw') stays as it is."""
    lemmas = getAllLemmas(word)
    verbs = lemmas.get("VERB", ())
    if not verbs or any(word in forms for forms in lemmas.values()):
        return word
    return verbs[0]


# Phrasal verbs whose verb alone means something else ("attacks were carried out" carry nothing):
# term -> particle.
PHRASAL = {
    "carri": "out", "point": "out", "rule": "out", "break": "out", "turn": "out",
    "give": "up", "set": "up", "make": "up",
}


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords, irregular verbs in their base form, a phrasal verb as one
    term ("carri out"), in order (duplicates kept)."""
    words = [m.group(0).lower() for m in WORD.finditer(text)]
    terms = []
    for word, after in zip(words, [*words[1:], ""]):
        if word in STOPWORDS:
            continue
        term = stem(base_form(word))
        terms.append(f"{term} {after}" if PHRASAL.get(term) == after else term)
    return terms


def name_terms(text: str) -> frozenset[str]:
    """The terms of the capitalised words of `text` (names, and words that open a sentence)."""
    return frozenset(content_terms(" ".join(re.findall(r"\b[A-Z][\w'ʼ-]+", text))))


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text, shifted by offset; spans hold no outer whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        end = match.end()
        if text[end : end + 1] != "\n" and _ends_with_abbreviation(text[start : match.start()]):
            continue
        _add(spans, text, start, end, offset)
        start = end
    _add(spans, text, start, len(text), offset)
    return spans


def _ends_with_abbreviation(sentence: str) -> bool:
    last = sentence.rsplit(None, 1)[-1].rstrip(".").lower() if sentence.strip() else ""
    return last in ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    s = start + lead
    spans.append((offset + s, offset + s + len(stripped)))
