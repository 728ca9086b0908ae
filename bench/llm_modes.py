"""Answer modes side by side on the gold set: accuracy, citation validity, time to first token, total.

    python bench/llm_modes.py [--modes extractive,llamacpp,openai] [--every N] [--max-tokens 96]

`openai` mode is measured against llama-cpp-python's OpenAI-compatible server with the same GGUF,
started here on 127.0.0.1 and stopped at the end. Every item is streamed through `Chat.stream`:
time to first token = first text piece, total = the final Answer. Prints a table, writes
eval/reports/llm_modes.{json,md}.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import ROOT, percentile, table, write_report

from assistant import Assistant
from assistant.answer.llm.answerer import model_path
from assistant.app.evaluation import load_gold, score, summarise
from assistant.core.config import load_settings


@contextmanager
def llama_server(gguf: Path, n_ctx: int) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", str(n_ctx)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise SystemExit("llama_cpp.server exited; is the local-llm extra installed?")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_mode(bot: Assistant, items: list[Any]) -> dict[str, Any]:
    results, first, total, flagged = [], [], [], 0
    for item in items:
        chat = bot.chat()
        for turn in item.history:
            chat.ask(turn)
        started = time.perf_counter()
        ttft = None
        for _ in chat.stream(item.question):
            ttft = ttft or time.perf_counter() - started
        elapsed = time.perf_counter() - started
        answer = chat.last
        flagged += bool(answer.unsupported)
        first.append((ttft or elapsed) * 1000)
        total.append(elapsed * 1000)
        results.append(score(item, answer, bot.document_text, elapsed * 1000))
    summary = summarise(results, bot.settings.answer_mode)
    summary["ttft_p50_ms"] = round(percentile(first, 50), 1)
    summary["ttft_p95_ms"] = round(percentile(first, 95), 1)
    summary["total_p50_ms"] = round(percentile(total, 50), 1)
    summary["total_p95_ms"] = round(percentile(total, 95), 1)
    summary["flagged_answers"] = flagged  # answers whose citation check reported something
    summary["failed"] = sum(not r.passed for r in results)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="extractive,llamacpp,openai")
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--every", type=int, default=1, help="Every Nth gold item only (a bounded sample of all types).")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--context-window", type=int, default=2048)
    args = parser.parse_args()

    items = load_gold(args.gold)[:: args.every]
    work = Path(tempfile.mkdtemp(prefix="llm-modes-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    paths = {"corpus_dir": work / "corpus", "index_dir": work / "index"}
    llm = {"llm_max_tokens": args.max_tokens, "llm_context_window": args.context_window}
    rows = []
    try:
        for mode in args.modes.split(","):
            if mode == "openai":
                gguf = model_path(load_settings())
                with llama_server(gguf, args.context_window) as url:
                    bot = Assistant.open(**paths, answer_mode="openai", openai_base_url=url, openai_model="smollm2", **llm)
                    rows.append(run_mode(bot, items))
            else:
                bot = Assistant.open(**paths, answer_mode=mode, **llm)
                rows.append(run_mode(bot, items))
            print(f"{mode}: done", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns = ["mode", "items", "answer_accuracy", "citation_validity", "citation_precision", "citation_recall", "abstention_accuracy",
               "flagged_answers", "failed", "ttft_p50_ms", "ttft_p95_ms", "total_p50_ms", "total_p95_ms"]
    markdown = table(rows, columns)
    print(markdown)
    note = f"gold {args.gold.name}, {len(items)} items (every {args.every}), max_tokens {args.max_tokens}, context {args.context_window}"
    write_report("llm_modes", {"settings": note, "modes": rows}, f"# Answer modes ({note})\n\n{markdown}")


if __name__ == "__main__":
    main()
