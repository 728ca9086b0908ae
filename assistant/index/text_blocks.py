"""Cut a long text into blocks of at most `size` characters, each ending at the best break near its end: a
blank line, a line break, a sentence end, a space, and only when the last half of the block has none of these
(a base64 blob, a 1 MB "word"), anywhere. Linear: each block is searched once, from its end."""

from __future__ import annotations

BREAKS = ("\n\n", "\n", ". ", "。", " ")


def blocks(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive blocks covering `text`; one block when it is not longer than `size`."""
    spans: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > size:
        end = start + size
        cut = end
        for mark in BREAKS:
            found = text.rfind(mark, start + size // 2, end)
            if found >= 0:
                cut = found + len(mark)
                break
        spans.append((start, cut))
        start = cut
    spans.append((start, len(text)))
    return spans
