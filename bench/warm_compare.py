"""Warm `ask` of two checkouts on one index, in one sitting: CPU and wall time per question, and the rankings.

    python bench/warm_compare.py --corpus C --index I --checkouts /work/main,. [--n 50] [--rounds 2] [--name warm-compare]

Each round runs one process per checkout, alternating (a busy spell on the shared machine then hits both
alike). A process imports `assistant` from its checkout, opens the index, asks 5 warm-up questions, then for
each of the next --n MultiHop-RAG test questions times `Assistant.ask` (the whole answer, the question
embedded) and then `retriever.ranked(q, 10)` on the same question (its vectors cached by then: retrieval
without the embedding). CPU time is the process's (`time.process_time`, all threads), less sensitive to other
load than wall time. The report compares each checkout's top 10 (positions and reranker scores) with the
first's. Writes eval/reports/<name>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCHMARKS, in_split, mean, percentile, table, write_report  # noqa: E402

WARMUP = 5


def worker(corpus: Path, index: Path, n: int) -> None:
    """Runs under the checkout's PYTHONPATH; prints one JSON line."""
    from assistant import Assistant

    asked = [q["query"] for i, q in enumerate(json.loads((BENCHMARKS / "multihop-rag" / "queries.json").read_text()))
             if in_split(i, "test")]
    bot = Assistant.open(corpus, index, follow_outside_symlinks=True)
    for question in asked[:WARMUP]:
        bot.ask(question)
    rows = []
    for question in asked[WARMUP : WARMUP + n]:
        wall, cpu = time.perf_counter(), time.process_time()
        bot.ask(question)
        ask = ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
        wall, cpu = time.perf_counter(), time.process_time()
        ranked = bot.retriever.ranked(question, 10)
        retrieve = ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
        rows.append({"ask_wall": ask[0], "ask_cpu": ask[1], "retrieve_wall": retrieve[0], "retrieve_cpu": retrieve[1],
                     "ranked": ranked})
    import assistant

    print(json.dumps({"package": assistant.__file__, "chunks": len(bot.retriever.nodes),
                      "sentences": len(bot.retriever.sentence_rows), "rows": rows}))


def run(checkout: Path, corpus: Path, index: Path, n: int) -> dict[str, Any]:
    env = os.environ | {"PYTHONPATH": str(checkout)}
    out = subprocess.run([sys.executable, __file__, "--worker", str(corpus), str(index), str(n)], cwd=checkout, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [row[key] for row in rows]
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1), "mean": round(mean(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--checkouts", default="/work/main,.", help="comma-separated; the first is the baseline")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--name", default="warm-compare")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), Path(args.worker[1]), int(args.worker[2]))
        return
    checkouts = [Path(c).resolve() for c in args.checkouts.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {str(c): [] for c in checkouts}
    loads = []
    for _ in range(args.rounds):
        for checkout in checkouts:
            runs[str(checkout)].append(run(checkout, args.corpus.resolve(), args.index.resolve(), args.n))
            loads.append(round(os.getloadavg()[0], 2))
    base = runs[str(checkouts[0])][0]["rows"]
    results = []
    for checkout, done in runs.items():
        rows = [row for one in done for row in one["rows"]]
        first = done[0]["rows"]
        results.append({
            "checkout": checkout, "package": done[0]["package"], "chunks": done[0]["chunks"],
            "sentences": done[0]["sentences"], "questions": len(rows),
            **{key: summary(rows, key) for key in ("ask_cpu", "ask_wall", "retrieve_cpu", "retrieve_wall")},
            "same_top10_order": sum([p for p, _ in a["ranked"]] == [p for p, _ in b["ranked"]] for a, b in zip(first, base)),
            "max_score_difference": max(abs(x - y) for a, b in zip(first, base) for (_, x), (_, y) in zip(a["ranked"], b["ranked"])),
        })
    command = "python bench/warm_compare.py " + " ".join(sys.argv[1:])
    lines = [f"# Warm ask, two checkouts in one sitting\n\n`{command}`\n\n{results[0]['chunks']:,} chunks, "
             f"{results[0]['sentences']:,} sentences; {args.rounds} rounds alternating, {args.n} questions each; "
             f"load average {min(loads)}-{max(loads)}.\n"]
    table_rows = [{"checkout": r["checkout"], "measure": key, **r[key]} for r in results
                  for key in ("ask_cpu", "ask_wall", "retrieve_cpu", "retrieve_wall")]
    lines.append(table(table_rows, ["checkout", "measure", "p50", "p95", "mean"]))
    lines.append("\nTop 10 against the first checkout's (first round): " + "; ".join(
        f"{r['checkout']}: {r['same_top10_order']}/{args.n} same order, scores within {r['max_score_difference']:.1e}"
        for r in results[1:]))
    write_report(args.name, {"command": command, "loads": loads, "results": results}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
