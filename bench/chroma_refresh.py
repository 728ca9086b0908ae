"""What it costs a process sharing a Chroma server to follow another process's ingest.

    python bench/chroma_refresh.py [--articles 150]

Starts `chroma run` on 127.0.0.1 over a temporary folder, then:
1. a writer ingests the first --articles MultiHop-RAG articles through it (chunks, docstore, sentence vectors);
2. a reader with an empty cache folder opens them (a process joining): refresh = the chunks (text, metadata,
   vectors), the docstore and the sentence vectors fetched, BM25 and term statistics built into the cache's
   generation; then the load (the cache's files into memory);
3. the writer changes one article and ingests it; the reader's next question finds a new commit: its
   refresh and reload, timed apart;
4. the check before every question when nothing changed (one request): p50/p95 over 50;
5. for comparison, the reader embedding the sentences itself instead of fetching them (measured on up to
   2,000 sentences, scaled to all).
The CPU is shared: compare rows of one run, not runs. Writes eval/reports/chroma-refresh.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BENCHMARKS, percentile, table, write_report  # noqa: E402

from assistant.app.assistant import Assistant  # noqa: E402
from assistant.core.config import load_settings  # noqa: E402
from assistant.index.chroma_server import ServerIndex  # noqa: E402
from assistant.index.embeddings import load_embed_model  # noqa: E402
from assistant.index.ingest import ingest  # noqa: E402
from assistant.index.keyword import all_chunks, chunk_sentences  # noqa: E402

DATA = BENCHMARKS / "multihop-rag" / "corpus.json"
SAMPLE = 2000


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def start_chroma(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(folder / "data"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"chroma run did not start on {url}")


def measure(work: Path, url: str, articles: list[dict[str, Any]]) -> dict[str, Any]:
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "corpus.json").write_text(json.dumps(articles), encoding="utf-8")
    writer = load_settings(corpus_dir=corpus, index_dir=work / "writer", chroma_url=url)
    reader = load_settings(corpus_dir=corpus, index_dir=work / "reader", chroma_url=url)
    report, ingest_s = timed(lambda: ingest(writer, progress=False))

    index = ServerIndex(reader)
    chunks, fetch_chunks_s = timed(lambda: all_chunks(index))
    sentences = [s for node in chunks for s in chunk_sentences(node.text)]
    distinct = list(dict.fromkeys(sentences))
    _, fetch_sentences_s = timed(lambda: index.embed_from_server()(distinct))
    _, refresh_join_s = timed(index.current)
    bot, load_s = timed(lambda: Assistant(reader))  # the cache is current: its files loaded

    question = articles[0]["title"]
    bot.ask(question)
    articles[0]["body"] += "\n\nA correction was appended to this article after publication."
    (corpus / "corpus.json").write_text(json.dumps(articles), encoding="utf-8")
    changed, change_ingest_s = timed(lambda: ingest(writer, progress=False))
    loaded = bot.generation.manifest["commit"]
    _, follow_refresh_s = timed(bot.index.current)
    _, reload_s = timed(bot.refresh)
    assert bot.generation.manifest["commit"] != loaded and changed.updated == 1
    _, warm_s = timed(lambda: bot.ask(question))

    checks = [timed(bot.refresh)[1] * 1000 for _ in range(50)]
    model = load_embed_model(reader)
    sample = distinct[:SAMPLE]
    _, embed_s = timed(lambda: model.get_text_embedding_batch(sample))
    return {
        "articles": len(articles), "chunks": report.chunks, "sentences": len(distinct),
        "writer_ingest_s": round(ingest_s, 2),
        "join_fetch_chunks_s": round(fetch_chunks_s, 2), "join_fetch_sentence_vectors_s": round(fetch_sentences_s, 2),
        "join_refresh_s": round(refresh_join_s, 2), "join_load_s": round(load_s, 2),
        "embed_sentences_here_est_s": round(embed_s * len(distinct) / max(len(sample), 1), 2),
        "change_ingest_s": round(change_ingest_s, 2),
        "follow_refresh_s": round(follow_refresh_s, 2), "follow_reload_s": round(reload_s, 2),
        "ask_after_follow_ms": round(warm_s * 1000, 1),
        "check_p50_ms": round(percentile(checks, 50), 2), "check_p95_ms": round(percentile(checks, 95), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=150, help="first N MultiHop-RAG articles; 0 = all 609")
    args = parser.parse_args()
    articles = json.loads(DATA.read_text(encoding="utf-8"))[: args.articles or None]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        proc, url = start_chroma(work)
        load_before = os.getloadavg()[0]
        try:
            row = measure(work, url, articles)
            row["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]  # at start, at end
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    command = f"python bench/chroma_refresh.py --articles {args.articles}"
    data = {"command": command, "corpus": f"MultiHop-RAG corpus.json, first {len(articles)} articles", **row}
    steps = [
        {"step": "writer: ingest through the server", "seconds": row["writer_ingest_s"]},
        {"step": "reader joins: fetch every chunk (text + metadata)", "seconds": row["join_fetch_chunks_s"]},
        {"step": "reader joins: fetch every sentence vector", "seconds": row["join_fetch_sentence_vectors_s"]},
        {"step": "reader joins: refresh (chunks, docstore, sentence vectors fetched; BM25, terms)", "seconds": row["join_refresh_s"]},
        {"step": "reader joins: load (the cache's files into memory)", "seconds": row["join_load_s"]},
        {"step": "(instead: embed those sentences here, estimated)", "seconds": row["embed_sentences_here_est_s"]},
        {"step": "writer: one article changed, ingest", "seconds": row["change_ingest_s"]},
        {"step": "reader follows: refresh", "seconds": row["follow_refresh_s"]},
        {"step": "reader follows: reload (at its next question)", "seconds": row["follow_reload_s"]},
        {"step": "reader: the question after it", "seconds": row["ask_after_follow_ms"] / 1000},
        {"step": "check before each question, nothing changed (p50 / p95 ms)",
         "seconds": f"{row['check_p50_ms']} / {row['check_p95_ms']} ms"},
    ]
    markdown = "\n".join([
        f"# Following a shared Chroma server: {row['articles']} MultiHop-RAG articles, {row['chunks']} chunks, "
        f"{row['sentences']} distinct sentences",
        "", f"`{command}`; load average (1 min) {row['load_average_1m'][0]} at start, {row['load_average_1m'][1]} at end"
        f" on {os.cpu_count()} cores", "", table(steps, ["step", "seconds"]),
    ])
    print(markdown)
    write_report("chroma-refresh", data, markdown)


if __name__ == "__main__":
    main()
