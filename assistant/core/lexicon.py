"""Word lists as data (assistant/lexicon/*.txt; README.md there lists them): `#` starts a comment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

LEXICON = Path(__file__).resolve().parent.parent / "lexicon"


def lines(name: str) -> list[list[str]]:
    """The words of each line of lexicon/<name>.txt that holds any, comments left out."""
    text = (LEXICON / f"{name}.txt").read_text(encoding="utf-8")
    return [line.split("#", 1)[0].split() for line in text.splitlines() if line.split("#", 1)[0].strip()]


@lru_cache(maxsize=None)
def words(name: str) -> tuple[str, ...]:
    """Every word of lexicon/<name>.txt, in file order ("en/stopwords")."""
    return tuple(word for line in lines(name) for word in line)


@lru_cache(maxsize=None)
def pairs(name: str) -> dict[str, str]:
    """Each line of lexicon/<name>.txt as key -> value ("en/clippings": "photograph" -> "photo")."""
    return {key: value for key, value in lines(name)}
