"""The second retrieval stage: a logistic-regression reranker over per-candidate features.

The weights live in `assistant/retrieve/reranker.json`, written by `bench/train_reranker.py` from MultiHop-RAG's
dev split (news, ODC-BY 1.0) and checked there on documents the training never saw. A linear model on
purpose: gradient-boosted trees matched it when training and evaluation shared documents (MRR@10 .777
against .768) but fell behind on unseen documents (.728 against .752): they learn which chunks answer
rather than how to rank (bench/train_reranker.py, eval/reports/reranker.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.core.errors import ConfigError

MODEL_FILE = Path(__file__).resolve().parent / "reranker.json"

NO_TARGET_RANK = 60  # `target_rank` of a chunk no named outlet ranked
MAX_CHUNK_INDEX = 10  # `chunk_index` is capped here
# What each candidate chunk is described by (retrieve/hybrid.py computes them, in this order).
FEATURES = (
    "bm25",  # BM25 of the question over the chunk (header + passage), over the best chunk's
    "bm25_sentence",  # BM25 of the question over the chunk's best sentence, over the best sentence's
    "cosine",  # cosine of the question's vector and the chunk's
    "cosine_sentence",  # cosine of the question's vector and the chunk's best sentence's
    "rrf",  # reciprocal-rank fusion of those four rankings (x RetrievalTuning.rrf_k)
    "coverage",  # IDF-weighted share of the question's keywords the chunk holds
    "clause",  # best clause match: a sentence's BM25 (over the best) plus its cosine, best over the clauses
    "clause_bm25",  # the BM25 part alone, best over the clauses
    "clause_cosine",  # the cosine part alone, best over the clauses
    "clause_mean",  # the clause match averaged over the clauses (a chunk matching every clause is generic)
    "clause_rank",  # log(1 + rank) of the chunk among its outlet's (or all) chunks for its best clause
    "target_rank",  # log(1 + rank) in the ranking of the outlet the question names for it; log(1 + NO_TARGET_RANK) if none
    "dated_target",  # 1 when that named outlet comes with a date
    "chunk_index",  # position of the chunk in its document (0 = first), capped at MAX_CHUNK_INDEX
)


@dataclass(frozen=True)
class Reranker:
    """score = ((features - mean) / scale) @ coef + intercept (a logit: higher is more likely to hold an answer)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> Reranker:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if tuple(data["features"]) != FEATURES:
                raise ValueError(f"its features {data['features']} are not {list(FEATURES)}")
            arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef")]
            if any(a.shape != (len(FEATURES),) for a in arrays):
                raise ValueError("mean, scale and coef need one value per feature")
            return cls(*arrays, float(data["intercept"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"reranker weights {path} are unusable ({exc}); reinstall corpus-assistant or run bench/train_reranker.py"
            ) from None

    def score(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept
