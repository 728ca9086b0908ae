"""Ingest speed per embed backend, as a ratio to torch fp32 embedding the same chunk texts in the same run.

    python bench/ingest.py [--articles 60] [--sweep] [--variants torch/own,onnx-int8/own,onnx-int8/chunk]

Builds the first --articles MultiHop-RAG articles (0 = all 609) into a fresh index once per variant
(embed backend / where sentence vectors come from: `own` = each sentence embedded by itself, `chunk` =
pooled from the chunk's forward pass) and times the whole ingest: chunking, chunk and sentence embedding,
Chroma, docstore, both BM25 indexes. The yardstick is torch fp32 (sentence-transformers, batches of 32, all
cores) embedding the same chunk texts alone, measured before and after the ingests; ratio = ingest
chunks/s over its mean (target >= 1.6, issue 25). Models are loaded before timing; the ONNX model's first
use (export + quantize, once per machine) is timed on its own into a temporary cache.

Under onnx-int8 the chunks are embedded in int8 and sentences and questions in fp32 (assistant/embeddings.py).
Also: each model embedding the chunk texts and the sentences alone; the cosine of every chunk and
sentence vector with torch fp32's (from the built indexes); with --sweep, padded tokens per batch and
how the cores are used. The CPU is shared: compare rows of one run, not runs.
Writes eval/reports/ingest.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BENCHMARKS, ROOT, mean, table, write_report  # noqa: E402

from assistant.core.config import Settings, load_settings  # noqa: E402
from assistant.index.embeddings import _model_folder, load_embed_model, load_passage_model  # noqa: E402
from assistant.index.ingest import ingest  # noqa: E402
from assistant.index.keyword import all_chunks, chunk_sentences  # noqa: E402
from assistant.index.store import IndexDir  # noqa: E402
from assistant.index.vectors import SentenceVectors, text_key  # noqa: E402

DATA = BENCHMARKS / "multihop-rag" / "corpus.json"
VARIANTS = "torch/own,onnx-int8/own,onnx-int8/chunk"
SWEEP_TOKENS = (1024, 2048, 4096, 8192, 16384)


def clock(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def rates(embed: Callable[[list[str]], Any], chunks: list[str], sentences: list[str]) -> dict[str, float]:
    """Texts/s embedding the chunk texts, then the sentences: wall clock and per CPU-second."""
    row = {}
    for label, texts in (("chunks", chunks), ("sentences", sentences)):
        _, wall, cpu = clock(lambda: embed(texts))
        row[f"{label}_per_s"] = round(len(texts) / wall, 1)
        row[f"{label}_per_cpu_s"] = round(len(texts) / cpu, 1)
    return row


def variant_settings(base: dict[str, Any], variant: str) -> Settings:
    backend, sentences = variant.split("/")
    return load_settings(**base, embed_backend=backend, sentence_vectors=sentences)


def first_use(folder: Path) -> dict[str, Any]:
    """Export + quantize into an empty cache, as a new machine does once."""
    from assistant.index.onnx_export import cached_model

    with tempfile.TemporaryDirectory() as cache:
        fp32, seconds, _ = clock(lambda: cached_model(folder, "fp32", Path(cache)))
        int8, quantize, _ = clock(lambda: cached_model(folder, "int8", Path(cache)))
        return {"export_s": round(seconds, 1), "quantize_s": round(quantize, 1),
                "fp32_mb": round(fp32.stat().st_size / 2**20, 1), "int8_mb": round(int8.stat().st_size / 2**20, 1)}


def stored_vectors(index: IndexDir) -> tuple[dict[str, np.ndarray], SentenceVectors]:
    got = index.collection().get(include=["embeddings"])
    return dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32))), SentenceVectors.load(index.current().folder)


def agreement(reference: IndexDir, other: IndexDir) -> dict[str, float]:
    """Cosine of each chunk's and each sentence's vector in `other` with its vector in `reference`."""
    ref_chunks, ref_sentences = stored_vectors(reference)
    chunks, sentences = stored_vectors(other)
    chunk_cos = [float(vector @ ref_chunks[key]) for key, vector in chunks.items() if key in ref_chunks]
    rows = [(ref_sentences.row[int(k)], i) for i, k in enumerate(sentences.keys) if int(k) in ref_sentences.row]
    a = ref_sentences.vectors[[r for r, _ in rows]].astype(np.float32)
    b = sentences.vectors[[i for _, i in rows]].astype(np.float32)
    sentence_cos = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {"chunk_cos_mean": round(mean(chunk_cos), 4), "chunk_cos_min": round(min(chunk_cos), 4),
            "sentence_cos_mean": round(float(sentence_cos.mean()), 4), "sentence_cos_min": round(float(sentence_cos.min()), 4),
            "sentence_cos_p01": round(float(np.percentile(sentence_cos, 1)), 4)}


def sweep(settings: Settings, chunks: list[str], sentences: list[str]) -> list[dict[str, Any]]:
    """Texts/s of the int8 encoder by padded tokens per batch and by how the cores are used."""
    from assistant.index.onnx_export import session

    encoder = load_passage_model(settings).encoder
    original = (encoder.batch_tokens, encoder.threads, encoder.session)
    rows = []
    cores = os.cpu_count() or 1
    modes = [("batches in parallel, 1 thread each", cores, encoder.session), ("one batch at a time, 1 thread", 1, encoder.session),
             (f"one batch at a time, {cores} intra-op threads", 1, session(encoder.model, cores))]
    try:
        for tokens in SWEEP_TOKENS:
            for name, threads, sess in modes if tokens == original[0] else modes[:1]:
                encoder.batch_tokens, encoder.threads, encoder.session = tokens, threads, sess
                rows.append({"batch_tokens": tokens, "cores": name} | rates(encoder.encode, chunks, sentences))
                print(rows[-1], file=sys.stderr)
    finally:
        encoder.batch_tokens, encoder.threads, encoder.session = original
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=60, help="first N MultiHop-RAG articles; 0 = all 609")
    parser.add_argument("--variants", default=VARIANTS, help=f"backend/sentence-vectors pairs (default {VARIANTS})")
    parser.add_argument("--sweep", action="store_true", help="also time batch sizes and thread layouts (int8)")
    parser.add_argument("--out-name", default="ingest", help="report name under eval/reports/")
    parser.add_argument("--first-use", action=argparse.BooleanOptionalAction, default=True,
                        help="time export + quantize into an empty cache (once per machine: --no-first-use on a busy one)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    articles = json.loads(DATA.read_text(encoding="utf-8"))[: args.articles or None]

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        (work / "corpus").mkdir()
        (work / "corpus" / "corpus.json").write_text(json.dumps(articles), encoding="utf-8")
        base = {"corpus_dir": work / "corpus"}
        torch_settings = load_settings(**base, embed_backend="torch")
        folder = Path(_model_folder(torch_settings.embed_model))
        first = first_use(folder) if args.first_use else None
        print(f"first use: {first}", file=sys.stderr)
        for variant in variants:  # loaded (and exported into the real cache) before any timing
            load_embed_model(variant_settings(base, variant))
            load_passage_model(variant_settings(base, variant))

        rows: list[dict[str, Any]] = []
        built: dict[str, IndexDir] = {}
        chunk_texts: list[str] = []
        sentences: list[str] = []
        reference: list[float] = []
        reference_cpu: list[float] = []

        def torch_reference() -> None:
            _, wall, cpu = clock(lambda: load_embed_model(torch_settings).get_text_embedding_batch(chunk_texts))
            reference.append(len(chunk_texts) / wall)
            reference_cpu.append(len(chunk_texts) / cpu)
            print(f"torch fp32 embeds {len(chunk_texts)} chunk texts: {reference[-1]:.1f}/s", file=sys.stderr)

        for number, variant in enumerate(variants):
            settings = variant_settings(base | {"index_dir": work / variant.replace("/", "-")}, variant)
            report, wall, cpu = clock(lambda: ingest(settings, progress=False))
            built[variant] = IndexDir(settings.index_dir)
            rows.append({"variant": variant, "chunks": report.chunks, "seconds": round(wall, 1), "cpu_s": round(cpu, 1),
                         "chunks_per_s": round(report.chunks / wall, 1)})
            print(rows[-1], file=sys.stderr)
            if number == 0:
                from llama_index.core.schema import MetadataMode

                nodes = all_chunks(built[variant])
                chunk_texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
                sentences = list(dict.fromkeys(s for node in nodes for s in chunk_sentences(node.text)))
                torch_reference()
        torch_reference()
        yardstick = mean(reference)
        for row in rows:
            row["ratio_to_torch_chunks"] = round(row["chunks_per_s"] / yardstick, 2)
            # The same per CPU-second of this process: what a machine busy with other work still shows.
            row["cpu_ratio"] = round(row["chunks"] / row["cpu_s"] / mean(reference_cpu), 2)

        embedding = []
        models = {"torch fp32": load_embed_model(torch_settings),
                  "onnx fp32": load_embed_model(load_settings(**base, embed_backend="onnx-fp32")),
                  "onnx int8": load_passage_model(load_settings(**base, embed_backend="onnx-int8"))}
        for name, model in models.items():
            embedding.append({"model": name} | rates(model.get_text_embedding_batch, chunk_texts, sentences))
            print(embedding[-1], file=sys.stderr)

        reference_variant = next((v for v in variants if v.startswith("torch/")), None)
        cosines = [{"variant": v} | agreement(built[reference_variant], built[v]) for v in variants if reference_variant and v != reference_variant]
        swept = sweep(load_settings(**base, embed_backend="onnx-int8"), chunk_texts, sentences) if args.sweep else []
    finally:
        shutil.rmtree(work, ignore_errors=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    command = "python bench/ingest.py " + " ".join(sys.argv[1:])
    data = {
        "corpus": f"MultiHop-RAG corpus.json, first {len(articles)} articles", "commit": commit, "command": command,
        "chunk_texts": len(chunk_texts), "sentences": len(sentences),
        "sentences_per_chunk": round(len(sentences) / max(len(chunk_texts), 1), 1),
        "torch_fp32_chunk_texts_per_s": [round(r, 1) for r in reference],
        "torch_fp32_chunk_texts_per_cpu_s": [round(r, 1) for r in reference_cpu], "ingest": rows, "embedding_only": embedding,
        "cosine_with_torch_fp32": cosines, "first_use": first, "sweep": swept,
        "load_average_1m": round(os.getloadavg()[0], 2), "cpu_count": os.cpu_count(),
    }
    md = [f"# Ingest speed: {len(articles)} MultiHop-RAG articles, {len(chunk_texts)} chunks, "
          f"{len(sentences)} distinct sentences ({data['sentences_per_chunk']} per chunk)", "",
          f"`{command}` at {commit}; {os.cpu_count()} cores, load average {data['load_average_1m']} at the end. "
          f"Yardstick: torch fp32 embeds the {len(chunk_texts)} chunk texts alone at "
          f"{' and '.join(f'{r:.1f}' for r in reference)} chunks/s (before and after the ingests); "
          "ratio = ingest chunks/s over their mean (target ≥ 1.6); cpu_ratio = the same per CPU-second of the process "
          f"(torch: {' and '.join(f'{r:.1f}' for r in reference_cpu)} chunk texts per CPU-second).", "",
          table(rows, ["variant", "chunks", "seconds", "cpu_s", "chunks_per_s", "ratio_to_torch_chunks", "cpu_ratio"]), "",
          "Embedding alone (texts/s; per CPU-second of this process):", "",
          table(embedding, ["model", "chunks_per_s", "chunks_per_cpu_s", "sentences_per_s", "sentences_per_cpu_s"]), "",
          "Cosine with torch fp32's vectors, every chunk and sentence of the corpus:", "",
          table(cosines, ["variant", "chunk_cos_mean", "chunk_cos_min", "sentence_cos_mean", "sentence_cos_p01", "sentence_cos_min"])]
    if first:
        md += ["", f"First use on a new machine: export {first['export_s']} s ({first['fp32_mb']} MB fp32), "
               f"quantize {first['quantize_s']} s ({first['int8_mb']} MB int8)."]
    if swept:
        md += ["", "int8 encoder by padded tokens per batch and core layout:", "",
               table(swept, ["batch_tokens", "cores", "chunks_per_s", "chunks_per_cpu_s", "sentences_per_s", "sentences_per_cpu_s"])]
    text = "\n".join(md)
    print(text)
    paths = write_report(args.out_name, data, text)
    print(f"\nwrote {paths[0]} and {paths[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
