"""The index on a Chroma server (settings.chroma_url), shared by every app process that points at it.

On the server, for a collection name N (settings.chroma_collection):
    N             chunk vectors, text and metadata, as in the embedded store
    N-documents   the docstore, one record per key (each document's text, metadata and hash); the collection's
                  metadata is the manifest, whose `generation` every ingest that changed something writes last
    N-sentences   a vector for every sentence of every chunk, its id the hash vectors.text_key gives

What Chroma cannot serve (BM25 over chunks and sentences, term statistics, the sentence vectors as one array)
each process keeps in a local cache folder for that server and collection, <index_dir>/servers/<host>-<port>-<N>,
stamped with the generation it was built from. `refresh` rebuilds it when the server has a newer generation:
chunks from N, sentence vectors from N-sentences (the model embeds only those the server lacks).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property, wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from assistant.core.config import Settings
from assistant.core.errors import IndexStateError, IndexUnreachableError
from assistant.index.store import BuildSettings, IndexDir
from assistant.index.vectors import Embed, SentenceVectors, text_key

Loader = Callable[[], Embed]  # loads the embedding model only when a sentence vector must be computed

STAMP = "server.json"  # {"generation": ...} of the server state the cache was built from
PAGE = 5000
ID_BATCH = 2000  # records per get, upsert or delete request: bounded request bodies


def open_index(settings: Settings) -> IndexDir:
    """The embedded index folder, or the index on the Chroma server the settings name."""
    if settings.chroma_url:
        return ServerIndex(settings.chroma_url, settings.chroma_collection, settings.index_dir)
    return IndexDir(settings.index_dir)


def catch_up(index: IndexDir, settings: Settings) -> None:
    """Before an ingest on a server: the local cache as of the server's last commit, so that an ingest that
    finds nothing changed has nothing to do. Call with the index lock held."""
    if isinstance(index, ServerIndex):
        index.rebuild_cache(model_embed(settings))


def model_embed(settings: Settings) -> Loader:
    def load() -> Embed:
        from assistant.index.embeddings import load_embed_model

        model = load_embed_model(settings)
        return lambda texts: np.asarray(model.get_text_embedding_batch(texts), dtype=np.float32)

    return load


@contextmanager
def reaching(url: str) -> Iterator[None]:
    """Failures to reach the server as one line that says what to do; Chroma's own errors pass through."""
    import httpx

    try:
        yield
    except (httpx.TransportError, ConnectionError, ValueError) as exc:
        # HttpClient checks the server when it is made and says so with a ValueError
        if isinstance(exc, ValueError) and "Could not connect" not in str(exc):
            raise
        raise IndexUnreachableError(
            f"the Chroma server at {url} does not answer; start it "
            f"(chroma run --path DIR --port {urlsplit(url).port}) or check --chroma-url"
        ) from None


class Guarded:
    """A Chroma client or collection whose calls report an unreachable server with `reaching` (so do those
    llama-index's vector store makes)."""

    def __init__(self, target: Any, url: str) -> None:
        self._target = target
        self._url = url

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        @wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            with reaching(self._url):
                return attr(*args, **kwargs)

        return call


class ServerIndex(IndexDir):
    """An index whose collection, docstore and manifest live on a Chroma server; `path` is the local cache."""

    def __init__(self, url: str, name: str, index_dir: Path) -> None:
        parts = urlsplit(url)
        super().__init__(index_dir / "servers" / f"{parts.hostname}-{parts.port}-{name}")
        self.url, self.name = url, name
        self.ssl = parts.scheme == "https"
        self.host, self.port = str(parts.hostname), int(parts.port or 0)  # Settings checked both are there

    @cached_property
    def chroma(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        # Not cached when it fails (cached_property keeps only a result): the next call connects again. Once
        # made, the client reconnects by itself after a server restart.
        with reaching(self.url):
            client = chromadb.HttpClient(
                host=self.host, port=self.port, ssl=self.ssl, settings=ChromaSettings(anonymized_telemetry=False)
            )
        return Guarded(client, self.url)

    def _named(self, name: str, metadata: dict[str, Any] | None = None) -> Guarded:
        collection = self.chroma.get_or_create_collection(name, embedding_function=None, metadata=metadata)
        return Guarded(collection, self.url)

    def collection(self) -> Any:
        return self._named(self.name, {"hnsw:space": "cosine"})

    def _documents(self) -> Guarded:
        return self._named(f"{self.name}-documents")

    def _sentences(self) -> Guarded:
        return self._named(f"{self.name}-sentences")

    def describe(self) -> str:
        return f"collection {self.name!r} on {self.url}"

    # --- manifest: the documents collection's metadata ---------------------------------------
    def _recorded(self) -> dict[str, Any]:
        return dict(self._documents().metadata or {})

    def exists(self) -> bool:
        return "generation" in self._recorded()

    def manifest(self) -> dict[str, Any]:
        recorded = self._recorded()
        if "generation" not in recorded:
            raise IndexStateError(f"no index in {self.describe()}; run `assistant ingest --chroma-url {self.url}`")
        return recorded

    def generation(self) -> str:
        """The server's commit point: changes whenever an ingest changed the corpus (one small request)."""
        return str(self._recorded().get("generation", ""))

    def write_manifest(self, build: BuildSettings, **extra: Any) -> None:
        """Publish the sentence vectors this ingest built, then the manifest with a new generation: the commit
        point other processes refresh from."""
        self._publish_sentences()
        generation = uuid.uuid4().hex
        data = build.as_dict() | extra | {"updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "generation": generation}
        self._documents().modify(metadata={k: v for k, v in data.items() if v is not None})
        self._stamp(generation)

    # --- docstore: one record per key, its collections' entries as JSON ----------------------
    def docstore(self) -> Any:
        from llama_index.core.storage.docstore import SimpleDocumentStore

        data: dict[str, dict[str, Any]] = {}
        for key, text, _ in self._records(self._documents(), ["documents"]):
            for collection, value in json.loads(text).items():
                data.setdefault(collection, {})[key] = value
        return SimpleDocumentStore.from_dict(data)

    def persist_docstore(self, docstore: Any) -> None:
        """Write the records that changed and drop the ones gone, so a re-ingest of one file sends one."""
        records: dict[str, dict[str, Any]] = {}
        for collection, entries in docstore.to_dict().items():
            for key, value in entries.items():
                records.setdefault(key, {})[collection] = value
        texts = {key: json.dumps(record, sort_keys=True) for key, record in records.items()}
        digests = {key: hashlib.blake2b(text.encode(), digest_size=16).hexdigest() for key, text in texts.items()}
        documents = self._documents()
        stored = {rid: meta.get("digest") for rid, _, meta in self._records(documents, ["metadatas"])}
        changed = [key for key in texts if stored.get(key) != digests[key]]
        for at in range(0, len(changed), ID_BATCH):
            ids = changed[at : at + ID_BATCH]
            # Chroma wants a vector for every record; these are found by id only.
            documents.upsert(ids=ids, documents=[texts[k] for k in ids], metadatas=[{"digest": digests[k]} for k in ids],
                             embeddings=[[1.0]] * len(ids))
        self._delete(documents, [rid for rid in stored if rid not in texts])

    # --- sentence vectors ---------------------------------------------------------------------
    def _publish_sentences(self) -> None:
        """Send the sentence vectors the server lacks and drop those no chunk has any more."""
        built = SentenceVectors.load(self.path)
        if built is None:
            return
        sentences = self._sentences()
        stored = {rid for rid, _, _ in self._records(sentences, [])}
        ids = [format(int(key), "x") for key in built.keys]
        missing = [i for i, rid in enumerate(ids) if rid not in stored]
        for at in range(0, len(missing), ID_BATCH):
            rows = missing[at : at + ID_BATCH]
            sentences.upsert(ids=[ids[i] for i in rows], embeddings=built.vectors[rows].astype(np.float32))
        self._delete(sentences, list(stored - set(ids)))

    def server_embed(self, fallback: Loader) -> Embed:
        """Sentence vectors from the server by text; the few it lacks from the model (`fallback()` loads it)."""
        sentences = self._sentences()

        def embed(texts: list[str]) -> np.ndarray:
            ids = [format(text_key(text), "x") for text in texts]
            found: dict[str, np.ndarray] = {}
            for at in range(0, len(ids), ID_BATCH):
                got = sentences.get(ids=ids[at : at + ID_BATCH], include=["embeddings"])
                found.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
            missing = [i for i, rid in enumerate(ids) if rid not in found]
            fresh = fallback()([texts[i] for i in missing]) if missing else None
            width = len(next(iter(found.values()))) if found else fresh.shape[1] if fresh is not None else 0
            vectors = np.zeros((len(texts), width), dtype=np.float32)
            for i, rid in enumerate(ids):
                if rid in found:
                    vectors[i] = found[rid]
            if fresh is not None:
                vectors[missing] = fresh
            return vectors

        return embed

    # --- the local cache ------------------------------------------------------------------------
    def _stamp(self, generation: str) -> None:
        tmp = self.path / (STAMP + ".tmp")
        tmp.write_text(json.dumps({"generation": generation, "server": self.url, "collection": self.name}), encoding="utf-8")
        tmp.replace(self.path / STAMP)

    def cached_generation(self) -> str:
        try:
            return str(json.loads((self.path / STAMP).read_text(encoding="utf-8")).get("generation", ""))
        except (OSError, ValueError):
            return ""

    def refresh(self, fallback: Loader, lock_timeout: float) -> str:
        """Bring the local cache in line with the server's generation (rebuilt only when the server has moved
        on); returns the generation it now holds."""
        if self.generation() != self.cached_generation():
            lock = self.acquire(lock_timeout)
            try:
                self.rebuild_cache(fallback)
            finally:
                lock.release()
        return self.cached_generation()

    def rebuild_cache(self, fallback: Loader) -> None:
        """BM25, term statistics and sentence vectors from the server's chunks, unless the cache is current.
        The generation is read before the chunks: an ingest that commits meanwhile leaves the stamp behind,
        and the next check rebuilds again. Call with the index lock held."""
        from assistant.index.keyword import build_keyword_index

        generation = self.generation()
        if generation and generation != self.cached_generation():
            build_keyword_index(self, self.server_embed(fallback))
            self._stamp(generation)

    def wipe(self) -> None:
        """Drop the server's collections and the local cache, for --rebuild."""
        for name in (self.name, f"{self.name}-documents", f"{self.name}-sentences"):
            if name in {c.name for c in self.chroma.list_collections()}:
                self.chroma.delete_collection(name)
        super().wipe()

    # --- paging -----------------------------------------------------------------------------------
    @staticmethod
    def _records(collection: Any, include: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(id, document, metadata) of every record, a page at a time."""
        offset = 0
        while True:
            page = collection.get(include=include, limit=PAGE, offset=offset)
            documents = page.get("documents") or [""] * len(page["ids"])
            metadatas = page.get("metadatas") or [{}] * len(page["ids"])
            yield from zip(page["ids"], documents, metadatas)
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE

    @staticmethod
    def _delete(collection: Any, ids: list[str]) -> None:
        for at in range(0, len(ids), ID_BATCH):
            collection.delete(ids=ids[at : at + ID_BATCH])
