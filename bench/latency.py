"""Warm `ask` latency (target: p95 <= 150 ms on the MultiHop-RAG index), extractive mode.

    python bench/latency.py [--corpus DIR] [--index DIR] [--queries FILE] [--n 200] [--out eval/reports/latency.json]
    python bench/latency.py --backends torch,onnx-int8   # the same questions on each embed backend, interleaved

The index defaults to the one `python bench/multihop.py` builds for the configured chunking (in $BENCH_CACHE).

Questions come from MultiHop-RAG's queries.json (test split, i % 5 == 0) by default, after a warm-up of
5 others (model loaded, index open; every measured question is new to the caches). The table shows
the whole `ask` (embed the question, retrieve, score sentences, cite) and its retrieval share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, in_split, mean, percentile, table  # noqa: E402
from multihop import DEFAULT_DATA, corpus_folder, index_dir_for  # noqa: E402

from assistant import Assistant  # noqa: E402
from assistant.core.config import load_settings  # noqa: E402


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "max_ms": round(max(values), 1),
        "mean_ms": round(mean(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="default: MultiHop-RAG's corpus.json")
    parser.add_argument("--index", type=Path, help="default: the one multihop.py builds for the configured chunking")
    parser.add_argument("--queries", type=Path, default=DEFAULT_DATA / "queries.json")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--backends", help="comma-separated embed backends to compare (default: the configured one)")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "latency.json")
    args = parser.parse_args()
    settings = load_settings()
    index_dir = args.index or index_dir_for(settings.chunk_size, settings.chunk_overlap)

    queries = [q["query"] for i, q in enumerate(json.loads(args.queries.read_text())) if in_split(i, "test")]
    warmup, measured = queries[:5], queries[5 : 5 + args.n]
    corpus = args.corpus or corpus_folder(DEFAULT_DATA, index_dir)
    backends = args.backends.split(",") if args.backends else [settings.embed_backend]
    bots, opened = {}, {}
    for backend in backends:
        started = time.perf_counter()
        bots[backend] = Assistant.open(corpus, index_dir, embed_backend=backend, follow_outside_symlinks=True)
        opened[backend] = time.perf_counter() - started
        for question in warmup:
            bots[backend].ask(question)

    timings = {backend: {"retrieve": [], "ask": [], "ask_cpu": []} for backend in backends}
    for question in measured:
        for backend, bot in bots.items():  # interleaved: a busy spell on the machine hits every backend alike
            started, cpu = time.perf_counter(), time.process_time()
            answer = bot.ask(question)
            timings[backend]["ask"].append((time.perf_counter() - started) * 1000)
            timings[backend]["ask_cpu"].append((time.process_time() - cpu) * 1000)  # CPU time of this process (all its threads): less sensitive to other load
            timings[backend]["retrieve"].append(answer.timings_ms["retrieve"])  # its share of the same call, question embedding included

    bot = next(iter(bots.values()))
    result = {
        "index": str(index_dir),
        "chunks": bot.index.manifest().get("chunks"),
        "questions": len(measured),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine inflates every timing
        "command": "python " + " ".join(sys.argv),
        "backends": {
            backend: {"open_s": round(opened[backend], 2)} | {step: summarise(values) for step, values in timings[backend].items()}
            for backend in backends
        },
    }
    print(f"index {index_dir} ({result['chunks']} chunks), {len(measured)} questions, load average {result['load_average_1m']}")
    rows = [{"backend": backend, "step": step, **result["backends"][backend][step]}
            for backend in backends for step in ("retrieve", "ask", "ask_cpu")]
    print(table(rows, ["backend", "step", "p50_ms", "p95_ms", "max_ms", "mean_ms"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
