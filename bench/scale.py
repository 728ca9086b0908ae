"""Cost against corpus size: ingest, index size, cold open, warm `ask`, `serve` memory and re-ingest.

    python bench/scale.py [--sizes 7585,30000,100000] [--questions 50] [--serve-questions 10]
    python bench/scale.py --sizes 7585 --reuse       # measure again on the indexes already built

Corpora come from the shipped benchmark data, one file per article, in $BENCH_CACHE/scale-<size>/:
MultiHop-RAG's 609 articles first (one JSON file each, ~7.6k chunks), then SQuAD v1.1 dev's 2,067 paragraphs
(one JSON file per SQuAD article), then copies of both with changed ids (a `#copy<r>` suffix) and MultiHop dates
moved back r years, whole files added until the estimated chunk count reaches the size. A copy repeats its
original's sentences, so its sentence vectors are re-used, not embedded: copies ingest faster than new text
would (the table says how many chunks are copies).

Every step is a real process, as a user runs it, under the configured settings (`assistant.toml`/ASSISTANT_*):
- ingest: `assistant ingest --json` into an empty index (wall clock, and chunks/s);
- cold open: `assistant ask Q --json`, from process start to the answer, on a built index;
- warm ask: one process opens the index, answers 5 questions, then times --questions more (MultiHop-RAG
  test-split queries, new to its caches);
- serve: `assistant serve` answers --serve-questions through gradio_client; peak RSS is VmHWM from
  /proc/<pid>/status, summed over the server and its children;
- re-ingest: `assistant ingest --json` with nothing changed, then with one article's file edited (and once
  more when it is put back). `seconds` is ingest's own clock, `wall` adds process start and imports.
Writes eval/reports/scale.json, .md and .png. Every size's figures are also kept beside its index
(result.json), so a size can be run on its own and the report rebuilt with --reuse.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCHMARKS, CACHE, REPORTS, ROOT, in_split, percentile, table, write_report  # noqa: E402
from sessions import free_port, start_server  # noqa: E402

MULTIHOP = BENCHMARKS / "multihop-rag"
SQUAD = BENCHMARKS / "squad-v1.1" / "dev-v1.1.json"
# Measured: 6,297,171 characters of MultiHop-RAG bodies make 7,585 chunks of 256 tokens; used only to pick how
# many files make a size, so the sizes are approximate and the table gives the real count.
CHARS_PER_CHUNK = 830
WARMUP = 5
EDIT = "\n\nThis article was updated after publication to correct a name."


def multihop_files(copy: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """MultiHop-RAG articles, one file each; copy r > 0 changes the id and moves the date back r years."""
    articles = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))
    files = []
    for number, article in enumerate(articles):
        if copy:
            article = article | {"url": f"{article['url']}#copy{copy}", "published_at": years_back(article["published_at"], copy)}
        files.append((f"multihop-{copy}/{number:04d}.json", [article]))
    return files


def years_back(stamp: str, years: int) -> str:
    when = datetime.fromisoformat(stamp)
    try:
        return when.replace(year=when.year - years).isoformat()
    except ValueError:  # 29 February
        return when.replace(year=when.year - years, day=28).isoformat()


def squad_files(copy: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """SQuAD paragraphs, one document each (as bench/squad.py makes them), one file per SQuAD article."""
    files = []
    for number, article in enumerate(json.loads(SQUAD.read_text(encoding="utf-8"))["data"]):
        suffix = f"#copy{copy}" if copy else ""
        docs = [{"title": article["title"].replace("_", " "), "body": p["context"], "url": f"{article['title']}#{i}{suffix}"}
                for i, p in enumerate(article["paragraphs"])]
        files.append((f"squad-{copy}/{number:02d}.json", docs))
    return files


def make_corpus(folder: Path, size: int) -> dict[str, Any]:
    """Write whole files until their estimated chunks reach `size`; returns what went in."""
    if folder.exists():
        shutil.rmtree(folder)
    estimated, files, copies_from = 0, 0, None
    copy = 0
    while estimated < size:
        for name, docs in multihop_files(copy) + squad_files(copy):
            if estimated >= size:
                break
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
            estimated += sum(len(d["body"]) for d in docs) / CHARS_PER_CHUNK
            files += 1
            if copy and copies_from is None:
                copies_from = files - 1
        copy += 1
    return {"files": files, "copy_rounds": copy - 1, "original_files": copies_from if copies_from is not None else files}


def run(command: list[str]) -> tuple[float, str, int]:
    """(wall seconds, stdout, peak RSS in MB) of a child process."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)  # its own rusage: peak RSS of this child alone
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if child.returncode:
            raise SystemExit(f"{' '.join(command)} exited with {child.returncode}: {err.read().strip()[-500:]}")
        return wall, out.read(), round(usage.ru_maxrss / 1024)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant", *args]


def last_json(out: str) -> dict[str, Any]:
    return json.loads(out.strip().splitlines()[-1])


def questions() -> list[str]:
    data = json.loads((MULTIHOP / "queries.json").read_text(encoding="utf-8"))
    return [q["query"] for i, q in enumerate(data) if in_split(i, "test")]


def vm_hwm_mb(pid: int) -> int:
    """Peak resident memory of a process and all its descendants (VmHWM of each, summed), in MB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, AttributeError):
            continue  # gone meanwhile
    return round(total / 1024)


def measure_ingest(corpus: Path, index: Path) -> dict[str, Any]:
    if index.exists():
        shutil.rmtree(index)
    wall, out, peak = run(cli("ingest", "--json", "--corpus", str(corpus), "--index", str(index)))
    report = last_json(out)
    return {"chunks": report["chunks"], "documents": report["added"], "ingest_s": round(wall, 1),
            "ingest_own_s": report["seconds"], "chunks_per_s": round(report["chunks"] / wall, 1), "ingest_peak_rss_mb": peak}


def measure_cold_open(corpus: Path, index: Path, question: str) -> dict[str, Any]:
    wall, out, _ = run(cli("ask", question, "--json", "--corpus", str(corpus), "--index", str(index)))
    return {"cold_open_s": round(wall, 2), "cold_answer_ok": bool(last_json(out).get("text"))}


def measure_warm(corpus: Path, index: Path, count: int) -> dict[str, Any]:
    _, out, _ = run([sys.executable, str(Path(__file__).resolve()), "--warm-worker", str(corpus), str(index), str(count)])
    return last_json(out)


def warm_worker(corpus: Path, index: Path, count: int) -> None:
    """Runs in its own process: open, warm up, time `count` new questions; prints one JSON line."""
    from assistant import Assistant

    asked = questions()
    started = time.perf_counter()
    bot = Assistant.open(corpus, index)
    opened = time.perf_counter() - started
    for question in asked[:WARMUP]:
        bot.ask(question)
    ask_ms, retrieve_ms = [], []
    for question in asked[WARMUP : WARMUP + count]:
        started = time.perf_counter()
        answer = bot.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
        retrieve_ms.append(answer.timings_ms["retrieve"])
    print(json.dumps({
        "open_in_process_s": round(opened, 2), "warm_questions": len(ask_ms),
        "warm_p50_ms": round(percentile(ask_ms, 50), 1), "warm_p95_ms": round(percentile(ask_ms, 95), 1),
        "retrieve_p50_ms": round(percentile(retrieve_ms, 50), 1), "retrieve_p95_ms": round(percentile(retrieve_ms, 95), 1),
        "ask_process_rss_mb": vm_hwm_mb(os.getpid()),
    }))


def measure_serve(corpus: Path, index: Path, count: int, log: Path) -> dict[str, Any]:
    from gradio_client import Client

    port = free_port()
    started = time.perf_counter()
    server = start_server(corpus, index, port, log)
    ready = time.perf_counter() - started
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        answered = sum(bool(json.loads(client.predict(q, 0, api_name="/ask")).get("text")) for q in questions()[:count])
        peak = vm_hwm_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"serve_ready_s": round(ready, 1), "serve_answered": answered, "serve_peak_rss_mb": peak}


def measure_reingest(corpus: Path, index: Path) -> dict[str, Any]:
    def ingest() -> tuple[float, dict[str, Any]]:
        wall, out, _ = run(cli("ingest", "--json", "--corpus", str(corpus), "--index", str(index)))
        return wall, last_json(out)

    unchanged_wall, unchanged = ingest()
    target = corpus / "multihop-0" / "0000.json"
    original = target.read_text(encoding="utf-8")
    docs = json.loads(original)
    target.write_text(json.dumps([docs[0] | {"body": docs[0]["body"] + EDIT}] + docs[1:], ensure_ascii=False), encoding="utf-8")
    try:
        changed_wall, changed = ingest()
    finally:
        target.write_text(original, encoding="utf-8")
    back_wall, back = ingest()
    assert changed["updated"] == 1 and back["updated"] == 1 and unchanged["updated"] == unchanged["added"] == 0, (changed, back, unchanged)
    return {"unchanged_s": unchanged["seconds"], "unchanged_wall_s": round(unchanged_wall, 1),
            "one_changed_s": max(changed["seconds"], back["seconds"]),
            "one_changed_wall_s": round(max(changed_wall, back_wall), 1)}


def measure(size: int, count: int, serve_count: int, reuse: bool) -> dict[str, Any]:
    folder = CACHE / f"scale-{size}"
    corpus, index, saved = folder / "corpus", folder / "index", folder / "result.json"
    result: dict[str, Any] = json.loads(saved.read_text()) if reuse and saved.exists() else {}
    if not (reuse and (index / "manifest.json").exists() and "ingest_s" in result):
        result = {"size": size} | make_corpus(corpus, size)
        print(f"[{size}] {result['files']} files written; ingesting", file=sys.stderr, flush=True)
        result |= measure_ingest(corpus, index)
        saved.write_text(json.dumps(result, indent=2))
    result["index_mb"] = round(sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) / 2**20, 1)
    print(f"[{size}] {result['chunks']} chunks in {result['ingest_s']} s; cold open", file=sys.stderr, flush=True)
    steps = (("cold", lambda: measure_cold_open(corpus, index, questions()[-1])),
             ("warm", lambda: measure_warm(corpus, index, count)),
             ("serve", lambda: measure_serve(corpus, index, serve_count, folder / "serve.log")),
             ("reingest", lambda: measure_reingest(corpus, index)))
    for name, step in steps:
        print(f"[{size}] {name}", file=sys.stderr, flush=True)
        result |= step()
        saved.write_text(json.dumps(result, indent=2))
    result["unchanged_share_of_ingest"] = round(result["unchanged_s"] / result["ingest_s"], 4)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    saved.write_text(json.dumps(result, indent=2))
    return result


def growth(rows: list[dict[str, Any]], key: str) -> str:
    """How a figure grows from the smallest size to the largest: the exponent b of chunks^b."""
    import math

    first, last = rows[0], rows[-1]
    if len(rows) < 2 or not first.get(key) or not last.get(key) or first["chunks"] == last["chunks"]:
        return "–"
    return f"{math.log(last[key] / first[key]) / math.log(last['chunks'] / first['chunks']):.2f}"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chunks = [r["chunks"] for r in rows]
    panels = [("ingest (s)", ["ingest_s"]), ("index on disk (MB)", ["index_mb"]), ("cold open (s)", ["cold_open_s"]),
              ("warm ask (ms)", ["warm_p50_ms", "warm_p95_ms"]), ("serve peak RSS (MB)", ["serve_peak_rss_mb"]),
              ("re-ingest (s)", ["one_changed_s", "unchanged_s"])]
    targets = {"warm_p95_ms": 300, "serve_peak_rss_mb": 2048, "one_changed_s": 2}
    figure, axes = plt.subplots(2, 3, figsize=(13, 7))
    for axis, (title, keys) in zip(axes.flat, panels):
        for key in keys:
            axis.plot(chunks, [r.get(key) for r in rows], marker="o", label=key)
            if key in targets:
                axis.axhline(targets[key], color="red", linestyle="--", linewidth=1, label=f"target {targets[key]}")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("chunks")
        axis.legend(fontsize=7)
    figure.suptitle("corpus-assistant: cost against corpus size (bench/scale.py)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


COLUMNS = ["size", "chunks", "copied_chunks", "files", "ingest_s", "chunks_per_s", "index_mb", "cold_open_s",
           "warm_p50_ms", "warm_p95_ms", "retrieve_p95_ms", "serve_ready_s", "serve_peak_rss_mb", "one_changed_s",
           "one_changed_wall_s", "unchanged_s", "unchanged_share_of_ingest"]


def report(rows: list[dict[str, Any]], command: str) -> None:
    from assistant.core.config import load_settings

    settings = load_settings()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    for row in rows:
        row["copied_chunks"] = f"~{max(0, 1 - row['original_files'] / row['files']):.0%}" if row["copy_rounds"] else "0"
    growths = {key: growth(rows, key) for key in COLUMNS[4:] if key not in ("chunks_per_s", "unchanged_share_of_ingest")}
    text = "\n".join([
        f"# Cost against corpus size ({', '.join(str(r['chunks']) for r in rows)} chunks)", "",
        f"`{command}` at {commit}; embed_backend {settings.embed_backend}, sentence_vectors {settings.sentence_vectors}, "
        f"chunks {settings.chunk_size}/{settings.chunk_overlap}; {os.cpu_count()} cores shared with other work "
        f"(load average {', '.join(str(r['load_average_1m']) for r in rows)} at the end of each size). Sizes past MultiHop-RAG "
        "add SQuAD paragraphs, then copies of both with changed ids and (MultiHop) dates: `copied_chunks` is the "
        "share of files that are copies; their sentences are not embedded again.", "",
        table(rows, COLUMNS), "",
        "Growth exponent b (cost ∝ chunks^b, smallest to largest size): "
        + ", ".join(f"{key} {value}" for key, value in growths.items()), "",
        "Targets at 100k chunks: warm ask p95 ≤ 300 ms, serve peak RSS ≤ 2,048 MB, one changed file ≤ 2 s, "
        "unchanged re-check ≤ 2% of the full ingest.", "",
        "![cost against size](scale.png)",
    ])
    print(text)
    data = {"command": command, "commit": commit, "embed_backend": settings.embed_backend,
            "sentence_vectors": settings.sentence_vectors, "growth_exponents": growths, "sizes": rows}
    write_report("scale", data, text)
    plot(rows, REPORTS / "scale.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="7585,30000,100000", help="approximate chunk counts")
    parser.add_argument("--questions", type=int, default=50, help="warm questions timed after 5 of warm-up")
    parser.add_argument("--serve-questions", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep an index already built for a size, and its ingest time")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the sizes' result.json")
    parser.add_argument("--warm-worker", nargs=3, metavar=("CORPUS", "INDEX", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_worker:
        warm_worker(Path(args.warm_worker[0]), Path(args.warm_worker[1]), int(args.warm_worker[2]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.report_only:
        rows = [json.loads((CACHE / f"scale-{size}" / "result.json").read_text()) for size in sizes]
    else:
        rows = [measure(size, args.questions, args.serve_questions, args.reuse) for size in sizes]
    report(rows, "python bench/scale.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
