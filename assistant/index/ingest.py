"""Incremental ingest: corpus files -> token chunks with offsets -> embeddings -> the index folder."""

from __future__ import annotations

import bisect
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core import Document
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, TransformComponent

from assistant.core.config import Settings
from assistant.core.errors import CorpusError, IndexStateError
from assistant.core.tokens import encoding
from assistant.corpus.documents import SUPPORTED_SUFFIXES, LoadResult, Problem, SourceDocument, load_corpus
from assistant.index.embeddings import embed_model_name, load_embed_model, load_passage_model
from assistant.index.keyword import all_chunks, build_keyword_index, term_stats_current, write_term_stats
from assistant.index.store import BuildSettings, IndexDir
from assistant.index.vectors import SentenceVectors


def build_settings(settings: Settings) -> BuildSettings:
    return BuildSettings(embed_model_name(settings), settings.chunk_size, settings.chunk_overlap)


def header(doc: SourceDocument) -> str:
    return " | ".join(part for part in (doc.title, doc.source, doc.date) if part)


def to_llama_document(doc: SourceDocument) -> Document:
    """Every chunk keeps the document's metadata (doc_id, path, title, source, date, author, url, ...);
    only `header` is embedded and keyword-indexed with the passage."""
    metadata = {**doc.metadata(), "header": header(doc)}
    # Chunks of a paged document also get a `page` (OffsetChunker), hidden like the rest.
    hidden = [key for key in metadata if key != "header"] + (["page"] if "page_starts" in metadata else [])
    return Document(
        id_=doc.doc_id,
        text=doc.text,
        metadata=metadata,
        excluded_embed_metadata_keys=hidden,
        excluded_llm_metadata_keys=hidden,
        metadata_template="{value}",
        text_template="{metadata_str}\n\n{content}",
    )


class OffsetChunker(TransformComponent):
    """SentenceSplitter by cl100k tokens, then each chunk records where it sits in its document."""

    chunk_size: int
    chunk_overlap: int

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        splitter = SentenceSplitter(
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
            tokenizer=encoding().encode,
            id_func=lambda i, doc: f"{doc.id_}::{i}",
        )
        chunks = splitter.get_nodes_from_documents(nodes, show_progress=False)
        texts = {node.id_: node.get_content() for node in nodes}
        for chunk in chunks:
            text = texts[chunk.ref_doc_id]
            start = chunk.start_char_idx
            if start is None or text[start : start + len(chunk.text)] != chunk.text:
                raise IndexStateError(f"chunk of {chunk.ref_doc_id} is not a verbatim span of its document")
            chunk.metadata["start"], chunk.metadata["end"] = start, start + len(chunk.text)
            paged = chunk.metadata.pop("page_starts", "")
            if paged:
                chunk.metadata.update(chunk_pages([int(x) for x in paged.split(",")], start, start + len(chunk.text)))
        return chunks


def chunk_pages(page_starts: list[int], start: int, end: int) -> dict[str, Any]:
    """A chunk of a paged document keeps its own page and the page starts inside it (not the document's
    whole list): `page` is the page at `start` (from 1), `page_starts` the later ones, comma-separated."""
    inside = [offset for offset in page_starts if start < offset < end]
    return {"page": bisect.bisect_right(page_starts, start), "page_starts": ",".join(map(str, inside))}


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # ids whose file broke; their indexed version stays

    def summary(self) -> dict[str, Any]:
        keys = ("added", "updated", "removed", "unchanged", "chunks", "seconds")
        return {key: getattr(self, key) for key in keys}

    def details(self) -> list[str]:
        """One line per file skipped and per document kept at its indexed version (CLI, UI and server log)."""
        return [f"skipped {problem}" for problem in self.problems] + [
            f"kept the indexed version of {doc_id}" for doc_id in self.kept
        ]

    def line(self) -> str:
        s = self.summary()
        text = (
            f"{s['added']} added, {s['updated']} updated, {s['removed']} removed, {s['unchanged']} unchanged; "
            f"{s['chunks']} chunks in the index ({s['seconds']:.1f}s)"
        )
        if self.problems:
            text += f"; {len(self.problems)} file(s) skipped"
        return text


def ingest(settings: Settings, rebuild: bool = False, progress: bool | None = None) -> IngestReport:
    """Bring the index in line with the corpus folder. Raises CorpusError when nothing is usable."""
    started = time.perf_counter()
    if not settings.corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {settings.corpus_dir} not found; pass --corpus DIR with your documents")
    loaded = load_corpus(settings.corpus_dir)
    index = IndexDir(settings.index_dir)
    build = build_settings(settings)
    lock = index.acquire(settings.lock_timeout)
    try:
        if rebuild and index.path.exists():
            index.wipe()
        elif index.exists():
            index.check_build(build)
        report = _sync(index, build, settings, loaded, progress)
    finally:
        lock.release()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _sync(
    index: IndexDir, build: BuildSettings, settings: Settings, loaded: LoadResult, progress: bool | None
) -> IngestReport:
    docstore = index.docstore()
    report = IngestReport(problems=loaded.problems)
    documents = [to_llama_document(doc) for doc in loaded.documents]
    # A file that fails to load now keeps the version indexed before: nothing indexed is lost.
    broken_paths = {problem.path for problem in loaded.problems}
    for old in docstore.docs.values():
        if old.metadata.get("path") in broken_paths and old.id_ not in {d.id_ for d in documents}:
            documents.append(old)
            report.kept.append(old.id_)
    if not documents:
        reasons = "; ".join(map(str, loaded.problems[:3])) or "the folder has no supported files"
        raise CorpusError(f"nothing usable in {settings.corpus_dir} ({reasons}); add {' '.join(sorted(SUPPORTED_SUFFIXES))} files")

    before = {doc_id: docstore.get_document_hash(doc_id) for doc_id in docstore.docs}
    for doc in documents:
        old_hash = before.get(doc.id_)
        if old_hash is None:
            report.added += 1
        elif old_hash != doc.hash:
            report.updated += 1
        else:
            report.unchanged += 1
    report.removed = len(set(before) - {doc.id_ for doc in documents})
    complete = index.exists() and index.bm25_dir.exists() and SentenceVectors.present(index.path)
    if complete and not (report.added or report.updated or report.removed):
        report.chunks = index.manifest().get("chunks", 0)
        if not term_stats_current(index):
            write_term_stats(index, all_chunks(index))
        return report  # nothing to embed: skip loading the model

    model = load_embed_model(settings)
    show = sys.stderr.isatty() if progress is None else progress

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.get_text_embedding_batch(texts, show_progress=show), dtype=np.float32)

    embedder = load_passage_model(settings)
    if settings.sentence_vectors == "chunk" and settings.embed_backend != "torch":
        from assistant.index.chunk_sentence_vectors import ChunkSentenceEmbedder

        embedder = ChunkSentenceEmbedder(model=embedder, rest=model)
        embed = embedder.embed
    try:
        pipeline = IngestionPipeline(
            transformations=[OffsetChunker(chunk_size=build.chunk_size, chunk_overlap=build.chunk_overlap), embedder],
            docstore=docstore,
            vector_store=index.vector_store(),
            docstore_strategy=DocstoreStrategy.UPSERTS_AND_DELETE,
            disable_cache=True,
        )
        pipeline.run(documents=documents, show_progress=show)
        index.persist_docstore(docstore)
        report.chunks = build_keyword_index(index, embed)
        index.write_manifest(build, documents=len(documents), chunks=report.chunks,
                             embed_backend=settings.embed_backend, sentence_vectors=settings.sentence_vectors)
    except OSError as exc:
        raise IndexStateError(f"cannot write the index at {index.path} ({exc.strerror or exc}); check disk space and permissions") from None
    return report
