"""SQuAD v1.1 as a retrieval + extractive-answer benchmark, beside the naive llama-index starter.

One document per paragraph (id `title#paragraph_index`), ingested through the real pipeline from a
JSON article list; gold = the question's own paragraph. Scores: paragraph hit@1 / hit@5 (distinct
paragraphs in rank order) and how often the extractive answer contains a gold answer after the
standard SQuAD normalisation. Data: SQuAD v1.1 dev (Rajpurkar et al. 2016), CC BY-SA 4.0.

    python bench/squad.py --split test            # the full run (embeds 2,067 paragraphs twice, cached)
    python bench/squad.py --split dev --articles 2 --limit 100   # quick development run
    python bench/squad.py --split dev --match 'stand for|short for' --no-baseline   # one kind of question
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import string
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCHMARKS, CACHE, ROOT, in_split, mean, percentile, table, write_report  # noqa: E402

MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class Question:
    text: str
    paragraph: str  # doc id
    answers: tuple[str, ...]


def load(path: Path, split: str, articles: int | None) -> tuple[list[dict[str, str]], list[Question]]:
    """(JSON article list, one per paragraph; questions of the split in file order)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"error: cannot read SQuAD v1.1 from {path} ({type(exc).__name__}); pass --data dev-v1.1.json")
    docs: list[dict[str, str]] = []
    questions: list[Question] = []
    position = 0
    for article in data[:articles]:
        for number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{article['title']}#{number}"
            docs.append({"title": article["title"].replace("_", " "), "body": paragraph["context"], "url": doc_id})
            for qa in paragraph["qas"]:
                if in_split(position, split):
                    questions.append(Question(qa["question"], doc_id, tuple(a["text"] for a in qa["answers"])))
                position += 1
    return docs, questions


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def contains_answer(answer: str, golds: Sequence[str]) -> bool:
    """Max over the gold answers: the normalised gold occurs as whole words in the normalised answer."""
    said = f" {normalize_answer(MARKER.sub('', answer))} "
    return any(f" {g} " in said for g in map(normalize_answer, golds) if g)


def ranked_paragraphs(doc_ids: Sequence[str]) -> list[str]:
    """Distinct documents in order of their best chunk."""
    return list(dict.fromkeys(doc_ids))


def score_ranking(ranked: Sequence[str], gold: str) -> dict[str, float]:
    return {"hit@1": float(ranked[:1] == [gold]), "hit@5": float(gold in ranked[:5])}


def workdir(docs: list[dict[str, str]]) -> Path:
    """A cache folder per corpus content, so a full run and a sampled one never share an index."""
    digest = hashlib.sha256(json.dumps(docs, sort_keys=True).encode()).hexdigest()[:12]
    folder = CACHE / f"squad-{digest}"
    (folder / "corpus").mkdir(parents=True, exist_ok=True)
    articles = folder / "corpus" / "squad.json"
    if not articles.exists():
        articles.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    return folder


def run_assistant(folder: Path, questions: list[Question]) -> dict[str, Any]:
    from assistant import Assistant
    from assistant.core.config import load_settings
    from assistant.core.errors import IndexMismatchError
    from assistant.core.tokens import count_tokens
    from assistant.index.ingest import ingest

    settings = load_settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    try:
        report = ingest(settings, progress=True)
    except IndexMismatchError:  # the cached index predates a chunking or model change
        report = ingest(settings, rebuild=True, progress=True)
    print(report.line(), file=sys.stderr)
    bot = Assistant.open(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir)
    bot.ask(questions[0].text)  # warm-up
    rows, latencies, chunk_tokens = [], [], []
    for number, q in enumerate(questions, 1):
        if number % 250 == 0:
            print(f"assistant: {number}/{len(questions)} questions", file=sys.stderr)
        t0 = time.perf_counter()
        answer = bot.ask(q.text)
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked = ranked_paragraphs([p.doc_id for p in answer.retrieved])
        chunk_tokens += [count_tokens(p.text) for p in answer.retrieved[:5]]
        rows.append(
            score_ranking(ranked, q.paragraph)
            | {
                "contains": float(not answer.abstained and contains_answer(answer.text, q.answers)),
                "first_contains": float(bool(answer.citations) and contains_answer(answer.citations[0].text, q.answers)),
                "abstained": float(answer.abstained),
                "answer_words": len(MARKER.sub("", answer.text).split()) if not answer.abstained else 0,
            }
        )
    answered = [r for r in rows if not r["abstained"]]
    return {
        "system": f"assistant (hybrid, chunks {settings.chunk_size}/{settings.chunk_overlap}, top {settings.top_k})",
        "chunks": report.chunks,
        "avg_passage_tokens": round(mean(chunk_tokens), 1),
        "hit@1": mean([r["hit@1"] for r in rows]),
        "hit@5": mean([r["hit@5"] for r in rows]),
        "answer_contains_gold": mean([r["contains"] for r in rows]),
        "first_sentence_contains_gold": mean([r["first_contains"] for r in rows]),
        "abstained": mean([r["abstained"] for r in rows]),
        "answer_words": mean([r["answer_words"] for r in answered]),
        "ms_p50": percentile(latencies, 50),
        "ms_p95": percentile(latencies, 95),
    }


def run_starter(folder: Path, docs: list[dict[str, str]], questions: list[Question], k: int = 5) -> dict[str, Any]:
    """The llama-index starter: VectorStoreIndex with its default splitter, same embedding model, top-k."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage

    from assistant.core.config import load_settings
    from assistant.index.embeddings import load_embed_model

    embed = load_embed_model(load_settings())
    store = folder / "starter"
    if (store / "docstore.json").exists():
        index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(store)), embed_model=embed)
    else:
        documents = [Document(text=d["body"], metadata={"title": d["title"]}, id_=d["url"]) for d in docs]
        index = VectorStoreIndex.from_documents(documents, embed_model=embed, show_progress=True)
        index.storage_context.persist(persist_dir=str(store))
    retriever = index.as_retriever(similarity_top_k=k)
    retriever.retrieve(questions[0].text)  # warm-up
    rows, latencies = [], []
    for q in questions:
        t0 = time.perf_counter()
        nodes = retriever.retrieve(q.text)
        latencies.append((time.perf_counter() - t0) * 1000)
        rows.append(score_ranking(ranked_paragraphs([n.node.ref_doc_id or "" for n in nodes]), q.paragraph))
    return {
        "system": f"naive llama-index starter (VectorStoreIndex defaults, top {k})",
        "chunks": len(index.docstore.docs),
        "hit@1": mean([r["hit@1"] for r in rows]),
        "hit@5": mean([r["hit@5"] for r in rows]),
        "ms_p50": percentile(latencies, 50),
        "ms_p95": percentile(latencies, 95),
    }


# Measured by the benchmark maintainers on the test split (shared benchmarks README).
PUBLISHED = [
    {"system": "BM25 (stemmed), title-prefixed paragraphs [shared README]", "hit@1": 0.777, "hit@5": 0.934},
    {"system": "top paragraph's sentence with most question words [shared README]", "answer_contains_gold": 0.653},
]
COLUMNS = [
    "system", "chunks", "hit@1", "hit@5", "answer_contains_gold", "first_sentence_contains_gold", "abstained",
    "answer_words", "ms_p50", "ms_p95",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=BENCHMARKS / "squad-v1.1" / "dev-v1.1.json")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--articles", type=int, help="only the first N articles (development runs)")
    parser.add_argument("--limit", type=int, help="only the first N questions of the split (development runs)")
    parser.add_argument("--match", help="only the questions this regular expression finds (case-sensitive)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the llama-index starter")
    args = parser.parse_args()

    docs, questions = load(args.data, args.split, args.articles)
    if args.match:
        questions = [q for q in questions if re.search(args.match, q.text)]
    questions = questions[: args.limit]
    if not questions:
        sys.exit("error: no questions in that selection; raise --articles or --limit")
    folder = workdir(docs)
    started = time.perf_counter()
    results = [run_assistant(folder, questions)]
    if not args.no_baseline:
        results.append(run_starter(folder, docs, questions))
    sampled = bool(args.articles or args.limit or args.match)
    rows = results + ([] if sampled else PUBLISHED)
    text = table(rows, COLUMNS)
    print(text)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    data = {
        "benchmark": "SQuAD v1.1 dev, one document per paragraph",
        "commit": commit,
        "split": args.split,
        "paragraphs": len(docs),
        "questions": len(questions),
        "results": results,
        "published": PUBLISHED,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if sampled:
        print("(sampled run: no report written)", file=sys.stderr)
        return
    heading = (
        f"# SQuAD v1.1, {args.split} split: {len(questions)} questions over {len(docs)} paragraphs\n\n"
        "Data: SQuAD v1.1 dev (Rajpurkar et al., 2016), CC BY-SA 4.0. "
        "hit@k = the question's own paragraph among the first k distinct paragraphs; "
        "answer_contains_gold = the extractive answer holds a gold answer (SQuAD normalisation); "
        "first_sentence_contains_gold = its first cited sentence does.\n"
        f"Command: `python bench/squad.py --split {args.split}` at commit {commit}\n\n"
    )
    paths = write_report(f"squad-{args.split}", data, heading + text)
    print(f"wrote {paths[0]} and {paths[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
