"""The index directory: a Chroma collection shared by every generation, the files of the last complete
generation, and a manifest naming it.

    index/
      manifest.json     the commit point, written last by rename: the generation that is complete, a commit id
                        (new at each commit), the embedding model and chunking it was built with, counts, time
      chroma/           Chroma persistent collection (vectors + chunk text + metadata), updated in place
      journal.json      while Chroma may differ from the manifest's generation: the documents whose chunks an
                        ingest is changing (the next ingest deletes and redoes them)
      gen-000007/       one generation's files, never changed once the manifest names it:
        docstore.json   llama-index docstore: each document's hash and verbatim text
        bm25/           keyword index over the chunks (header + passage); bm25-sentences/ over their sentences
        sentence_*.npy  a vector for every sentence of every chunk (vectors.py)
        chunk_*.npy     every chunk's vector, so that reading never opens Chroma (vectors.py)
        terms.json      chunk frequency of every term (weights question words when answering)
      .lock             held while an ingest writes

An index written before generations keeps these files in the index folder itself; it is read as it is and
moved into a generation by its next changing ingest. With a Chroma server (chroma_server.py), this layout
without chroma/ and journal.json is each process's cache of the server's last commit.
"""

from __future__ import annotations

import errno
import json
import shutil
import time
import uuid
from collections.abc import Iterator
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
JOURNAL = "journal.json"
GENERATION = "gen-{:06d}"
CHUNK_ID_SEP = "::"  # a chunk's id is its document's id, this, and its number in the document ("a.txt::3")
# What an index from before generations keeps in the index folder itself (keyword.py, vectors.py name them).
LEGACY_PARTS = (DOCSTORE, BM25_DIR, "bm25-sentences", "sentence_vectors.npy", "sentence_keys.npy", "terms.json")
# What an index must agree on with the settings that open it.
BUILD_KEYS = ("format_version", "embed_model", "chunk_size", "chunk_overlap", "tokenizer")



def document_of(chunk_id: str) -> str:
    """The document a chunk id names: "a.txt::3" -> "a.txt"."""
    return chunk_id.rsplit(CHUNK_ID_SEP, 1)[0]


@dataclass(frozen=True)
class BuildSettings:
    embed_model: str
    chunk_size: int
    chunk_overlap: int
    tokenizer: str = "cl100k_base"
    format_version: int = FORMAT_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in BUILD_KEYS}


@dataclass(frozen=True)
class Generation:
    """One generation of the index files: its number (None for an index written before generations, whose
    files sit in the index folder itself), its folder and the manifest that named it."""

    number: int | None
    folder: Path
    manifest: dict[str, Any]

    def docstore(self) -> Any:
        from llama_index.core.storage.docstore import SimpleDocumentStore

        path = self.folder / DOCSTORE
        if not path.exists():
            return SimpleDocumentStore()
        try:
            return SimpleDocumentStore.from_persist_path(str(path))
        except (OSError, ValueError) as exc:
            raise unreadable("index docstore", path, exc) from None

    def persist_docstore(self, docstore: Any) -> None:
        docstore.persist(str(self.folder / DOCSTORE))

    @property
    def bm25_dir(self) -> Path:
        return self.folder / BM25_DIR


def unreadable(what: str, path: Path, exc: Exception) -> IndexStateError:
    """The error for a part of the index that cannot be read: a permission problem is not damage, and a
    rebuild would not mend it (and would lose a good index)."""
    if isinstance(exc, PermissionError):
        return IndexStateError(f"cannot read the {what} at {path} (permission denied); check its permissions")
    return IndexStateError(f"the {what} at {path} is corrupt ({exc}); run `assistant ingest --rebuild`")


def chroma_failure(folder: Path, exc: Exception) -> IndexStateError | None:
    """The one-line error for a Chroma database that cannot be used; None when `exc` is not Chroma's."""
    from chromadb.errors import ChromaError

    if not isinstance(exc, ChromaError):
        return None
    reason = (str(exc).splitlines() or [type(exc).__name__])[0]
    if "readonly" in reason or "permission" in reason.lower():
        return IndexStateError(f"the Chroma database in {folder} cannot be written ({reason}); check its permissions")
    return IndexStateError(f"the Chroma database in {folder} is damaged ({reason}); run `assistant ingest --rebuild`")


class IndexDir:
    """One index folder. Reading needs no lock and never writes; writing goes through `acquire()`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # --- manifest: the commit point --------------------------------------------------------
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
            raise unreadable("index manifest", self.manifest_path, exc) from None

    def describe(self) -> str:
        return f"index at {self.path}"

    def committed(self) -> Generation:
        """The generation the manifest names, without looking at its files."""
        manifest = self.manifest()
        number = manifest.get("generation")
        return Generation(number, self.path if number is None else self.path / GENERATION.format(number), manifest)

    def current(self) -> Generation:
        """The last complete generation (what the manifest names)."""
        generation = self.committed()
        if not generation.folder.is_dir():
            raise IndexStateError(
                f"the index at {self.path} lacks its generation {generation.folder.name}; run `assistant ingest --rebuild`"
            )
        return generation

    def check_build(self, build: BuildSettings, manifest: dict[str, Any] | None = None) -> None:
        recorded = self.manifest() if manifest is None else manifest
        wanted = build.as_dict()
        diffs = [f"{k}={recorded.get(k)!r} (settings: {wanted[k]!r})" for k in BUILD_KEYS if recorded.get(k) != wanted[k]]
        if diffs:
            raise IndexMismatchError(
                f"{self.describe()} was built with {', '.join(diffs)}; run `assistant ingest --rebuild`"
            )

    def write_manifest(self, build: BuildSettings, **extra: Any) -> None:
        self.commit(build.as_dict() | extra | {"updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": uuid.uuid4().hex})

    def commit(self, manifest: dict[str, Any]) -> None:
        """Name a complete generation: the manifest, written last, by rename."""
        _write_json(self.manifest_path, manifest)

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
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise IndexStateError(
                    f"the index at {self.path} is read-only ({exc.strerror}); `ask` and `serve` can still read it; "
                    "to update it, ingest into a writable --index"
                ) from None
            raise
        return lock

    def wipe(self) -> None:
        """Remove everything but the lock, for --rebuild and after a first build that was interrupted."""
        self.close()
        for child in self.path.iterdir():
            if child.name == LOCK or child.name == ".gitkeep":
                continue
            _remove(child)

    def next_generation(self, current: Generation | None) -> Generation:
        """An empty folder for the generation after `current` (an interrupted ingest may have left one)."""
        return self.fresh_generation((current.number or 0) + 1 if current else 1)

    def fresh_generation(self, number: int) -> Generation:
        """An empty folder for generation `number`."""
        folder = self.path / GENERATION.format(number)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        return Generation(number, folder, {})

    def prune(self, keep: Generation) -> None:
        """Remove older generations (and the files of an index from before generations) once `keep` is committed."""
        for child in [*self._generations(), *(self.path / name for name in LEGACY_PARTS)]:
            if child != keep.folder:
                _remove(child)

    def discard_unfinished(self) -> None:
        """Remove what a first build left when it stopped before its manifest (nothing else in the folder)."""
        self.close()
        for child in [*self._generations(), self.path / CHROMA_DIR, self.journal_path]:
            _remove(child)

    def _generations(self) -> list[Path]:
        return [child for child in self.path.glob("gen-*") if child.is_dir()]

    # --- journal: Chroma changes not yet committed ------------------------------------------
    @property
    def journal_path(self) -> Path:
        return self.path / JOURNAL

    def pending(self, current: Generation | None) -> set[str]:
        """Documents whose chunks in Chroma may differ from the `current` generation: an ingest was changing
        them when it stopped. Empty when the manifest names the generation that journal was for."""
        data = self.journal()
        if data is None or current is not None and (current.number or 0) >= data["generation"]:
            return set()
        return set(data["documents"])

    def journal(self) -> dict[str, Any] | None:
        """{"generation": the one being written, "documents": [...]}; None when there is none."""
        try:
            return json.loads(self.journal_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise unreadable("index journal", self.journal_path, exc) from None

    def begin(self, generation: Generation, documents: set[str]) -> None:
        """Record, before Chroma changes, every document whose chunks may change on the way to `generation`."""
        _write_json(self.journal_path, {"generation": generation.number, "documents": sorted(documents)})

    def end(self) -> None:
        self.journal_path.unlink(missing_ok=True)

    # --- Chroma ---------------------------------------------------------------------------
    @cached_property
    def chroma(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return chromadb.PersistentClient(
            path=str(self.path / CHROMA_DIR), settings=ChromaSettings(anonymized_telemetry=False)
        )

    def failure(self, exc: Exception) -> IndexStateError | None:
        """The one-line error for a Chroma failure; None when `exc` is not Chroma's."""
        return chroma_failure(self.path / CHROMA_DIR, exc)

    def close(self) -> None:
        """Let go of the Chroma client. Chroma shares one system per folder within a process and caches what it
        read: the next client starts afresh and sees what other processes (a CLI ingest) wrote meanwhile."""
        client = self.__dict__.pop("chroma", None)
        if client is not None:
            client.close()

    def collection(self) -> Any:
        # embedding_function=None: Chroma must never embed (its default downloads an ONNX model).
        return self.chroma.get_or_create_collection(
            COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def pages(self, include: list[str], size: int = 5000) -> Iterator[dict[str, Any]]:
        """Every chunk in the collection, `size` at a time (Chroma's `get` results, with `include`)."""
        collection = self.collection()
        offset = 0
        while True:
            page = collection.get(include=include, limit=size, offset=offset)
            yield page
            if len(page["ids"]) < size:
                return
            offset += size

    def vector_store(self) -> Any:
        from assistant.index.chroma_store import BatchedChromaVectorStore

        return BatchedChromaVectorStore(chroma_collection=self.collection(), max_batch=self.chroma.get_max_batch_size())

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write_json(path: Path, data: Any) -> None:
    """Write then rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
