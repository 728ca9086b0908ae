"""The citation check for generated answers: every `[n]` must name a source, every sentence must cite one.

Markers are rewritten while the text streams in, so what the reader sees is already final: a
number with no source is dropped, valid numbers are renumbered 1..k in order of first use, and
each citation quotes its whole source passage with the passage's own offsets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.text import sentence_spans
from assistant.types import Citation, Passage

MARKER = re.compile(r"\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]")
# An unfinished marker at the end of a streamed piece is held back until it closes.
OPEN_MARKER = re.compile(r"\[[\d,\s]{0,12}$")
MARKER_ONLY = re.compile(r"^(?:\s*\[\d+\])+\s*[.!?]?$")


class CitationChecker:
    def __init__(self, sources: Sequence[Passage]) -> None:
        self.sources = list(sources)
        self.order: list[int] = []  # prompt numbers in order of first use
        self.invalid: list[int] = []
        self._pending = ""

    def feed(self, delta: str) -> str:
        """Rewrite a streamed piece; returns the text that is safe to show now."""
        text = self._pending + delta
        held = OPEN_MARKER.search(text)
        self._pending = held.group(0) if held else ""
        return self._rewrite(text[: held.start()] if held else text)

    def finish(self) -> str:
        text, self._pending = self._pending, ""
        return self._rewrite(text)

    def _rewrite(self, text: str) -> str:
        return MARKER.sub(self._renumber, text)

    def _renumber(self, match: re.Match[str]) -> str:
        numbers: list[int] = []
        for raw in match.group(1).split(","):
            n = int(raw)
            if not 1 <= n <= len(self.sources):
                self.invalid.append(n)
                continue
            if n not in self.order:
                self.order.append(n)
            numbers.append(self.order.index(n) + 1)
        return "".join(f"[{k}]" for k in dict.fromkeys(numbers))

    def citations(self) -> list[Citation]:
        out = []
        for number, n in enumerate(self.order, 1):
            p = self.sources[n - 1]
            out.append(Citation(number, p.doc_id, p.title, p.path, p.source, p.date, p.text, p.start, p.end))
        return out

    def problems(self, text: str, exempt: str) -> list[str]:
        """What failed the check: unknown numbers, then sentences without a citation (`exempt` aside)."""
        found = [f"[{n}]: no such source (the prompt had {len(self.sources)})" for n in dict.fromkeys(self.invalid)]
        for sentence in sentences(text):
            if not MARKER.search(sentence) and sentence != exempt:
                found.append(f"no citation: {sentence}")
        return found


def tidy(text: str) -> str:
    """Close the gaps a dropped marker leaves ("Najin [9]." -> "Najin.")."""
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def sentences(text: str) -> list[str]:
    """Sentences of an answer; a marker written after the full stop ("Najin. [1]") joins its sentence."""
    out: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        if out and MARKER_ONLY.match(piece):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out
