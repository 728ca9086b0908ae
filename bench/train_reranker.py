"""Train the retrieval reranker (assistant/retrieve/reranker.json) on MultiHop-RAG dev; check it on unseen documents.

    python bench/train_reranker.py [--data DIR] [--index-dir DIR] [--seeds 4] [--no-write]

Every non-null dev query goes through stage 1 of the retriever (candidates and their features, computed as
at query time); a candidate is positive when it holds one of the query's gold facts (the paper's matching
rule). A logistic regression (scikit-learn; standardised features) fitted on all of them is written to
assistant/retrieve/reranker.json.

Generalisation check, per seed: half of the articles are held out; models are fitted on the queries that
touch none of them and scored on the queries whose facts all lie in them ("unseen documents"), and fitted
on a random split of the same sizes ("random split"). Many MultiHop-RAG queries share facts, so a model
that learns which chunks answer rather than how to rank scores well on the random split only. Both the
logistic regression and gradient-boosted trees are measured, against stage 1's own RRF order.
Writes eval/reports/reranker.json and .md. The index is the one bench/multihop.py builds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import ROOT, mean, squash, table, write_report  # noqa: E402
from multihop import DEFAULT_DATA, corpus_folder, index_dir_for, load_queries, paper_metrics  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.core.config import load_settings  # noqa: E402
from assistant.retrieve.rerank import FEATURES, MODEL_FILE  # noqa: E402

K = 10
METRICS = ["hits@4", "hits@10", "mrr@10", "all_facts@10"]


@dataclass
class Query:
    urls: set[str]
    positions: np.ndarray  # candidate chunks
    features: np.ndarray  # one row per candidate
    holds: list[set[int]]  # per gold fact: the candidates (row numbers) holding it

    @property
    def labels(self) -> np.ndarray:
        rows = set().union(*self.holds)
        return np.array([int(i in rows) for i in range(len(self.positions))])


def collect(bot: Assistant, queries: Sequence[dict[str, Any]]) -> list[Query]:
    retriever = bot.retriever
    texts = [squash(node.text) for node in retriever.nodes]
    out = []
    for n, q in enumerate(queries):
        positions, features = retriever.candidates(q["query"], K)
        row = {int(p): i for i, p in enumerate(positions)}
        holds = []
        for evidence in q["evidence_list"]:
            fact = squash(evidence["fact"])
            holds.append({row[p] for p in row if fact in texts[p]})
        out.append(Query({e["url"] for e in q["evidence_list"]}, positions, features, holds))
        if n % 200 == 0:
            print(f"  features: {n}/{len(queries)} queries", file=sys.stderr, flush=True)
    return out


def scores(queries: Sequence[Query], rank: Callable[[Query], np.ndarray]) -> dict[str, float]:
    """Paper metrics over the top 10 when each query's candidates are ordered by `rank(query)` (higher first)."""
    sums = dict.fromkeys(METRICS, 0.0)
    for q in queries:
        top = np.argsort(-rank(q), kind="stable")[:K].tolist()
        ranked = paper_metrics([any(row in fact for fact in q.holds) for row in top], [bool(fact & set(top)) for fact in q.holds])
        for key in METRICS:
            sums[key] += ranked[key]
    return {key: round(value / max(len(queries), 1), 4) for key, value in sums.items()}


def logistic() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))


def trees() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=0)


def fit(make: Callable[[], Any], queries: Sequence[Query]) -> Any:
    return make().fit(np.vstack([q.features for q in queries]), np.concatenate([q.labels for q in queries]))


def by_model(model: Any) -> Callable[[Query], np.ndarray]:
    return lambda q: model.predict_proba(q.features)[:, 1]


def stage1(q: Query) -> np.ndarray:
    return q.features[:, FEATURES.index("rrf")]


def generalisation(queries: list[Query], seeds: int) -> list[dict[str, Any]]:
    urls = sorted(set().union(*(q.urls for q in queries)))
    rows = []
    for seed in range(seeds):
        rng = random.Random(seed)
        held = set(rng.sample(urls, len(urls) // 2))
        test = [q for q in queries if q.urls <= held]
        train = [q for q in queries if not q.urls & held]
        shuffled = rng.sample(queries, len(queries))
        splits = {"unseen documents": (train, test), "random split": (shuffled[: len(train)], shuffled[len(train) : len(train) + len(test)])}
        for split, (fit_on, score_on) in splits.items():
            base = {"seed": seed, "split": split, "train": len(fit_on), "test": len(score_on)}
            rows.append(base | {"ranker": "stage 1 (RRF)"} | scores(score_on, stage1))
            for name, make in (("logistic regression", logistic), ("gradient-boosted trees", trees)):
                rows.append(base | {"ranker": name} | scores(score_on, by_model(fit(make, fit_on))))
            print(f"  seed {seed}, {split}: done", file=sys.stderr, flush=True)
    return rows


def averaged(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for split in ("unseen documents", "random split"):
        for ranker in ("stage 1 (RRF)", "logistic regression", "gradient-boosted trees"):
            chosen = [r for r in rows if r["split"] == split and r["ranker"] == ranker]
            out.append({"split": split, "ranker": ranker, "queries": round(mean([r["test"] for r in chosen]))}
                       | {m: round(mean([r[m] for r in chosen]), 4) for m in METRICS})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--index-dir", type=Path, help="default: the one multihop.py builds for the configured chunking")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="measure only; leave assistant/retrieve/reranker.json as it is")
    args = parser.parse_args()
    settings = load_settings()
    index_dir = args.index_dir or index_dir_for(settings.chunk_size, settings.chunk_overlap)
    started = time.perf_counter()
    bot = Assistant.open(corpus_dir=corpus_folder(args.data, index_dir), index_dir=index_dir, follow_outside_symlinks=True)
    queries = [q for q in load_queries(args.data, "dev", None) if q["evidence_list"]]
    data = collect(bot, queries)
    rows = generalisation(data, args.seeds)
    final = fit(logistic, data)
    scaler, model = final[0], final[-1]
    weights = {
        "features": list(FEATURES),
        "mean": scaler.mean_.round(6).tolist(),
        "scale": scaler.scale_.round(6).tolist(),
        "coef": model.coef_[0].round(6).tolist(),
        "intercept": round(float(model.intercept_[0]), 6),
        "trained_on": f"MultiHop-RAG dev split ({len(data)} non-null queries, "
                      f"{sum(len(q.positions) for q in data)} candidates; Tang & Yang 2024, ODC-BY 1.0)",
        "trainer": "bench/train_reranker.py",
    }
    if not args.no_write:
        MODEL_FILE.write_text(json.dumps(weights, indent=1) + "\n", encoding="utf-8")
    summary = averaged(rows)
    pool = mean([all(q.holds) for q in data])
    columns = ["split", "ranker", "queries", *METRICS]
    md = [
        "# Retrieval reranker: training and generalisation", "",
        f"Trained on {weights['trained_on']}; every fact among the candidates for {pool:.3f} of the queries "
        f"(the ceiling of all-facts@10). Mean over {args.seeds} seeds; each seed holds out half of the articles "
        "(`bench/train_reranker.py`).", "",
        table(summary, columns), "",
        "Weights (standardised features):", "",
        table([{"feature": f, "weight": w} for f, w in zip(FEATURES, weights["coef"])], ["feature", "weight"]),
    ]
    text = "\n".join(md)
    print(text)
    report = {"weights": weights, "candidate_ceiling": round(pool, 4), "summary": summary, "runs": rows,
              "seconds": round(time.perf_counter() - started, 1), "model_file": str(MODEL_FILE.relative_to(ROOT))}
    paths = write_report("reranker", report, text)
    print(f"\nwrote {paths[0]} and {paths[1]}" + ("" if args.no_write else f" and {MODEL_FILE}"))


if __name__ == "__main__":
    main()
