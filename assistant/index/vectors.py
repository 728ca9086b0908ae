"""Sentence vectors: every sentence of every chunk is embedded at ingest, so a warm `ask` embeds only the
question. Rows are keyed by a hash of the sentence text; a re-ingest embeds only sentences it has not seen.

    gen-N/sentence_vectors*.npy  float16 unit vectors, one row per distinct sentence (linked_rows.py: the
                                 rows an earlier generation wrote are hard-linked, not copied)
    gen-N/sentence_keys.npy      uint64 hash of each row's text

Chunk vectors: a copy of every chunk's vector from Chroma, in a generation's keyword-index order, so that
reading an index never opens Chroma (it may be mid-update, on a read-only mount, or busy in another process).

    gen-N/chunk_vectors*.npy     float32, as Chroma holds them (linked_rows.py, as the sentence vectors)
    gen-N/chunk_ids.json         the chunk id of each row
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.core.errors import IndexStateError
from assistant.index.linked_rows import load_rows, save_array, save_rows
from assistant.index.store import unreadable

VECTORS = "sentence_vectors"  # linked_rows.py: .npy, .added.npy, .rows.npy
KEYS = "sentence_keys.npy"
CHUNK_VECTORS = "chunk_vectors"
CHUNK_IDS = "chunk_ids.json"

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit-length float32 rows


def text_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class SentenceVectors:
    """Precomputed vectors looked up by sentence text."""

    def __init__(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.keys = keys
        self.vectors = vectors
        self.row = {int(key): i for i, key in enumerate(keys)}

    def get(self, text: str) -> np.ndarray | None:
        i = self.row.get(text_key(text))
        return None if i is None else self.vectors[i].copy()

    @staticmethod
    def present(folder: Path) -> bool:
        return (folder / f"{VECTORS}.npy").is_file() and (folder / KEYS).is_file()

    @classmethod
    def load(cls, folder: Path) -> SentenceVectors | None:
        """None for an index built before sentence vectors existed (sentences are then embedded on demand)."""
        if not SentenceVectors.present(folder):
            return None
        try:
            # Stored as float16 (half the disk); held as float32, the type they are scored in (one copy).
            return cls(np.load(folder / KEYS), load_rows(folder, VECTORS, np.float32))
        except (OSError, ValueError) as exc:
            raise unreadable("sentence vectors", folder, exc) from None

    @classmethod
    def build(cls, folder: Path, keys: np.ndarray, texts: dict[int, str], embed: Embed,
              previous_folder: Path | None = None) -> None:
        """Save a vector for each distinct sentence key (`keys` may repeat; the first use orders them) in
        `folder`: the rows saved in `previous_folder` (default: `folder`) where it has them, else embedded from
        `texts`, which must hold every sentence the previous rows lack."""
        source = previous_folder or folder
        known = np.load(source / KEYS) if cls.present(source) else np.zeros(0, dtype=np.uint64)
        unique, first = np.unique(np.asarray(keys, dtype=np.uint64), return_index=True)
        keys = unique[np.argsort(first, kind="stable")]
        old_rows = key_rows(known, keys)
        unknown = [int(key) for key in keys[old_rows < 0]]
        if any(key not in texts for key in unknown):
            raise IndexStateError(f"the sentence vectors in {source} lack sentences of chunks this ingest kept; "
                                  "run `assistant ingest --rebuild`")
        # Shortest first: each model batch pads to its longest text, so similar lengths batch cheaply.
        missing = sorted(np.flatnonzero(old_rows < 0).tolist(), key=lambda i: len(texts[int(keys[i])]))
        fresh = np.asarray(embed([texts[int(keys[i])] for i in missing]) if missing else np.zeros((0, 0)), dtype=np.float16)
        save_array(folder / KEYS, keys)
        # save_rows takes the new rows in matrix order
        save_rows(folder, VECTORS, fresh[np.argsort(missing)], source if len(known) else None, old_rows)

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        return key_rows(self.keys, keys)


def key_rows(known: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The row of each of `keys` in `known`, -1 where it is not."""
    if not len(known):
        return np.full(len(keys), -1, dtype=np.int64)
    order = np.argsort(known)
    at = np.minimum(np.searchsorted(known, keys, sorter=order), len(order) - 1)
    return np.where(known[order[at]] == keys, order[at], -1)


def save_chunk_vectors(folder: Path, ids: list[str], fresh: np.ndarray, previous: Path | None = None,
                       taken: np.ndarray | None = None) -> None:
    """The chunks' vectors: row i is row taken[i] of `previous`'s, or where that is -1 the next of `fresh`
    (linked_rows.save_rows)."""
    save_rows(folder, CHUNK_VECTORS, np.asarray(fresh, dtype=np.float32), previous, taken)
    (folder / CHUNK_IDS).write_text(json.dumps(ids), encoding="utf-8")


def load_chunk_ids(folder: Path) -> list[str] | None:
    """The generation's chunk ids; None for an index built before they were saved."""
    try:
        return json.loads((folder / CHUNK_IDS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise unreadable("chunk ids", folder / CHUNK_IDS, exc) from None


def load_chunk_vectors(folder: Path) -> tuple[list[str], np.ndarray] | None:
    """(chunk ids, their vectors); None for an index built before they were saved (read them from Chroma)."""
    ids = load_chunk_ids(folder)
    if ids is None:
        return None
    try:
        return ids, load_rows(folder, CHUNK_VECTORS, np.float32)
    except (OSError, ValueError) as exc:
        raise unreadable("chunk vectors", folder / f"{CHUNK_VECTORS}.npy", exc) from None


class EmbeddingCache:
    """Texts -> vectors: precomputed sentence vectors first, then recent on-demand ones, then the model."""

    def __init__(self, embed: Embed, known: SentenceVectors | None = None, size: int = 10_000) -> None:
        self.embed = embed
        self.known = known
        self.size = size
        self.recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def lookup(self, text: str) -> np.ndarray | None:
        if text in self.recent:
            self.recent.move_to_end(text)
            return self.recent[text]
        return self.known.get(text) if self.known else None

    def __call__(self, texts: list[str]) -> np.ndarray:
        found = {text: self.lookup(text) for text in dict.fromkeys(texts)}
        missing = [text for text, vector in found.items() if vector is None]
        if missing:
            for text, vector in zip(missing, self.embed(missing)):
                found[text] = self.recent[text] = vector
            while len(self.recent) > self.size:
                self.recent.popitem(last=False)
        return np.stack([found[t] for t in texts])
