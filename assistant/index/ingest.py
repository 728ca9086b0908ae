"""Incremental ingest: corpus files -> token chunks with offsets -> embeddings -> the index folder.

Each changing ingest writes a new generation (store.py) and commits it by renaming the manifest last. Chroma
is shared by all generations and changed in place, so the documents whose chunks are about to change are
journalled first; an ingest that finds a journal (or chunk ids in Chroma that differ from the committed
generation's) deletes those documents' chunks and indexes them again, as if new.
"""

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
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TransformComponent
from llama_index.core.storage.docstore import SimpleDocumentStore
from pydantic import PrivateAttr
from tqdm import tqdm

from assistant.core.config import Settings
from assistant.core.errors import CorpusError, IndexStateError
from assistant.core.tokens import encoding
from assistant.corpus.documents import SUPPORTED_SUFFIXES, FileWarning, LoadResult, Problem, SourceDocument, load_corpus
from assistant.index.chroma_server import open_index
from assistant.index.embeddings import embed_model_name, load_embed_model, load_passage_model
from assistant.index.keyword import all_chunks, build_keyword_index, term_stats_current, write_term_stats
from assistant.index.phases import reached
from assistant.index.store import CHUNK_ID_SEP, BuildSettings, Generation, IndexDir, document_of
from assistant.index.text_blocks import blocks
from assistant.index.vectors import SentenceVectors, load_chunk_ids

# A longer document is chunked one block at a time (cut at a paragraph, line or sentence break): the splitter's
# sentence tokenizer (NLTK punkt) gives up on one paragraph that takes it over 5 s, about 1 MB. No benchmark
# document is this long (MultiHop-RAG's longest has 71,034 characters), so their chunks are unchanged.
BLOCK_CHARS = 100_000


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


class Reached(TransformComponent):
    """A pipeline step that marks a phase boundary (phases.py)."""

    phase: str

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        reached(self.phase)
        return list(nodes)


class OffsetChunker(TransformComponent):
    """SentenceSplitter by cl100k tokens, then each chunk records where it sits in its document."""

    chunk_size: int
    chunk_overlap: int
    _prepared: dict[str, list[BaseNode]] = PrivateAttr(default_factory=dict)

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        chunks: list[BaseNode] = []
        for node in nodes:
            prepared = self._prepared.pop(node.id_, None)
            chunks += prepared if prepared is not None else self.chunk(node)
        return chunks

    def prepare(self, documents: Sequence[Document], show: bool) -> dict[str, str]:
        """Chunk ahead of the pipeline, a document at a time, so that one that cannot be chunked is left out
        with its reason (returned by id) instead of ending the run. Shows progress by characters when `show`."""
        failed: dict[str, str] = {}
        total = sum(len(doc.text) for doc in documents)
        with tqdm(total=total, desc="Chunking", unit="char", unit_scale=True, disable=not show) as bar:
            for doc in documents:
                try:
                    self._prepared[doc.id_] = self.chunk(doc, bar.update)
                except Exception as exc:  # the splitter and tokenizer raise many types on text they cannot split
                    failed[doc.id_] = self._failure(exc)
        return failed

    def chunk(self, node: BaseNode, advance: Any = None) -> list[BaseNode]:
        text = node.get_content()
        chunks: list[BaseNode] = []
        spans = blocks(text, BLOCK_CHARS)
        source = node.as_related_node_info() if len(spans) > 1 else None
        for start, end in spans:
            part = node if source is None else _block(node, text[start:end])
            block_chunks = self._splitter(first=len(chunks)).get_nodes_from_documents([part], show_progress=False)
            if source is not None:
                _join(source, chunks, block_chunks, start)
            chunks += block_chunks
            if advance is not None:
                advance(end - start)
        for chunk in chunks:
            start = chunk.start_char_idx
            if start is None or text[start : start + len(chunk.text)] != chunk.text:
                raise IndexStateError(f"chunk of {chunk.ref_doc_id} is not a verbatim span of its document")
            chunk.metadata["start"], chunk.metadata["end"] = start, start + len(chunk.text)
            paged = chunk.metadata.pop("page_starts", "")
            if paged:
                chunk.metadata.update(chunk_pages([int(x) for x in paged.split(",")], start, start + len(chunk.text)))
        return chunks

    def _splitter(self, first: int) -> SentenceSplitter:
        """A splitter whose chunk ids count on from `first` (a document's earlier blocks)."""
        splitter = SentenceSplitter(
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
            tokenizer=encoding().encode,
            id_func=lambda i, doc: f"{doc.id_}{CHUNK_ID_SEP}{first + i}",
        )
        # Its last resort for a run without spaces longer than a chunk (a base64 blob, a 1 MB "word") is one
        # split per character, each tokenized: ~40 µs a character, 20 minutes for 30 MB. Pieces of a few
        # characters instead, each surely within a chunk (a character is at most 4 tokens).
        width = max(1, self.chunk_size // 16)
        splitter._sub_sentence_split_fns[-1] = lambda run: [run[i : i + width] for i in range(0, len(run), width)]
        return splitter

    def _failure(self, exc: Exception) -> str:
        if isinstance(exc, ValueError) and str(exc).startswith("Metadata length"):
            return (
                f"its title, source and date take more than the {self.chunk_size} tokens of a chunk; "
                "shorten the title in its sidecar"
            )
        reason = str(exc).splitlines()[0] if str(exc) else ""
        return f"cannot be split into chunks ({type(exc).__name__}{': ' + reason if reason else ''}); check its text"


def _block(node: BaseNode, text: str) -> Document:
    """A stand-in document for one block of `node`: its id, metadata and templates, the block's text."""
    return Document(
        id_=node.id_,
        text=text,
        metadata=node.metadata,
        excluded_embed_metadata_keys=node.excluded_embed_metadata_keys,
        excluded_llm_metadata_keys=node.excluded_llm_metadata_keys,
        metadata_template=node.metadata_template,
        text_template=node.text_template,
    )


def _join(source: RelatedNodeInfo, before: list[BaseNode], block_chunks: list[BaseNode], offset: int) -> None:
    """Make a block's chunks those of the whole document: offsets from its start, its source, and the links
    between the last chunk of the block before and the first of this one."""
    for chunk in block_chunks:
        if chunk.start_char_idx is not None:  # None fails the verbatim check
            chunk.start_char_idx += offset
            chunk.end_char_idx = chunk.start_char_idx + len(chunk.text)
        chunk.relationships[NodeRelationship.SOURCE] = source
    if before and block_chunks:
        before[-1].relationships[NodeRelationship.NEXT] = block_chunks[0].as_related_node_info()
        block_chunks[0].relationships[NodeRelationship.PREVIOUS] = before[-1].as_related_node_info()


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
    redone: int = 0  # documents an interrupted ingest left half-changed in Chroma, indexed again
    warnings: list[FileWarning] = field(default_factory=list)  # files indexed with something guessed or left out

    def summary(self) -> dict[str, Any]:
        keys = ("added", "updated", "removed", "unchanged", "redone", "chunks", "seconds")
        return {key: getattr(self, key) for key in keys}

    def as_dict(self) -> dict[str, Any]:
        """The summary with every file named: what `ingest --json` prints for scripts."""
        return {
            **self.summary(),
            "skipped": [{"path": problem.path, "reason": problem.reason} for problem in self.problems],
            "kept": list(self.kept),
            "warnings": [{"path": warning.path, "message": warning.message} for warning in self.warnings],
        }

    def details(self) -> list[str]:
        """One line per file skipped, per document kept at its indexed version and per file indexed with a
        warning (CLI, UI and server log)."""
        return (
            [f"skipped {problem}" for problem in self.problems]
            + [f"kept the indexed version of {doc_id}" for doc_id in self.kept]
            + [f"warning {warning}" for warning in self.warnings]
        )

    def line(self) -> str:
        s = self.summary()
        text = (
            f"{s['added']} added, {s['updated']} updated, {s['removed']} removed, {s['unchanged']} unchanged; "
            f"{s['chunks']} chunks in the index ({s['seconds']:.1f}s)"
        )
        if self.redone:
            text += f"; {self.redone} document(s) of an interrupted ingest redone"
        if self.problems:
            text += f"; {len(self.problems)} file(s) skipped"
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s)"
        return text


def ingest(settings: Settings, rebuild: bool = False, progress: bool | None = None) -> IngestReport:
    """Bring the index in line with the corpus folder. Raises CorpusError when nothing is usable."""
    started = time.perf_counter()
    if not settings.corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {settings.corpus_dir} not found; pass --corpus DIR with your documents")
    loaded = load_corpus(settings.corpus_dir, settings.follow_outside_symlinks, int(settings.max_file_mb * 1_000_000))
    index = open_index(settings)
    build = build_settings(settings)
    lock = index.acquire(settings.lock_timeout)
    try:
        if rebuild:
            index.wipe()
        elif index.exists():
            index.check_build(build)
        else:
            index.discard_unfinished()
        report = _sync(index, build, settings, loaded, progress)
    except Exception as exc:
        failure = index.failure(exc)
        if failure is None:
            raise
        raise failure from None
    finally:
        index.close()
        lock.release()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _sync(
    index: IndexDir, build: BuildSettings, settings: Settings, loaded: LoadResult, progress: bool | None
) -> IngestReport:
    current = index.current() if index.exists() else None
    docstore = current.docstore() if current else SimpleDocumentStore()
    redone = _undo_interrupted(index, current, docstore)
    reached("locked")
    show = sys.stderr.isatty() if progress is None else progress
    chunker = OffsetChunker(chunk_size=build.chunk_size, chunk_overlap=build.chunk_overlap)
    documents = [to_llama_document(doc) for doc in loaded.documents]
    failed = chunker.prepare([doc for doc in documents if docstore.get_document_hash(doc.id_) != doc.hash], show)
    report = IngestReport(
        problems=loaded.problems + [Problem(doc_id, reason) for doc_id, reason in failed.items()],
        warnings=[warning for warning in loaded.warnings if warning.path not in failed],
        redone=len(redone),
    )
    documents = [doc for doc in documents if doc.id_ not in failed]
    # A file that fails to load or to chunk now keeps the version indexed before: nothing indexed is lost.
    broken_paths = {problem.path for problem in loaded.problems}
    loaded_ids = {doc.id_ for doc in documents}
    # (Only then are the stored documents read: that takes seconds on a large corpus, and their hashes suffice.)
    for old in docstore.docs.values() if broken_paths or failed else []:
        if (old.metadata.get("path") in broken_paths or old.id_ in failed) and old.id_ not in loaded_ids:
            documents.append(old)
            report.kept.append(old.id_)
    if not documents:
        reasons = "; ".join(map(str, loaded.problems[:3])) or "the folder has no supported files"
        raise CorpusError(f"nothing usable in {settings.corpus_dir} ({reasons}); add {' '.join(sorted(SUPPORTED_SUFFIXES))} files")

    # One hash per document: a document's metadata holds its id, so no two share a hash.
    before = {doc_id: doc_hash for doc_hash, doc_id in docstore.get_all_document_hashes().items()}
    changing = set(before) - {doc.id_ for doc in documents}  # removed
    for doc in documents:
        old_hash = before.get(doc.id_)
        if old_hash is None:
            report.added += 1
        elif old_hash != doc.hash:
            report.updated += 1
        else:
            report.unchanged += 1
            continue
        changing.add(doc.id_)
    report.removed = len(set(before) - {doc.id_ for doc in documents})
    complete = current is not None and current.bm25_dir.exists() and SentenceVectors.present(current.folder)
    if complete and not changing and not redone:
        report.chunks = current.manifest.get("chunks", 0)
        if not term_stats_current(current.folder):
            write_term_stats(current.folder, all_chunks(index))
        if current.number is not None:  # tidy what an ingest killed after its commit left
            index.end()
            index.prune(current)
        return report  # nothing to embed: skip loading the model

    model = load_embed_model(settings)

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(model.get_text_embedding_batch(texts, show_progress=show), dtype=np.float32)

    embedder = load_passage_model(settings)
    if settings.sentence_vectors == "chunk" and settings.embed_backend != "torch":
        from assistant.index.chunk_sentence_vectors import ChunkSentenceEmbedder

        embedder = ChunkSentenceEmbedder(model=embedder, rest=model)
        embed = embedder.embed
    try:
        target = index.next_generation(current)
        index.begin(target, changing | redone)
        reached("journal")
        pipeline = IngestionPipeline(
            transformations=[chunker, embedder, Reached(phase="embedded")],
            docstore=docstore,
            vector_store=index.vector_store(),
            docstore_strategy=DocstoreStrategy.UPSERTS_AND_DELETE,
            disable_cache=True,
        )
        added = pipeline.run(documents=documents, show_progress=show)
        target.persist_docstore(docstore)
        reached("chroma")
        report.chunks = build_keyword_index(index, target, current, embed, added, changing | redone)
        reached("generation")
        index.write_manifest(build, generation=target.number, documents=len(documents), chunks=report.chunks,
                             embed_backend=settings.embed_backend, sentence_vectors=settings.sentence_vectors)
        reached("manifest")
        index.end()
        reached("committed")
        index.prune(target)
    except OSError as exc:
        raise IndexStateError(f"cannot write the index at {index.path} ({exc.strerror or exc}); check disk space and permissions") from None
    return report


def _undo_interrupted(index: IndexDir, current: Generation | None, docstore: Any) -> set[str]:
    """Delete from Chroma, and forget in `docstore`, every document an interrupted ingest may have left
    half-changed: those its journal names, and those whose chunk ids in Chroma differ from the committed
    generation's. Returns their ids; the ingest then indexes those still in the corpus as new."""
    redo = index.pending(current)
    saved = load_chunk_ids(current.folder) if current else None
    if saved is not None:
        stored = index.collection().get(include=[])["ids"]
        redo |= {document_of(chunk_id) for chunk_id in set(stored) ^ set(saved)}
    if redo:
        store = index.vector_store()
        for doc_id in sorted(redo):
            store.delete(doc_id)
            docstore.delete_document(doc_id, raise_error=False)
    return redo
