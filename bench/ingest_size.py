"""Ingest rate of one huge file against a corpus of normal articles: MB/s and chunks/s, whole ingest and the
chunking stage alone, each corpus into a fresh index with the configured embedding model.

    python bench/ingest_size.py            # MultiHop-RAG articles (2 MB); one 10 MB file, one 30 MB on one line
    python bench/ingest_size.py --normal-mb 1 --big 5:one-line

Every text is MultiHop-RAG news prose. A huge file repeats the articles, each copy with every paragraph's words
rotated by the copy number, so that no sentence repeats (repeated sentences would be embedded once, and flatter
the rate). A `one-line` file has no line break at all. Writes eval/reports/ingest_size.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import BENCHMARKS, table, write_report  # noqa: E402

from assistant.core.config import load_settings  # noqa: E402
from assistant.corpus.documents import load_corpus  # noqa: E402
from assistant.index.ingest import OffsetChunker, ingest, to_llama_document  # noqa: E402

MB = 1_000_000


def articles() -> list[str]:
    return [a["body"] for a in json.loads((BENCHMARKS / "multihop-rag" / "corpus.json").read_text(encoding="utf-8"))]


def rotated(text: str, k: int) -> str:
    """Each paragraph's words rotated by k: the same words and length, other sentences."""
    paragraphs = []
    for paragraph in text.split("\n"):
        words = paragraph.split(" ")
        shift = k % len(words)
        paragraphs.append(" ".join(words[shift:] + words[:shift]))
    return "\n".join(paragraphs)


def huge_text(size: int, line_breaks: bool) -> str:
    bodies = articles()
    parts: list[str] = []
    total, k = 0, 0
    while total < size:
        for body in bodies:
            part = rotated(body, k) if line_breaks else " ".join(rotated(body, k).split())
            parts.append(part)
            total += len(part) + 2
            if total >= size:
                break
        k += 1
    return ("\n\n" if line_breaks else " ").join(parts)[:size]


def normal_corpus(folder: Path, size: int) -> None:
    total = 0
    for number, body in enumerate(articles()):
        if total >= size:
            break
        (folder / f"article-{number:04d}.txt").write_text(body, encoding="utf-8")
        total += len(body.encode("utf-8"))


def measure(name: str, corpus: Path) -> dict[str, Any]:
    size = sum(path.stat().st_size for path in corpus.iterdir())
    settings = load_settings(corpus_dir=corpus, index_dir=corpus.parent / "index")
    documents = [to_llama_document(doc) for doc in load_corpus(corpus).documents]
    started = time.perf_counter()
    failed = OffsetChunker(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap).prepare(documents, show=False)
    chunk_seconds = time.perf_counter() - started
    assert not failed, failed
    report = ingest(settings, progress=False)
    assert not report.problems, report.problems
    row = {
        "corpus": name, "files": len(documents), "MB": round(size / MB, 1), "chunks": report.chunks,
        "seconds": report.seconds, "MB/s": round(size / MB / report.seconds, 4),
        "chunks/s": round(report.chunks / report.seconds, 2),
        "chunking s": round(chunk_seconds, 1), "chunking MB/s": round(size / MB / chunk_seconds, 3),
    }
    print(table([row], list(row)), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--normal-mb", type=float, default=2.0, help="Size of the corpus of separate articles.")
    parser.add_argument(
        "--big", nargs="*", default=["10:paragraphs", "30:one-line"], help="Huge files, MB:paragraphs or MB:one-line."
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ingest-size-") as tmp:
        runs: list[tuple[str, Any]] = [(f"{args.normal_mb:g} MB of articles, one file each", lambda folder: normal_corpus(folder, int(args.normal_mb * MB)))]
        for spec in args.big:
            size, kind = spec.split(":")
            breaks = kind == "paragraphs"
            text = huge_text(int(float(size) * MB), breaks)
            runs.append((f"one {size} MB file, {kind}", lambda folder, text=text: (folder / "huge.txt").write_text(text, encoding="utf-8")))
        for number, (label, make) in enumerate(runs):
            corpus = Path(tmp) / f"run{number}" / "corpus"
            corpus.mkdir(parents=True)
            make(corpus)
            rows.append(measure(label, corpus))
    columns = list(rows[0])
    markdown = table(rows, columns)
    print(markdown)
    write_report("ingest_size", {"rows": rows, "command": " ".join(["python bench/ingest_size.py", *sys.argv[1:]])}, markdown)


if __name__ == "__main__":
    main()
