"""Reciprocal-rank fusion (Cormack et al., 2009) of score arrays over every chunk.

A rank is always the one a stable sort by descending score gives (ties in chunk order). A question needs
full sorts only for the four rankings of every chunk it fuses: a ranking within an outlet sorts that outlet's
chunks alone, the best n are found by partition, and the rank of a few chunks by one unstable sort, so the
work that grows with the corpus stays a handful of passes over it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rank_of(scores: np.ndarray) -> np.ndarray:
    """Each chunk's rank under `scores`: 0 for the best (ties in chunk order)."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def rank_at(scores: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """`rank_of(scores)[positions]` without ranking every chunk: the chunks scoring higher, plus the tied ones
    before it (counted only for a score that is tied)."""
    ascending = np.sort(scores)
    values = scores[positions]
    above = np.searchsorted(ascending, values, side="right")
    ranks = len(scores) - above
    for i in np.flatnonzero(above - np.searchsorted(ascending, values, side="left") > 1):
        ranks[i] += np.count_nonzero(scores[: positions[i]] == values[i])
    return ranks


def rrf(rankings: Sequence[np.ndarray], k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Reciprocal-rank fusion of score arrays: a chunk at rank r (from 0) adds 1 / (k + r) for each. With `mask`,
    only those chunks are ranked (among themselves; their scores must be finite); the others score -inf."""
    if mask is None:
        total = np.zeros(len(rankings[0]))
        for scores in rankings:
            total += 1.0 / (k + rank_of(scores))
        return total
    within = np.flatnonzero(mask)
    fused = np.full(len(rankings[0]), -np.inf)
    fused[within] = rrf([scores[within] for scores in rankings], k)
    return fused


def top(scores: np.ndarray, n: int, within: np.ndarray | None = None) -> list[int]:
    """Positions of the n best finite scores, best first (ties in chunk order); with `within` (ascending
    positions), among those only."""
    values = scores if within is None else scores[within]
    if n <= 0:
        return []
    if n < len(values):  # every score at least the n-th best, in chunk order, then a stable sort of those few
        kept = np.flatnonzero(values >= -np.partition(-values, n - 1)[n - 1])
        order = kept[np.argsort(-values[kept], kind="stable")[:n]]
    else:
        order = np.argsort(-values, kind="stable")
    order = order[np.isfinite(values[order])]
    return (order if within is None else within[order]).tolist()
