"""MultiHop-RAG retrieval benchmark (Tang & Yang, COLM 2024; data ODC-BY 1.0), scored with the paper's rules.

    python bench/multihop.py [--data DIR] [--split dev|test] [--index-dir DIR] [--limit N] [--no-naive] [--no-ask]

The index is built once with our own ingest (corpus.json through the JSON loader) into --index-dir and
reused; build it with the chunking you want to measure (--chunk-size/--chunk-overlap, default: the
configured ones). Scored on the split's non-null queries: Hits@4, Hits@10, MRR@10, MAP@10, all-facts@10
(every evidence fact among the top 10), document recall@10, average passage tokens (cl100k) and ms per
query. A chunk is a hit when a gold fact, spaces and newlines removed, is a substring of it. Null queries
measure abstention: `Assistant.ask(q).abstained` on null queries (should abstain) and on the others
(false abstentions). Stage 1 alone (the question's reciprocal-rank fusion, no reranker) and the naive
llama-index starter (VectorStoreIndex, default splitter, same MiniLM embedding, top 10) are measured on
the same queries; the starter's index is persisted under --index-dir too.
Writes eval/reports/multihop-<split>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import BENCHMARKS, CACHE, in_split, mean, percentile, squash, table, write_report  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.core.tokens import count_tokens  # noqa: E402
from assistant.retrieve.hybrid import doc_id_of  # noqa: E402
from assistant.retrieve.rerank import FEATURES  # noqa: E402

DEFAULT_DATA = BENCHMARKS / "multihop-rag"
K = 10
TARGETS = {"hits@10": 0.96, "hits@4": 0.88, "mrr@10": 0.75, "all_facts@10": 0.60}
PAPER_BEST = "voyage-02 + bge-reranker-large: MRR@10 .586, MAP@10 .480, Hits@10 .747, Hits@4 .663 (paper Table 5)"
COLUMNS = ["system", "queries", "hits@4", "hits@10", "mrr@10", "map@10", "all_facts@10", "doc_recall@10", "passage_tokens", "ms_per_query", "p95_ms"]


def load_queries(data: Path, split: str, limit: int | None) -> list[dict[str, Any]]:
    try:
        queries = json.loads((data / "queries.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"no queries.json in {data}; pass --data DIR holding MultiHop-RAG's corpus.json and queries.json")
    chosen = [q for i, q in enumerate(queries) if in_split(i, split)]
    return chosen[:limit] if limit else chosen


def paper_metrics(hits: Sequence[bool], found: Sequence[bool]) -> dict[str, float]:
    """One query's ranking metrics: `hits[r]` says whether the passage at rank r holds a gold fact, `found[f]`
    whether gold fact f is in any of the top 10."""
    first = next((rank for rank, hit in enumerate(hits) if hit), None)
    # AP over the hit chunks among the top 10 (the paper's MAP@10 formulation).
    precisions = [sum(hits[: r + 1]) / (r + 1) for r, hit in enumerate(hits) if hit]
    return {
        "hits@4": float(any(hits[:4])),
        "hits@10": float(any(hits)),
        "mrr@10": 0.0 if first is None else 1 / (first + 1),
        "map@10": mean(precisions),
        "all_facts@10": float(all(found)),
    }


def score_retrieval(name: str, queries: Sequence[dict[str, Any]], search: Callable[[str], list[tuple[str, str]]]) -> dict[str, Any]:
    """`search(query)` -> top-10 (doc_id, passage text). Null queries are left out (paper rule)."""
    sums = dict.fromkeys(["hits@4", "hits@10", "mrr@10", "map@10", "all_facts@10", "doc_recall@10"], 0.0)
    tokens: list[int] = []
    times: list[float] = []
    scored = [q for q in queries if q["evidence_list"]]
    for q in scored:
        started = time.perf_counter()
        top = search(q["query"])[:K]
        times.append((time.perf_counter() - started) * 1000)
        facts = [squash(e["fact"]) for e in q["evidence_list"]]
        texts = [squash(text) for _, text in top]
        ranked = paper_metrics([any(f in t for f in facts) for t in texts], [any(f in t for t in texts) for f in facts])
        for key, value in ranked.items():
            sums[key] += value
        gold = {e["url"] for e in q["evidence_list"]}
        sums["doc_recall@10"] += len(gold & {doc for doc, _ in top}) / len(gold)
        tokens += [count_tokens(text) for _, text in top]
    n = max(len(scored), 1)
    row = {"system": name, "queries": len(scored)} | {key: round(value / n, 4) for key, value in sums.items()}
    return row | {
        "passage_tokens": round(mean(tokens), 1),
        "ms_per_query": round(mean(times), 1),
        "p95_ms": round(percentile(times, 95), 1),
    }


def stage1(bot: Assistant, query: str) -> list[tuple[str, str]]:
    """The top 10 by the question's reciprocal-rank fusion alone: what the reranker starts from."""
    retriever = bot.retriever
    positions, features = retriever.candidates(query, K)
    order = np.argsort(-features[:, FEATURES.index("rrf")], kind="stable")[:K]
    nodes = [retriever.nodes[positions[i]] for i in order]
    return [(doc_id_of(node), node.text) for node in nodes]


def index_dir_for(chunk_size: int, chunk_overlap: int) -> Path:
    """Where the index for these chunk settings is built and reused (latency.py and train_reranker.py open it)."""
    return CACHE / f"multihop-{chunk_size}-{chunk_overlap}"


def corpus_folder(data: Path, index_dir: Path) -> Path:
    """A folder holding only corpus.json, linked to the shared copy: open it with follow_outside_symlinks=True."""
    folder = index_dir.parent / f"{index_dir.name}-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "corpus.json"
    if not link.exists():
        link.symlink_to((data / "corpus.json").resolve())
    return folder


def abstention(bot: Assistant, queries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    null = [q for q in queries if not q["evidence_list"]]
    answerable = [q for q in queries if q["evidence_list"]]
    abstained_null = sum(bot.ask(q["query"]).abstained for q in null)
    abstained_answerable = sum(bot.ask(q["query"]).abstained for q in answerable)
    return {
        "null_queries": len(null),
        "null_abstention_rate": round(abstained_null / max(len(null), 1), 4),
        "answerable_queries": len(answerable),
        "false_abstention_rate": round(abstained_answerable / max(len(answerable), 1), 4),
    }


def naive_baseline(data: Path, cache: Path) -> Callable[[str], list[tuple[str, str]]]:
    """The llama-index starter: VectorStoreIndex over the articles with every default, our MiniLM model."""
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex, load_index_from_storage

    from assistant.core.config import load_settings
    from assistant.index.embeddings import load_embed_model

    Settings.embed_model = load_embed_model(load_settings())
    Settings.llm = None
    if (cache / "docstore.json").exists():
        index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(cache)))
    else:
        articles = json.loads((data / "corpus.json").read_text(encoding="utf-8"))
        documents = [Document(text=a["body"], metadata={k: v for k, v in a.items() if k != "body"}) for a in articles]
        index = VectorStoreIndex.from_documents(documents, show_progress=sys.stderr.isatty())
        index.storage_context.persist(persist_dir=str(cache))
    retriever = index.as_retriever(similarity_top_k=K)
    return lambda query: [(str(hit.node.metadata.get("url", "")), hit.node.get_content()) for hit in retriever.retrieve(query)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--index-dir", type=Path, default=None, help="default: <cache>/multihop-<chunk>-<overlap>")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--chunk-overlap", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N queries of the split")
    parser.add_argument("--no-naive", action="store_true", help="skip the llama-index starter baseline")
    parser.add_argument("--no-ask", action="store_true", help="skip the abstention measurement")
    args = parser.parse_args()
    if not (args.data / "corpus.json").is_file():
        raise SystemExit(f"no corpus.json in {args.data}; pass --data DIR holding MultiHop-RAG's files")

    from assistant.core.config import load_settings

    settings = load_settings(chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)
    index_dir = args.index_dir or index_dir_for(settings.chunk_size, settings.chunk_overlap)
    queries = load_queries(args.data, args.split, args.limit)
    started = time.perf_counter()
    bot = Assistant.open(corpus_dir=corpus_folder(args.data, index_dir), index_dir=index_dir, follow_outside_symlinks=True,
                         chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    open_seconds = round(time.perf_counter() - started, 1)
    bot.retrieve("warm-up question about the news")
    rows = [score_retrieval(f"ours: hybrid, {settings.chunk_size}/{settings.chunk_overlap} chunks",
                            queries, lambda q: [(p.doc_id, p.text) for p in bot.retrieve(q, K)]),
            score_retrieval("ours, stage 1 alone (RRF of the four rankings, no reranker)", queries, partial(stage1, bot))]
    abstain = None if args.no_ask else abstention(bot, queries)
    if not args.no_naive:
        naive = naive_baseline(args.data, index_dir.parent / "multihop-naive-starter")
        naive("warm-up question about the news")
        rows.append(score_retrieval("naive llama-index starter (1024/200, dense top 10)", queries, naive))

    ours = rows[0]
    report = {
        "benchmark": "MultiHop-RAG (Tang & Yang 2024, arXiv 2401.15391), ODC-BY 1.0",
        "split": args.split, "limit": args.limit, "index_dir": str(index_dir), "open_seconds": open_seconds,
        "chunks": bot.index.manifest().get("chunks"), "rows": rows, "abstention": abstain,
        "targets": {key: {"target": value, "ours": ours[key], "met": ours[key] >= value} for key, value in TARGETS.items()},
        "paper_best": PAPER_BEST,
    }
    md = [f"# MultiHop-RAG retrieval, {args.split} split", "",
          f"{ours['queries']} non-null queries{f' (first {args.limit})' if args.limit else ''}; index {index_dir} "
          f"({report['chunks']} chunks). Paper scoring (see bench/multihop.py). Data: MultiHop-RAG, Tang & Yang 2024, ODC-BY 1.0.", "",
          table(rows, COLUMNS), "",
          "Targets: " + ", ".join(f"{k} ≥ {v['target']} ({'met' if v['met'] else 'not met'}: {v['ours']:.3f})" for k, v in report["targets"].items()), "",
          f"Paper's best retrieval: {PAPER_BEST}."]
    if args.split == "dev":
        md += ["", "The reranker (assistant/retrieve/reranker.json) was fitted on this split, so these numbers are in-sample; "
               "its check on articles it never saw is eval/reports/reranker.md."]
    if abstain:
        md += ["", f"Abstention (extractive `ask`): {abstain['null_abstention_rate']:.3f} of {abstain['null_queries']} null queries "
               f"abstained; false abstentions {abstain['false_abstention_rate']:.3f} of {abstain['answerable_queries']} answerable queries."]
    text = "\n".join(md)
    print(text)
    paths = write_report(f"multihop-{args.split}" + (f"-limit{args.limit}" if args.limit else ""), report, text)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
