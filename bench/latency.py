"""Warm `ask` latency (target: p95 <= 150 ms on the MultiHop-RAG index), extractive mode.

    python bench/latency.py --corpus DIR --index DIR [--queries FILE] [--n 200] [--out eval/reports/latency.json]

Questions come from MultiHop-RAG's queries.json (test split, i % 5 == 0) by default, after a warm-up of
5 others (model loaded, index open; every measured question is new to the caches). The table shows
the whole `ask` (embed the question, retrieve, score sentences, cite) and its retrieval share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import Assistant  # noqa: E402

DEFAULT_QUERIES = ROOT.parent / "shared" / "benchmarks" / "multihop-rag" / "queries.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "max_ms": round(max(values), 1),
        "mean_ms": round(statistics.fmean(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "latency.json")
    args = parser.parse_args()

    queries = [q["query"] for i, q in enumerate(json.loads(args.queries.read_text())) if i % 5 == 0]
    warmup, measured = queries[:5], queries[5 : 5 + args.n]
    started = time.perf_counter()
    bot = Assistant.open(args.corpus, args.index)
    open_s = time.perf_counter() - started
    for question in warmup:
        bot.ask(question)

    retrieve_ms, ask_ms, cpu_ms = [], [], []
    for question in measured:
        started, cpu = time.perf_counter(), time.process_time()
        answer = bot.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        retrieve_ms.append(answer.timings_ms["retrieve"])  # its share of the same call, question embedding included

    result = {
        "index": str(args.index),
        "chunks": bot.index.manifest().get("chunks"),
        "questions": len(measured),
        "open_s": round(open_s, 2),
        "retrieve": summarise(retrieve_ms),
        "ask": summarise(ask_ms),
        "ask_cpu": summarise(cpu_ms),  # CPU time of this process (all its threads): less sensitive to other load
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine inflates every timing
        "command": "python " + " ".join(sys.argv),
    }
    print(f"index {args.index} ({result['chunks']} chunks), {len(measured)} questions, open {open_s:.1f}s, "
          f"load average {result['load_average_1m']}")
    print(f"| {'step':8} | {'p50 ms':>7} | {'p95 ms':>7} | {'max ms':>7} | {'mean ms':>7} |")
    print(f"|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for step in ("retrieve", "ask", "ask_cpu"):
        s = result[step]
        print(f"| {step:8} | {s['p50_ms']:7} | {s['p95_ms']:7} | {s['max_ms']:7} | {s['mean_ms']:7} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
