"""Reciprocal-rank fusion (Cormack et al., 2009) of score arrays over every chunk."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rank_of(scores: np.ndarray) -> np.ndarray:
    """Each chunk's rank under `scores`: 0 for the best (ties in chunk order)."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks


def rrf(rankings: Sequence[np.ndarray], k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Reciprocal-rank fusion of score arrays: a chunk at rank r (from 0) adds 1 / (k + r) for each. With `mask`,
    only those chunks are ranked; the others score -inf."""
    total = np.zeros(len(rankings[0]))
    for scores in rankings:
        total += 1.0 / (k + rank_of(scores if mask is None else np.where(mask, scores, -np.inf)))
    return total if mask is None else np.where(mask, total, -np.inf)


def top(scores: np.ndarray, n: int) -> list[int]:
    """Positions of the n best finite scores, best first."""
    return [int(i) for i in np.argsort(-scores, kind="stable")[:n] if np.isfinite(scores[i])]

