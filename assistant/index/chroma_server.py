"""The index on a Chroma server (settings.chroma_url), shared by every app process that points at it.

On the server, for a collection name N (settings.chroma_collection):
    N             chunk vectors, text and metadata, as in the embedded store
    N-documents   the docstore, one record per key (each document's text, metadata and hash); the collection's
                  metadata holds the manifest, whose commit id an ingest that changed something writes last
                  (the commit point every process follows), and the journal (store.py) of an unfinished ingest
    N-sentences   a vector for every sentence of every chunk, its id the hash vectors.text_key gives

Each process keeps a cache of the last commit it read, <index_dir>/servers/<host>-<port>-<N>/: an index folder
as store.py lays it out, without chroma/ (its generation folder holds the docstore, BM25, chunk and sentence
vectors, terms), so a reader whose cache is current asks the server for nothing but the commit id. `current()`
first brings the cache to the server's commit: chunks from N, the docstore from N-documents, sentence vectors
from N-sentences (the model embeds only those the server lacks). An ingest writes the chunks to the server as the embedded one
writes them to its Chroma folder, builds the next generation in its own cache, then publishes the docstore and
sentence vectors, and last the manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property, wraps
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from filelock import FileLock

from assistant.core.config import Settings
from assistant.core.errors import IndexStateError, IndexUnreachableError
from assistant.index.store import GENERATION, Generation, IndexDir, document_of
from assistant.index.vectors import Embed, SentenceVectors, text_key

PAGE = 5000
ID_BATCH = 2000  # records per get, upsert or delete request: bounded request bodies
ATTEMPTS = 3  # reads of the server's state before giving up on one that keeps changing


def open_index(settings: Settings) -> IndexDir:
    """The embedded index folder, or the index on the Chroma server the settings name."""
    return ServerIndex(settings) if settings.chroma_url else IndexDir(settings.index_dir)


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
    """An index whose chunks, docstore, sentence vectors, manifest and journal live on a Chroma server; `path`
    is this process's cache of it."""

    def __init__(self, settings: Settings) -> None:
        parts = urlsplit(settings.chroma_url)
        name = settings.chroma_collection
        super().__init__(settings.index_dir / "servers" / f"{parts.hostname}-{parts.port}-{name}")
        self.settings = settings
        self.url, self.name = settings.chroma_url, name
        self.ssl = parts.scheme == "https"
        self.host, self.port = str(parts.hostname), int(parts.port or 0)  # Settings checked both are there
        self.cache = IndexDir(self.path)  # the same folder, read as an embedded index (without Chroma)
        self._held: FileLock | None = None  # the cache's lock, when this object took it
        self._left_out: set[str] = set()  # documents a cache update leaves out (see _update_cache)

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
        return f"index in collection {self.name!r} on {self.url}"

    def failure(self, exc: Exception) -> IndexStateError | None:
        from chromadb.errors import ChromaError

        if not isinstance(exc, ChromaError):
            return None
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        return IndexStateError(f"the Chroma server at {self.url} refused a request ({reason}); check its log")

    # --- manifest and journal: the documents collection's metadata -------------------------
    def _state(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the server's manifest, its journal): one small request."""
        from chromadb.errors import NotFoundError

        try:
            metadata = self.chroma.get_collection(f"{self.name}-documents", embedding_function=None).metadata or {}
        except NotFoundError:
            return {}, None
        try:
            return json.loads(metadata.get("manifest") or "{}"), json.loads(metadata.get("journal") or "null")
        except ValueError as exc:
            raise IndexStateError(f"the manifest of the {self.describe()} is corrupt ({exc}); run `assistant ingest --rebuild`") from None

    def _record(self, manifest: dict[str, Any], journal: dict[str, Any] | None) -> None:
        # Both keys every time: Chroma may merge or replace a collection's metadata.
        self._documents().modify(metadata={"manifest": json.dumps(manifest), "journal": json.dumps(journal) if journal else ""})

    def exists(self) -> bool:
        return bool(self._state()[0])

    def manifest(self) -> dict[str, Any]:
        manifest = self._state()[0]
        if not manifest:
            raise IndexStateError(f"no index in {self.describe()}; run `assistant ingest --chroma-url {self.url}`")
        return manifest

    def journal(self) -> dict[str, Any] | None:
        return self._state()[1]

    def begin(self, generation: Generation, documents: set[str]) -> None:
        self._record(self._state()[0], {"generation": generation.number, "documents": sorted(documents)})

    def end(self) -> None:
        manifest, journal = self._state()
        if journal:
            self._record(manifest, None)

    def commit(self, manifest: dict[str, Any]) -> None:
        """Publish what this ingest built in its cache (docstore records, sentence vectors) that the server
        lacks, then the manifest: from then on every process reads the new generation. Then the cache's own."""
        generation = self._generation(manifest)
        self._publish_docstore(generation)
        self._publish_sentences(generation)
        self._record(manifest, self._state()[1])
        self.cache.commit(manifest)

    def _generation(self, manifest: dict[str, Any]) -> Generation:
        return Generation(manifest["generation"], self.path / GENERATION.format(manifest["generation"]), manifest)

    # --- the cache ----------------------------------------------------------------------------
    def acquire(self, timeout: float) -> FileLock:
        self._held = super().acquire(timeout)
        return self._held

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The cache's lock, unless this object holds it already (an ingest brings the cache up to date under
        its own lock; a second lock on the same file would wait for it)."""
        if self._held is not None and self._held.is_locked:
            yield
            return
        lock = self.acquire(self.settings.lock_timeout)
        try:
            yield
        finally:
            lock.release()

    def _cached(self) -> dict[str, Any]:
        return self.cache.manifest() if self.cache.exists() else {}

    def committed(self) -> Generation:
        """The server's last commit, as this cache would hold it (the folder may not be there yet)."""
        return self._generation(self.manifest())

    def current(self) -> Generation:
        """The server's last commit, with the cache brought up to it first."""
        for _ in range(ATTEMPTS):
            manifest, journal = self._state()
            if not manifest:
                self.manifest()  # raises "no index"
            if self._cached().get("commit") == manifest["commit"]:
                return self.cache.current()
            with self._locked():
                if self._cached().get("commit") == manifest["commit"] or self._update_cache(manifest, journal):
                    return self.cache.current()
        raise IndexStateError(f"the {self.describe()} kept changing while this process read it; try again")

    def _update_cache(self, manifest: dict[str, Any], journal: dict[str, Any] | None) -> bool:
        """Build the cache's generation for the server's `manifest`. The documents an unfinished ingest is
        changing (its journal) are left out: their chunks on the server may be half old, half new. Returns
        False when the server changed while it was read (an ingest committed or began): read it again."""
        from assistant.index.keyword import build_keyword_index

        number = manifest["generation"]
        try:
            previous = self.cache.current() if self.cache.exists() else None
        except IndexStateError:  # a damaged cache is rebuilt from the server, not read
            previous = None
        target = self.fresh_generation(number)  # a cache of the server before a --rebuild may have this number
        left_out = sorted(journal["documents"]) if journal is not None and journal["generation"] > number else []
        self._left_out = set(left_out)
        try:
            docstore = self._docstore()
            for doc_id in left_out:
                docstore.delete_document(doc_id, raise_error=False)
            target.persist_docstore(docstore)
            same_folder = previous is not None and previous.folder == target.folder
            build_keyword_index(self, target, None if same_folder else previous, self.embed_from_server())
        finally:
            self._left_out = set()
        if self._state() != (manifest, journal):
            return False
        self.cache.commit(manifest | {"left_out": left_out})
        self.prune(target)
        return True

    def pages(self, include: list[str], size: int = PAGE) -> Iterator[dict[str, Any]]:
        for page in super().pages(include, size):
            if self._left_out:
                keep = [i for i, chunk_id in enumerate(page["ids"]) if document_of(chunk_id) not in self._left_out]
                page = dict(page) | {key: [page[key][i] for i in keep] for key in ["ids", *include] if page.get(key) is not None}
            yield page

    def wipe(self) -> None:
        """Drop the server's collections and the cache, for --rebuild."""
        self._drop()
        super().wipe()

    def discard_unfinished(self) -> None:
        """Drop what a first build that stopped before its commit left, on the server and here."""
        self._drop()
        super().discard_unfinished()

    def _drop(self) -> None:
        present = {c.name for c in self.chroma.list_collections()}
        for name in (self.name, f"{self.name}-documents", f"{self.name}-sentences"):
            if name in present:
                self.chroma.delete_collection(name)

    # --- docstore: one record per key, its collections' entries as JSON ----------------------
    def _docstore(self) -> Any:
        from llama_index.core.storage.docstore import SimpleDocumentStore

        data: dict[str, dict[str, Any]] = {}
        for key, text, _ in self._records(self._documents(), ["documents"]):
            for collection, value in json.loads(text).items():
                data.setdefault(collection, {})[key] = value
        return SimpleDocumentStore.from_dict(data)

    def _publish_docstore(self, generation: Generation) -> None:
        """Write the records that changed and drop the ones gone, so a re-ingest of one file sends one."""
        records: dict[str, dict[str, Any]] = {}
        for collection, entries in generation.docstore().to_dict().items():
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
    def _publish_sentences(self, generation: Generation) -> None:
        """Send the sentence vectors the server lacks and drop those no chunk has any more."""
        built = SentenceVectors.load(generation.folder)
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

    def embed_from_server(self) -> Embed:
        """Sentence vectors from the server by text; the few it lacks from the model (loaded only then)."""
        sentences = self._sentences()

        def embed(texts: list[str]) -> np.ndarray:
            ids = [format(text_key(text), "x") for text in texts]
            found: dict[str, np.ndarray] = {}
            for at in range(0, len(ids), ID_BATCH):
                got = sentences.get(ids=ids[at : at + ID_BATCH], include=["embeddings"])
                found.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
            missing = [i for i, rid in enumerate(ids) if rid not in found]
            fresh = self._model_embed([texts[i] for i in missing]) if missing else None
            width = len(next(iter(found.values()))) if found else fresh.shape[1] if fresh is not None else 0
            vectors = np.zeros((len(texts), width), dtype=np.float32)
            for i, rid in enumerate(ids):
                if rid in found:
                    vectors[i] = found[rid]
            if fresh is not None:
                vectors[missing] = fresh
            return vectors

        return embed

    def _model_embed(self, texts: list[str]) -> np.ndarray:
        from assistant.index.embeddings import load_embed_model

        return np.asarray(load_embed_model(self.settings).get_text_embedding_batch(texts), dtype=np.float32)

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
