"""Concurrent conversations against a real `assistant serve`: many gradio_client sessions at once, each with its
own follow-ups, and a re-scan of the corpus in the middle of the load.

    python bench/sessions.py [--sessions 20] [--turns 10] [--corpus DIR]

Starts `assistant serve` on 127.0.0.1 and a free port over a copy of the corpus (the shipped one by default),
then runs every session in its own thread. Each session opens with its own question and goes on with
follow-ups that only make sense against its own history ("When did that happen?"). Halfway through (when
half of all turns are answered) one more client presses Re-scan. Reports answers returned, errors, cross-talk
(a follow-up read against another session's question), abstentions and per-turn latency.
Writes eval/reports/sessions.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, mean, percentile, table, write_report  # noqa: E402

# Openings that stand alone; each session gets a different one, so a follow-up read against the wrong
# history shows in its standalone question.
OPENINGS = [
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip() and not json.loads(line).get("history")
]
# Turns that depend on the session's history (the first turn of a session is its opening).
FOLLOW_UPS = [
    "Tell me more",
    "When did that happen?",
    "Who said that?",
    "Why?",
    "Where was that?",
    "Tell me more about it",
    "What else do the articles say about that?",
    "Who is involved?",
    "How many were there?",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Session:
    opening: str
    turns: list[dict[str, Any]] = field(default_factory=list)


def start_server(corpus: Path, index: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "assistant", "serve", "--corpus", str(corpus), "--index", str(index),
               "--port", str(port)]
    server = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"assistant serve exited with {server.returncode}; see {log}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"assistant serve did not answer on {url} within 600 s; see {log}")


def converse(url: str, session: Session, turns: int, done: list[int], lock: threading.Lock) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    questions = [session.opening] + [FOLLOW_UPS[i % len(FOLLOW_UPS)] for i in range(turns - 1)]
    for number, question in enumerate(questions):
        started = time.perf_counter()
        record: dict[str, Any] = {"question": question, "turn": number}
        try:
            answer = json.loads(client.predict(question, 0, api_name="/chat"))
            record |= {"ok": answer.get("done") is True, "abstained": answer["abstained"],
                       "standalone": answer.get("standalone_question", ""), "citations": len(answer["citations"])}
        except Exception as exc:  # the load test reports every failure instead of stopping at the first
            record |= {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        record["ms"] = (time.perf_counter() - started) * 1000
        session.turns.append(record)
        with lock:
            done[0] += 1


def history_reads(sessions: list[Session]) -> tuple[int, int]:
    """(follow-ups read against their own session's opening, follow-ups read against another session's)."""
    own = crossed = 0
    for session in sessions:
        others = [s.opening for s in sessions if s.opening != session.opening]
        for turn in session.turns[1:]:
            standalone = turn.get("standalone", "")
            own += session.opening in standalone
            crossed += any(other in standalone for other in others)
    return own, crossed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    if args.sessions > len(OPENINGS):
        raise SystemExit(f"at most {len(OPENINGS)} sessions: each needs its own opening question")

    work = Path(tempfile.mkdtemp(prefix="sessions-bench-"))
    corpus = work / "corpus"
    shutil.copytree(args.corpus, corpus)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = start_server(corpus, work / "index", port, work / "serve.log")
    try:
        from gradio_client import Client

        Client(url, verbose=False).predict(OPENINGS[0], 0, api_name="/chat")  # warm-up: model and caches loaded
        sessions = [Session(OPENINGS[i]) for i in range(args.sessions)]
        done, lock = [0], threading.Lock()
        threads = [threading.Thread(target=converse, args=(url, s, args.turns, done, lock)) for s in sessions]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        total = args.sessions * args.turns
        while done[0] < total // 2 and any(t.is_alive() for t in threads):
            time.sleep(0.2)
        rescan_started = time.perf_counter()
        rescan_error = ""
        try:
            Client(url, verbose=False).predict(api_name="/rescan")
        except Exception as exc:  # reported, not fatal: the point is whether the conversations survive it
            rescan_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        rescan_ms = (time.perf_counter() - rescan_started) * 1000
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)

    turns = [t for s in sessions for t in s.turns]
    own, crossed = history_reads(sessions)
    ok = [t for t in turns if t["ok"]]
    latencies = [t["ms"] for t in ok]
    result = {
        "sessions": args.sessions, "turns_per_session": args.turns, "turns": len(turns),
        "answered": len(ok), "errors": [t["error"] for t in turns if "error" in t][:20],
        "read_with_own_history": own, "cross_talk": crossed, "abstained": sum(t.get("abstained", False) for t in ok),
        "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies, default=0.0), 1), "mean_ms": round(mean(latencies), 1),
        "wall_s": round(wall, 1), "turns_per_s": round(len(ok) / wall, 2),
        "rescan_ms": round(rescan_ms, 1), "rescan_error": rescan_error, "server_alive_after": alive,
        "load_average_1m": round(os.getloadavg()[0], 2), "command": "python " + " ".join(sys.argv),
    }
    rows = [{"measure": key, "value": result[key]} for key in (
        "sessions", "turns", "answered", "read_with_own_history", "cross_talk", "abstained", "p50_ms", "p95_ms", "max_ms", "turns_per_s",
        "rescan_ms", "server_alive_after", "load_average_1m")]
    md = "\n".join([
        f"# {args.sessions} concurrent sessions x {args.turns} turns on /chat, re-scan midway", "",
        table(rows, ["measure", "value"]), "",
        f"Errors: {result['errors'] or 'none'}. Re-scan: {rescan_error or 'ok'}. Command: `{result['command']}`.",
    ])
    print(md)
    paths = write_report("sessions", result, md)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
