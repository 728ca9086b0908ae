"""Cost against corpus size: ingest, index size, cold open, warm `ask`, `serve` memory and re-ingest.

    python bench/scale.py [--sizes 7585,30000,100000] [--questions 50] [--serve-questions 10]
    python bench/scale.py --sizes 7585 --reuse       # finish or redo a size, keeping its index and figures
    python bench/scale.py --sizes 7585 --data squad --vectors-from DIR   # vectors of identical texts from DIR
    python bench/scale.py --sizes 2270 --adopt DIR   # measure DIR/index (over DIR/corpus), built elsewhere
    python bench/scale.py --name scale-v2 ...        # sizes in $BENCH_CACHE/scale-v2-<size>, not scale-<size>

Corpora come from the shipped benchmark data, one file per article, in $BENCH_CACHE/scale-<size>/: MultiHop-RAG's
609 articles (one JSON file each, ~7.6k chunks), then SQuAD v1.1 dev's 2,067 paragraphs (one JSON file per SQuAD
article), then copies of both with changed ids (a `#copy<r>` suffix), whole files added until the estimated
chunk count reaches the size. A copy repeats its original's text, so its sentence vectors are re-used, not
embedded: copies ingest faster than new text would (the table gives the share of copies).

Every step is a real process, as a user runs it, under the configured settings (`assistant.toml`/ASSISTANT_*):
- ingest: `assistant ingest --json` into an empty index (wall clock, and chunks/s). With --vectors-from the
  ingest runs in this process instead and identical texts take their vectors from those indexes (StoredVectors):
  every other stage is real, the embedding is left out of the time;
- cold open: `assistant ask Q --json`, from process start to the answer, on a built index;
- warm ask: one process opens the index, answers 5 questions, then times --questions more (MultiHop-RAG
  test-split queries, new to its caches), then asks 20 more under cProfile to split an ask into stages;
- serve: `assistant serve` answers --serve-questions through gradio_client; peak RSS is VmHWM from
  /proc/<pid>/status, summed over the server and its children;
- re-ingest: `assistant ingest --json` with nothing changed, then with one file edited, then with it put back
  (under cProfile, for its stages). `seconds` is ingest's own clock; `wall` adds process start and imports.
Writes eval/reports/scale.json, .md and .png. Every size's figures are also kept beside its index
(result.json), so a size can be run on its own and the report rebuilt with --report-only.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
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
PROFILED = 20  # further questions, asked under cProfile to split a warm ask into its stages
# (file ending, function) -> stage name, for the cumulative times cProfile reports.
ASK_STAGES = {("onnx_embedding.py", "encode"): "embed (ONNX)", ("hybrid.py", "question_scores"): "scores over all chunks",
              ("bm25s/__init__.py", "get_scores"): "BM25 scoring (chunks + sentences)",
              ("hybrid.py", "best_sentence"): "best sentence per chunk (reduceat)",
              ("hybrid.py", "target_rankings"): "outlet rankings", ("rerank.py", "score"): "reranker",
              ("extractive.py", "respond"): "extractive answer"}
INGEST_STAGES = {("documents.py", "load_corpus"): "read corpus", ("store.py", "docstore"): "docstore load",
                 ("ingest.py", "prepare"): "chunk changed files", ("embeddings.py", "load_embed_model"): "load models",
                 ("embeddings.py", "load_passage_model"): "load models", ("pipeline.py", "run"): "pipeline (embed, Chroma upsert)",
                 ("store.py", "persist_docstore"): "docstore write", ("keyword.py", "chunks_and_vectors"): "read all chunks from Chroma",
                 ("keyword.py", "carried_chunks"): "carry unchanged chunks from the last generation",
                 ("chunk_terms.py", "analyse"): "tokenize new chunks (BM25 words, sentences, terms)",
                 ("chunk_terms.py", "bm25_index"): "BM25 build from token ids (chunks + sentences)",
                 ("bm25/base.py", "persist"): "BM25 over chunks (save)", ("keyword.py", "save_sentence_index"): "BM25 over sentences (build, save)",
                 ("vectors.py", "build"): "sentence vectors (hash, reuse, save)", ("vectors.py", "save_chunk_vectors"): "chunk vectors save",
                 ("chunk_terms.py", "save"): "chunk terms save", ("chunk_terms.py", "term_counts"): "term statistics"}
EDIT = "\n\nThis article was updated after publication to correct a name."


def multihop_files(copy: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """MultiHop-RAG articles, one file each; copy r > 0 changes the id (a copy's chunks read as the original's)."""
    articles = json.loads((MULTIHOP / "corpus.json").read_text(encoding="utf-8"))
    files = []
    for number, article in enumerate(articles):
        if copy:
            article = article | {"url": f"{article['url']}#copy{copy}"}
        files.append((f"multihop-{copy}/{number:04d}.json", [article]))
    return files


def squad_files(copy: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """SQuAD paragraphs, one document each (as bench/squad.py makes them), one file per SQuAD article."""
    files = []
    for number, article in enumerate(json.loads(SQUAD.read_text(encoding="utf-8"))["data"]):
        suffix = f"#copy{copy}" if copy else ""
        docs = [{"title": article["title"].replace("_", " "), "body": p["context"], "url": f"{article['title']}#{i}{suffix}"}
                for i, p in enumerate(article["paragraphs"])]
        files.append((f"squad-{copy}/{number:02d}.json", docs))
    return files


SOURCES = {"multihop": multihop_files, "squad": squad_files}


def make_corpus(folder: Path, size: int, data: list[str]) -> dict[str, Any]:
    """Write whole files of `data` (multihop, squad) until their estimated chunks reach `size`; returns what
    went in."""
    if folder.exists():
        shutil.rmtree(folder)
    estimated, files, copies_from = 0, 0, None
    copy = 0
    while estimated < size:
        for name, docs in [f for source in data for f in SOURCES[source](copy)]:
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


class StoredVectors:
    """Vectors the model already made for the same texts in other indexes (chunk texts with their header, and
    sentences), the real model for any other text. An index of copies built with it is the index the model
    would give (the copies' texts are the originals'), without embedding them again: the embedding cost is
    left out of the time it measures and `misses` counts the texts that were embedded."""

    def __init__(self, sources: list[Path], settings: Any) -> None:
        from llama_index.core.schema import MetadataMode

        from assistant.index.embeddings import load_embed_model, load_passage_model
        from assistant.index.keyword import all_chunks
        from assistant.index.store import IndexDir
        from assistant.index.vectors import SentenceVectors

        self.chunks: dict[str, list[float]] = {}
        self.sentences: list[SentenceVectors] = []
        for source in sources:
            index = IndexDir(source)
            got = index.collection().get(include=["embeddings"])
            vectors = dict(zip(got["ids"], got["embeddings"]))
            for node in all_chunks(index):
                self.chunks[node.get_content(metadata_mode=MetadataMode.EMBED)] = list(map(float, vectors[node.node_id]))
            if (known := SentenceVectors.load(index.current().folder)) is not None:
                self.sentences.append(known)
        self.passage_model, self.model = load_passage_model(settings), load_embed_model(settings)
        self.misses = 0

    def passages(self) -> Any:
        from llama_index.core.base.embeddings.base import BaseEmbedding

        outer = self

        class Passages(BaseEmbedding):
            def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
                missing = [t for t in texts if t not in outer.chunks]
                outer.misses += len(missing)
                fresh = dict(zip(missing, outer.passage_model.get_text_embedding_batch(missing))) if missing else {}
                return [outer.chunks.get(t) or fresh[t] for t in texts]

            def _get_text_embedding(self, text: str) -> list[float]:
                return self._get_text_embeddings([text])[0]

            def _get_query_embedding(self, query: str) -> list[float]:
                return self._get_text_embedding(query)

            async def _aget_query_embedding(self, query: str) -> list[float]:
                return self._get_query_embedding(query)

        return Passages(model_name="stored vectors", embed_batch_size=2048)

    def sentence(self, text: str) -> Any:
        return next((v for known in self.sentences if (v := known.get(text)) is not None), None)

    def embed_sentences(self, texts: list[str], show_progress: bool = False) -> list[list[float]]:
        found = [self.sentence(t) for t in texts]
        missing = [t for t, v in zip(texts, found) if v is None]
        self.misses += len(missing)
        fresh = iter(self.model.get_text_embedding_batch(missing) if missing else [])
        return [v.tolist() if v is not None else next(fresh) for v in found]


def ingest_with_stored_vectors(corpus: Path, index: Path, sources: list[Path]) -> dict[str, Any]:
    """The real ingest (chunking, Chroma, docstore, both BM25 indexes, sentence vectors, manifest) in this
    process, its embedding served by StoredVectors."""
    from assistant.core.config import load_settings
    from assistant.index import ingest as stage

    if index.exists():
        shutil.rmtree(index)
    settings = load_settings(corpus_dir=corpus, index_dir=index)
    stored = StoredVectors(sources, settings)
    stage.load_passage_model = lambda _: stored.passages()
    stage.load_embed_model = lambda _: SimpleNamespace(get_text_embedding_batch=stored.embed_sentences)
    started = time.perf_counter()
    report = stage.ingest(settings, progress=False)
    wall = time.perf_counter() - started
    return {"chunks": report.chunks, "documents": report.added, "ingest_s": round(wall, 1), "ingest_own_s": report.seconds,
            "chunks_per_s": round(report.chunks / wall, 1), "embedded_texts": stored.misses,
            "vectors_from": [str(s) for s in sources]}


def stage_ms(stats: Any, stages: dict[tuple[str, str], str], per: int = 1) -> dict[str, float]:
    """Cumulative milliseconds of each stage in a cProfile run (functions a stage names are added up)."""
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        for (ending, name), stage in stages.items():
            if function == name and filename.endswith(ending):
                totals[stage] = totals.get(stage, 0.0) + cumulative * 1000 / per
    return {stage: round(ms, 1) for stage, ms in sorted(totals.items(), key=lambda item: -item[1])}


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
    ask_ms, cpu_ms, retrieve_ms = [], [], []
    for question in asked[WARMUP : WARMUP + count]:
        started, cpu = time.perf_counter(), time.process_time()
        answer = bot.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)  # CPU time of this process: less sensitive to other load
        retrieve_ms.append(answer.timings_ms["retrieve"])
    profiler = cProfile.Profile()
    profiled = asked[WARMUP + count : WARMUP + count + PROFILED]
    profiler.runcall(lambda: [bot.ask(q) for q in profiled])
    print(json.dumps({
        "open_in_process_s": round(opened, 2), "warm_questions": len(ask_ms),
        "warm_p50_ms": round(percentile(ask_ms, 50), 1), "warm_p95_ms": round(percentile(ask_ms, 95), 1),
        "warm_cpu_p50_ms": round(percentile(cpu_ms, 50), 1), "warm_cpu_p95_ms": round(percentile(cpu_ms, 95), 1),
        "retrieve_p50_ms": round(percentile(retrieve_ms, 50), 1), "retrieve_p95_ms": round(percentile(retrieve_ms, 95), 1),
        "ask_process_rss_mb": vm_hwm_mb(os.getpid()),
        # The two matrices a question is scored against, held in memory for the process's life:
        "sentence_rows": len(bot.retriever.sentence_rows),
        "sentence_matrix_mb": round(bot.retriever.sentence_vectors.nbytes / 2**20, 1),
        "chunk_matrix_mb": round(bot.retriever.vectors.nbytes / 2**20, 1),
        "ask_stages_ms": stage_ms(pstats.Stats(profiler), ASK_STAGES, len(profiled)),
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
    def ingest(profile: Path | None = None) -> tuple[float, dict[str, Any]]:
        command = cli("ingest", "--json", "--corpus", str(corpus), "--index", str(index))
        wall, out, _ = run(command[:1] + ["-m", "cProfile", "-o", str(profile)] + command[1:] if profile else command)
        return wall, last_json(out)

    unchanged_wall, unchanged = ingest()
    if unchanged["added"] or unchanged["updated"] or unchanged["removed"]:  # an earlier run stopped mid-edit
        unchanged_wall, unchanged = ingest()
    target = min(corpus.rglob("*.json"))
    original = target.read_text(encoding="utf-8")
    docs = json.loads(original)
    target.write_text(json.dumps([docs[0] | {"body": docs[0]["body"] + EDIT}] + docs[1:], ensure_ascii=False), encoding="utf-8")
    try:
        changed_wall, changed = ingest()
    finally:
        target.write_text(original, encoding="utf-8")
    _, back = ingest(index.parent / "reingest.prof")  # put back, under cProfile: which stages it spends on
    ingest(index.parent / "unchanged.prof")
    assert changed["updated"] == 1 and back["updated"] == 1 and unchanged["updated"] == unchanged["added"] == 0, (changed, back, unchanged)
    return {"unchanged_s": unchanged["seconds"], "unchanged_wall_s": round(unchanged_wall, 1),
            "one_changed_s": changed["seconds"], "one_changed_wall_s": round(changed_wall, 1),
            "one_changed_profiled_s": back["seconds"],
            "one_changed_stages_ms": stage_ms(pstats.Stats(str(index.parent / "reingest.prof")), INGEST_STAGES),
            "unchanged_stages_ms": stage_ms(pstats.Stats(str(index.parent / "unchanged.prof")), INGEST_STAGES)}


def adopt(folder: Path, built: Path) -> dict[str, Any]:
    """An index built elsewhere (built/index from built/corpus), copied: measured like the others, but its
    ingest was not timed here."""
    for part in ("corpus", "index"):
        if (folder / part).exists():
            shutil.rmtree(folder / part)
        shutil.copytree(built / part, folder / part, ignore=shutil.ignore_patterns(".lock"))
    manifest = json.loads((folder / "index" / "manifest.json").read_text())
    files = sum(1 for p in (folder / "corpus").rglob("*") if p.is_file())
    return {"files": files, "copy_rounds": 0, "original_files": files, "chunks": manifest["chunks"],
            "documents": manifest["documents"], "ingest_s": None, "adopted_from": str(built)}


def measure(folder: Path, size: int, count: int, serve_count: int, reuse: bool, vectors_from: list[Path], data: list[str],
            adopted: Path | None) -> dict[str, Any]:
    corpus, index, saved = folder / "corpus", folder / "index", folder / "result.json"
    result: dict[str, Any] = json.loads(saved.read_text()) if reuse and saved.exists() else {}
    if adopted and not (reuse and "chunks" in result):
        folder.mkdir(parents=True, exist_ok=True)
        result = {"size": size} | adopt(folder, adopted)
    elif not (reuse and (index / "manifest.json").exists() and "ingest_s" in result):
        result = {"size": size, "data": "+".join(data)} | make_corpus(corpus, size, data)
        print(f"[{size}] {result['files']} files written; ingesting", file=sys.stderr, flush=True)
        result |= ingest_with_stored_vectors(corpus, index, vectors_from) if vectors_from else measure_ingest(corpus, index)
        saved.write_text(json.dumps(result, indent=2))
    result["index_mb"] = round(sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) / 2**20, 1)
    print(f"[{size}] {result['chunks']} chunks in {result['ingest_s']} s; cold open", file=sys.stderr, flush=True)
    steps = (("cold", lambda: measure_cold_open(corpus, index, questions()[-1])),
             ("warm", lambda: measure_warm(corpus, index, count)),
             ("serve", lambda: measure_serve(corpus, index, serve_count, folder / "serve.log")),
             ("reingest", lambda: measure_reingest(corpus, index)))
    done = {"cold": "cold_open_s", "warm": "warm_p95_ms", "serve": "serve_peak_rss_mb", "reingest": "one_changed_s"}
    for name, step in steps:
        if reuse and done[name] in result:
            continue  # measured in an earlier run of this size
        print(f"[{size}] {name}", file=sys.stderr, flush=True)
        result |= step()
        saved.write_text(json.dumps(result, indent=2))
    result["unchanged_share_of_ingest"] = round(result["unchanged_s"] / result["ingest_s"], 4) if result["ingest_s"] else None
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    saved.write_text(json.dumps(result, indent=2))
    return result


def extrapolate(rows: list[dict[str, Any]], key: str, chunks: int) -> float | None:
    """A figure at `chunks`, on the straight line (fixed cost + cost per chunk) through the two largest sizes
    measured. An estimate, labelled so wherever it is shown."""
    known = [r for r in rows if r.get(key) is not None]
    if len(known) < 2:
        return None
    (n1, y1), (n2, y2) = [(r["chunks"], r[key]) for r in known[-2:]]
    slope = max(0.0, (y2 - y1) / (n2 - n1)) if n2 != n1 else 0.0  # a falling line (noise) is taken as flat
    return round(y2 + slope * (chunks - n2), 1)


EXTRAPOLATED = ["index_mb", "cold_open_s", "warm_p50_ms", "warm_p95_ms", "warm_cpu_p95_ms", "serve_peak_rss_mb",
                "one_changed_s", "unchanged_s"]
TARGETS = {"warm_p95_ms": 300, "serve_peak_rss_mb": 2048, "one_changed_s": 2}


def plot(rows: list[dict[str, Any]], estimates: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("ingest (s)", ["ingest_s"]), ("index on disk (MB)", ["index_mb"]), ("cold open (s)", ["cold_open_s"]),
              ("warm ask (ms)", ["warm_p50_ms", "warm_p95_ms", "warm_cpu_p95_ms"]), ("serve peak RSS (MB)", ["serve_peak_rss_mb"]),
              ("re-ingest (s)", ["one_changed_s", "unchanged_s"])]
    figure, axes = plt.subplots(2, 3, figsize=(13, 7))
    for axis, (title, keys) in zip(axes.flat, panels):
        for key in keys:
            points = [(r["chunks"], r[key]) for r in rows if r.get(key) is not None]
            line = axis.plot(*zip(*points), marker="o", label=key) if points else None
            guessed = points[-1:] + [(e["chunks"], e[key]) for e in estimates if e.get(key) is not None]
            if line and len(guessed) > 1:
                axis.plot(*zip(*guessed), linestyle=":", marker="x", color=line[0].get_color(), label=f"{key}, extrapolated")
            if key in TARGETS:
                axis.axhline(TARGETS[key], color="red", linestyle="--", linewidth=1, label=f"target {TARGETS[key]}")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("chunks")
        axis.legend(fontsize=7)
    figure.suptitle("corpus-assistant: cost against corpus size (bench/scale.py; dotted = extrapolated, not measured)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


COLUMNS = ["chunks", "built", "copied_chunks", "files", "ingest_s", "chunks_per_s", "index_mb", "cold_open_s",
           "warm_p50_ms", "warm_p95_ms", "warm_cpu_p95_ms", "retrieve_p95_ms", "sentence_matrix_mb", "serve_ready_s", "serve_peak_rss_mb", "one_changed_s",
           "one_changed_wall_s", "unchanged_s", "unchanged_wall_s", "unchanged_share_of_ingest"]


def how_built(row: dict[str, Any]) -> str:
    if row.get("adopted_from"):
        return "adopted (ingest not timed)"
    data = row.get("data", "multihop+squad")
    if row.get("vectors_from"):
        return f"{data}, stored vectors" + (f" ({row['embedded_texts']} texts embedded)" if row.get("embedded_texts") else "")
    return f"{data}, ingest"


def stage_table(rows: list[dict[str, Any]], key: str) -> str:
    stages = list(dict.fromkeys(stage for r in rows for stage in r.get(key, {})))
    return table([{"stage": stage} | {f"{r['chunks']} chunks": r.get(key, {}).get(stage, "–") for r in rows} for stage in stages],
                 ["stage"] + [f"{r['chunks']} chunks" for r in rows])


def report(rows: list[dict[str, Any]], command: str) -> None:
    from assistant.core.config import load_settings

    settings = load_settings()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    for row in rows:
        row["built"] = how_built(row)
        row["copied_chunks"] = f"~{max(0, 1 - row['original_files'] / row['files']):.0%}" if row["copy_rounds"] else "0"
    wanted = [n for n in (30000, 100000) if n > rows[-1]["chunks"] * 1.2]
    estimates = [{"chunks": n} | {key: extrapolate(rows, key, n) for key in EXTRAPOLATED} for n in wanted]
    text = [
        f"# Cost against corpus size ({', '.join(str(r['chunks']) for r in rows)} chunks)", "",
        f"`{command}` at {commit}; embed_backend {settings.embed_backend}, sentence_vectors {settings.sentence_vectors}, "
        f"chunks {settings.chunk_size}/{settings.chunk_overlap}; {os.cpu_count()} cores shared with other work "
        f"(load average {', '.join(str(r.get('load_average_1m')) for r in rows)} at the end of each size: every time "
        "here is inflated by it). `built`: `ingest` = a timed `assistant ingest`; `stored vectors` = the real ingest "
        "with each text's vector taken from an index that already holds it (the time leaves out embedding); "
        "`adopted` = an index built earlier, measured but its ingest not timed. `copied_chunks`: the share of files "
        "that are copies of others with changed ids.", "",
        table([{k: v for k, v in r.items() if v is not None} for r in rows], COLUMNS), "",
        "Where a warm ask spends its time (ms per question, cProfile, cumulative; `scores over all chunks` includes "
        "the embedding and BM25 scoring):", "",
        stage_table(rows, "ask_stages_ms"), "",
        "Where a re-ingest of one changed file spends its time (ms, cProfile, cumulative):", "",
        stage_table(rows, "one_changed_stages_ms"), "",
        "The same with nothing changed:", "",
        stage_table(rows, "unchanged_stages_ms"), "",
    ]
    if estimates:
        text += ["**Extrapolated, not measured**: each figure on the straight line (fixed cost + cost per chunk) "
                 "through the two largest sizes above:", "",
                 table([{k: v for k, v in e.items() if v is not None} for e in estimates], ["chunks"] + EXTRAPOLATED), ""]
    text += ["Targets at 100k chunks: warm ask p95 ≤ 300 ms, serve peak RSS ≤ 2,048 MB, one changed file ≤ 2 s, "
             "unchanged re-check ≤ 2% of the full ingest.", "", "![cost against size](scale.png)"]
    markdown = "\n".join(text)
    print(markdown)
    data = {"command": command, "commit": commit, "embed_backend": settings.embed_backend,
            "sentence_vectors": settings.sentence_vectors, "sizes": rows, "extrapolated": estimates}
    write_report("scale", data, markdown)
    plot(rows, estimates, REPORTS / "scale.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="7585,30000,100000", help="approximate chunk counts")
    parser.add_argument("--questions", type=int, default=50, help="warm questions timed after 5 of warm-up")
    parser.add_argument("--serve-questions", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="keep an index already built for a size, and its ingest time")
    parser.add_argument("--vectors-from", help="index folders (comma-separated) whose vectors serve identical texts: "
                        "the ingest then runs in this process and its time leaves out the embedding")
    parser.add_argument("--data", default="multihop,squad", help="data sets each copy round takes, in order")
    parser.add_argument("--adopt", help="a folder with corpus/ and index/ built elsewhere: measure that index "
                        "(its ingest untimed) as the given size")
    parser.add_argument("--name", default="scale", help="each size's folder is $BENCH_CACHE/<name>-<size>")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the sizes' result.json")
    parser.add_argument("--warm-worker", nargs=3, metavar=("CORPUS", "INDEX", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_worker:
        warm_worker(Path(args.warm_worker[0]), Path(args.warm_worker[1]), int(args.warm_worker[2]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.report_only:
        rows = [json.loads((CACHE / f"{args.name}-{size}" / "result.json").read_text()) for size in sizes]
    else:
        sources = [Path(p) for p in args.vectors_from.split(",")] if args.vectors_from else []
        adopted = Path(args.adopt) if args.adopt else None
        rows = [measure(CACHE / f"{args.name}-{size}", size, args.questions, args.serve_questions, args.reuse, sources, args.data.split(","), adopted)
                for size in sizes]
    report(rows, "python bench/scale.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
