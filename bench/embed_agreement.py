"""Do rankings hold under ONNX? Dense retrieval on MultiHop-RAG test queries, torch fp32 against onnx-int8 and onnx-fp32.

    python bench/embed_agreement.py [--gold-articles 20] [--others 10] [--seed 25]

The same chunk texts (the product's chunker, 256/32 tokens with the `title | source | date` header, embedded
as ingest embeds them) are embedded by each backend as the product does: torch fp32 (sentence-transformers),
onnx-int8 (chunks int8, questions fp32: assistant/index/embeddings.py) and onnx-fp32. Each test question
(i % 5 == 0, null queries left out) ranks the chunks by cosine; Hits@10 and MRR@10 follow the paper's rule
(a gold fact, spaces removed, inside the chunk text). Target (issue 25): within 0.005 of torch fp32.
Also the cosine of each chunk's and question's vector with torch fp32's, and top-10 overlap.

Bounded pool, because torch embeds ~2 chunks/s on this shared machine: test questions in file order are
taken while the union of their gold articles stays within --gold-articles, then --others articles drawn
with a fixed seed from the rest as distractors. Only questions whose gold articles are all in the pool count.
Writes eval/reports/embed-agreement.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BENCHMARKS, percentile, squash, table, write_report  # noqa: E402
from multihop import paper_metrics  # noqa: E402

from assistant.core.config import load_settings  # noqa: E402
from assistant.corpus.documents import load_corpus  # noqa: E402
from assistant.index.embeddings import load_embed_model, load_passage_model  # noqa: E402
from assistant.index.ingest import OffsetChunker, to_llama_document  # noqa: E402
from llama_index.core.schema import MetadataMode  # noqa: E402

DATA = BENCHMARKS / "multihop-rag"
BACKENDS = ("torch", "onnx-int8", "onnx-fp32")


def pool(articles: list[dict[str, Any]], queries: list[dict[str, Any]], gold_cap: int, others: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(articles, questions): test questions while their gold articles fit in gold_cap, plus seeded distractors."""
    gold: set[str] = set()
    chosen = []
    for q in queries:
        urls = {e["url"] for e in q["evidence_list"]}
        if urls and len(gold | urls) <= gold_cap:
            gold |= urls
            chosen.append(q)
    rest = sorted(a["url"] for a in articles if a["url"] not in gold)
    picked = gold | set(random.Random(seed).sample(rest, others))
    return [a for a in articles if a["url"] in picked], chosen


def chunk_texts(articles: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(what ingest embeds: header + passage, the passage alone for the hit rule), via the product's chunker."""
    settings = load_settings()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "corpus.json").write_text(json.dumps(articles), encoding="utf-8")
        docs = [to_llama_document(d) for d in load_corpus(Path(folder)).documents]
    nodes = OffsetChunker(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)(docs)
    return [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes], [n.get_content() for n in nodes]


def unit(vectors: Any) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def embed(backend: str, chunks: list[str], questions: list[str]) -> tuple[np.ndarray, np.ndarray, float]:
    """(chunk vectors, question vectors, seconds for the chunks), with the models the product uses."""
    settings = load_settings(embed_backend=backend)
    passages, queries = load_passage_model(settings), load_embed_model(settings)
    started = time.perf_counter()
    chunk_vectors = unit(passages.get_text_embedding_batch(chunks))
    seconds = time.perf_counter() - started
    return chunk_vectors, unit([queries.get_query_embedding(q) for q in questions]), seconds


def cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    values = (a * b).sum(axis=1).tolist()
    return {"mean": round(float(np.mean(values)), 4), "p01": round(percentile(values, 1), 4), "min": round(min(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold-articles", type=int, default=20, help="cap on the test questions' gold articles")
    parser.add_argument("--others", type=int, default=10, help="distractor articles drawn with --seed")
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--out-name", default="embed-agreement")
    args = parser.parse_args()

    articles = json.loads((DATA / "corpus.json").read_text(encoding="utf-8"))
    test = [q for i, q in enumerate(json.loads((DATA / "queries.json").read_text(encoding="utf-8"))) if i % 5 == 0]
    chosen_articles, questions = pool(articles, test, args.gold_articles, args.others, args.seed)
    embedded, passages = chunk_texts(chosen_articles)
    squashed = [squash(p) for p in passages]
    print(f"{len(chosen_articles)} articles, {len(embedded)} chunks, {len(questions)} test questions", flush=True)

    vectors: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
    for backend in BACKENDS:
        vectors[backend] = embed(backend, embedded, [q["query"] for q in questions])
        print(f"{backend}: {vectors[backend][2]:.0f} s for the chunks", flush=True)

    base_top = None
    rows = []
    for backend, (chunk_vectors, question_vectors, seconds) in vectors.items():
        top = np.argsort(-(question_vectors @ chunk_vectors.T), axis=1)[:, :10]
        base_top = top if base_top is None else base_top
        facts = [[squash(e["fact"]) for e in q["evidence_list"]] for q in questions]
        per_query = [
            paper_metrics([any(f in squashed[c] for f in fs) for c in ranks], [any(f in squashed[c] for c in ranks) for f in fs])
            for ranks, fs in zip(top, facts)
        ]
        torch_chunks, torch_questions, _ = vectors["torch"]
        rows.append({
            "backend": backend,
            "hits@10": round(float(np.mean([m["hits@10"] for m in per_query])), 4),
            "mrr@10": round(float(np.mean([m["mrr@10"] for m in per_query])), 4),
            "top10_overlap": round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, base_top)])), 3),
            **{f"chunk_cos_{k}": v for k, v in cosines(chunk_vectors, torch_chunks).items()},
            **{f"question_cos_{k}": v for k, v in cosines(question_vectors, torch_questions).items()},
            "chunks_per_s": round(len(embedded) / seconds, 2),
        })
    base = rows[0]
    for row in rows:
        row["d_hits@10"] = round(row["hits@10"] - base["hits@10"], 4)
        row["d_mrr@10"] = round(row["mrr@10"] - base["mrr@10"], 4)

    command = "python bench/embed_agreement.py " + " ".join(sys.argv[1:])
    load = round(os.getloadavg()[0], 1)
    data = {
        "command": command.strip(), "load_average_1m": load, "articles": len(chosen_articles), "chunks": len(embedded),
        "questions": len(questions), "gold_articles_cap": args.gold_articles, "others": args.others, "seed": args.seed,
        "rows": rows,
    }
    text = "\n\n".join([
        f"# Rankings under ONNX: {len(questions)} MultiHop-RAG test questions over {len(embedded)} chunks "
        f"({len(chosen_articles)} articles)",
        f"`{command.strip()}`; load average {load} at the end (2 cores). Pool: the gold articles of the first test "
        f"questions (up to {args.gold_articles}) plus {args.others} others (seed {args.seed}). "
        "Chunks and questions embedded as the product does; cosine and top-10 overlap are against torch fp32.",
        table(rows, ["backend", "hits@10", "d_hits@10", "mrr@10", "d_mrr@10", "top10_overlap",
                     "chunk_cos_mean", "chunk_cos_p01", "chunk_cos_min", "question_cos_min", "chunks_per_s"]),
    ])
    print(text)
    write_report(args.out_name, data, text)


if __name__ == "__main__":
    main()
