"""Words and sentences: the shared tokenizer for keyword scoring and sentence spans with offsets."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import regex
import Stemmer
from lemminflect import getAllLemmas

from assistant.core.lexicon import pairs, words

# Two or more word characters, split at "ʼ" (U+02BC), which Unicode counts as a letter but texts use as an
# apostrophe ("Russiaʼs" is "Russia" + "s").
WORD_PATTERN = r"[^\Wʼ]{2,}"
WORD = re.compile(WORD_PATTERN + r"|\d", re.UNICODE)
# A sentence ends after . ! ? and any closing quotes/brackets, before white space; or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?])(?:[\"'”’)\]]*)(?=\s)|(?=\n)")
ABBREVIATIONS = set(words("en/abbreviations"))
# Characters that do not show but split words or change how they compare: format characters (zero-width space
# and joiners, soft hyphen, word joiner, byte-order mark, direction marks) and control characters but white space.
INVISIBLE = regex.compile(r"[[\p{Cf}\p{Cc}]--\s]", regex.V1)
STOPWORDS = frozenset(words("en/stopwords"))


def normalized(text: str) -> str:
    """`text` as it is matched: NFKC ("ﬁnance" and full-width "ｆｉｎａｎｃｅ" are "finance") without invisible
    characters ("fi\u00adnance", "fi\u200dnance"). Questions are read as this; documents are matched by it while
    offsets stay in the original text, so never take an offset from it: its length differs."""
    return INVISIBLE.sub("", unicodedata.normalize("NFKC", text))


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


# Clipped words that texts use for the full ones ("photos" for "photographs"), counted as one term: stem -> stem.
CLIPPINGS = pairs("en/clippings")


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
PHRASAL = pairs("en/phrasal")


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords, irregular verbs in their base form, a phrasal verb as one
    term ("carri out"), in order (duplicates kept)."""
    words = [m.group(0).lower() for m in WORD.finditer(normalized(text))]
    terms = []
    for word, after in zip(words, [*words[1:], ""]):
        if word in STOPWORDS:
            continue
        term = stem(base_form(word))
        terms.append(f"{term} {after}" if PHRASAL.get(term) == after else term)
    return terms


def name_terms(text: str) -> frozenset[str]:
    """The terms of the capitalised words of `text` (names, and words that open a sentence)."""
    return frozenset(content_terms(" ".join(re.findall(r"\b[A-Z][\w'ʼ-]+", normalized(text)))))


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
