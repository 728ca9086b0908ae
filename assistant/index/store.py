"""The index directory: Chroma collection, docstore, BM25 index and a manifest, in one folder.

    index/
      manifest.json   embedding model and chunking the index was built with, counts, build time
      chroma/         Chroma persistent collection (vectors + chunk text + metadata)
      docstore.json   llama-index docstore: each document's hash and verbatim text
      bm25/           keyword index over the same chunks (header + passage); bm25-sentences/ over their sentences
      sentence_*.npy  a vector for every sentence of every chunk (vectors.py)
      terms.json      chunk frequency of every term (weights question words when answering)
      .lock           held while an ingest writes
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.core.errors import IndexBusyError, IndexMismatchError, IndexStateError

FORMAT_VERSION = 1
COLLECTION = "chunks"
MANIFEST = "manifest.json"
DOCSTORE = "docstore.json"
BM25_DIR = "bm25"
CHROMA_DIR = "chroma"
LOCK = ".lock"
# What an index must agree on with the settings that open it.
BUILD_KEYS = ("format_version", "embed_model", "chunk_size", "chunk_overlap", "tokenizer")


@dataclass(frozen=True)
class BuildSettings:
    embed_model: str
    chunk_size: int
    chunk_overlap: int
    tokenizer: str = "cl100k_base"
    format_version: int = FORMAT_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in BUILD_KEYS}


class IndexDir:
    """One index folder. Reading needs no lock; writing goes through `writing()`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # --- manifest -------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexStateError(f"no index at {self.path}; run `assistant ingest` first") from None
        except (OSError, ValueError) as exc:
            raise IndexStateError(
                f"index at {self.path} is corrupt ({MANIFEST}: {exc}); run `assistant ingest --rebuild`"
            ) from None

    def check_build(self, build: BuildSettings) -> None:
        recorded = self.manifest()
        wanted = build.as_dict()
        diffs = [f"{k}={recorded.get(k)!r} (settings: {wanted[k]!r})" for k in BUILD_KEYS if recorded.get(k) != wanted[k]]
        if diffs:
            raise IndexMismatchError(
                f"index at {self.path} was built with {', '.join(diffs)}; run `assistant ingest --rebuild`"
            )

    def write_manifest(self, build: BuildSettings, **extra: Any) -> None:
        data = build.as_dict() | extra | {"updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(self.manifest_path)

    # --- writing --------------------------------------------------------------------------
    def lock(self, timeout: float) -> FileLock:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexStateError(f"cannot create the index folder {self.path} ({exc.strerror}); pick a writable --index") from None
        return FileLock(str(self.path / LOCK), timeout=timeout)

    def acquire(self, timeout: float) -> FileLock:
        lock = self.lock(timeout)
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusyError(
                f"another ingest is writing {self.path} (waited {timeout:.0f}s); try again when it has finished"
            ) from None
        return lock

    def wipe(self) -> None:
        """Remove everything but the lock, for --rebuild."""
        for child in self.path.iterdir():
            if child.name == LOCK or child.name == ".gitkeep":
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()

    # --- parts ----------------------------------------------------------------------------
    @cached_property
    def chroma(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.PersistentClient(
            path=str(self.path / CHROMA_DIR), settings=ChromaSettings(anonymized_telemetry=False)
        )

    def collection(self) -> Any:
        # embedding_function=None: Chroma must never embed (its default downloads an ONNX model).
        return self.chroma.get_or_create_collection(
            COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def vector_store(self) -> Any:
        from assistant.index.chroma_store import BatchedChromaVectorStore

        return BatchedChromaVectorStore(chroma_collection=self.collection(), max_batch=self.chroma.get_max_batch_size())

    def docstore(self) -> Any:
        from llama_index.core.storage.docstore import SimpleDocumentStore

        path = self.path / DOCSTORE
        if not path.exists():
            return SimpleDocumentStore()
        try:
            return SimpleDocumentStore.from_persist_path(str(path))
        except (OSError, ValueError) as exc:
            raise IndexStateError(f"index docstore is corrupt ({exc}); run `assistant ingest --rebuild`") from None

    def persist_docstore(self, docstore: Any) -> None:
        tmp = self.path / (DOCSTORE + ".tmp")
        docstore.persist(str(tmp))
        tmp.replace(self.path / DOCSTORE)

    @property
    def bm25_dir(self) -> Path:
        return self.path / BM25_DIR

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
