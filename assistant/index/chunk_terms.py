"""Each chunk's words as the keyword side counts them, worked out once per chunk and carried from one generation
to the next, so that an ingest which changes one file tokenizes that file's chunks only; the BM25 indexes and
term statistics are then rebuilt from these ids without reading or tokenizing every chunk again.

    gen-N/chunk_terms.npz         per chunk (in keyword-index order): the BM25 tokens of its text (header +
                                  passage), the BM25 tokens and text key (vectors.text_key) of each of its
                                  sentences, and its distinct content terms (core.text.content_terms)
    gen-N/chunk_terms_vocab.json  the strings those ids stand for (one vocabulary for all three)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode

from assistant.core.text import content_terms, normalized
from assistant.index.linked_rows import save_array
from assistant.index.store import unreadable
from assistant.index.vectors import text_key

TERMS_FILE = "chunk_terms.npz"
VOCAB_FILE = "chunk_terms_vocab.json"
RAGGED = ("words", "sentence_words", "sentences", "terms")


@dataclass(frozen=True)
class Ragged:
    """Rows of different lengths: row i is flat[at[i]:at[i + 1]]."""

    flat: np.ndarray
    at: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]], dtype: Any) -> Ragged:
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter((x for row in rows for x in row), dtype=dtype, count=int(lengths.sum()))
        return cls(flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.at) - 1

    def positions(self, rows: np.ndarray) -> np.ndarray:
        """The flat positions of `rows`, in that order."""
        starts, lengths = self.at[rows], self.at[rows + 1] - self.at[rows]
        offsets = np.repeat(np.cumsum(lengths) - lengths - starts, lengths)
        return np.arange(int(lengths.sum()), dtype=np.int64) - offsets

    def take(self, rows: np.ndarray) -> Ragged:
        lengths = self.at[rows + 1] - self.at[rows]
        return Ragged(self.flat[self.positions(rows)], np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))

    @staticmethod
    def join(parts: Sequence[Ragged]) -> Ragged:
        flat = np.concatenate([part.flat for part in parts])
        ends = np.concatenate([[0]] + [part.at[1:] + sum(len(p.flat) for p in parts[:i]) for i, part in enumerate(parts)])
        return Ragged(flat, ends.astype(np.int64))


@dataclass(frozen=True)
class ChunkTerms:
    """The keyword side of some chunks. `sentences` holds each chunk's sentence text keys; its row offsets are
    also the rows of `sentence_words` (one per sentence)."""

    vocab: list[str]
    words: Ragged  # per chunk
    sentence_words: Ragged  # per sentence
    sentences: Ragged  # per chunk: text key of each sentence
    terms: Ragged  # per chunk, distinct

    @classmethod
    def empty(cls) -> ChunkTerms:
        def none(dtype: Any) -> Ragged:
            return Ragged(np.zeros(0, dtype=dtype), np.zeros(1, dtype=np.int64))

        return cls([], none(np.int32), none(np.int32), none(np.uint64), none(np.int32))

    def __len__(self) -> int:
        return len(self.words)

    def take(self, rows: np.ndarray) -> ChunkTerms:
        rows = np.asarray(rows, dtype=np.int64)
        return ChunkTerms(self.vocab, self.words.take(rows), self.sentence_words.take(self.sentences.positions(rows)),
                          self.sentences.take(rows), self.terms.take(rows))

    @staticmethod
    def join(first: ChunkTerms, second: ChunkTerms) -> ChunkTerms:
        """`first`'s chunks then `second`'s; `second` must use `first`'s vocabulary, grown (see `analyse`)."""
        parts = [Ragged.join([getattr(first, name), getattr(second, name)]) for name in RAGGED]
        return ChunkTerms(second.vocab, *parts)

    def sentence_starts(self) -> np.ndarray:
        """The first sentence row of each chunk."""
        return self.sentences.at[:-1]

    def term_counts(self) -> dict[str, int]:
        """How many chunks hold each content term, in order of first use."""
        counts = np.bincount(self.terms.flat, minlength=len(self.vocab))
        used, first = np.unique(self.terms.flat, return_index=True)
        return {self.vocab[i]: int(counts[i]) for i in used[np.argsort(first, kind="stable")]}

    def save(self, folder: Path) -> None:
        save_array(folder / TERMS_FILE, {f"{name}{part}": getattr(getattr(self, name), attr)
                                         for name in RAGGED for part, attr in (("", "flat"), ("_at", "at"))})
        tmp = folder / (VOCAB_FILE + ".tmp")
        tmp.write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / VOCAB_FILE)

    @classmethod
    def load(cls, folder: Path) -> ChunkTerms | None:
        """None for a generation written before they were kept."""
        if not (folder / TERMS_FILE).is_file():
            return None
        try:
            with np.load(folder / TERMS_FILE) as saved:
                parts = [Ragged(saved[name], saved[f"{name}_at"]) for name in RAGGED]
            return cls(json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8")), *parts)
        except (OSError, ValueError, KeyError) as exc:
            raise unreadable("chunk terms", folder / TERMS_FILE, exc) from None


def load_sentence_keys(folder: Path) -> np.ndarray | None:
    """The text key of every sentence of the generation, in sentence-index order; None for a generation written
    before chunk terms were kept."""
    if not (folder / TERMS_FILE).is_file():
        return None
    try:
        with np.load(folder / TERMS_FILE) as saved:
            return saved["sentences"]
    except (OSError, ValueError, KeyError) as exc:
        raise unreadable("chunk terms", folder / TERMS_FILE, exc) from None


def analyse(nodes: Sequence[BaseNode], sentences: Sequence[list[str]], stemmer: Any, token_pattern: str,
            vocab: list[str]) -> ChunkTerms:
    """The keyword side of `nodes`, whose sentences (each chunk's list) are given: tokens as the BM25 indexes
    have always taken them (bm25s.tokenize of the normalized text, English stopwords, the Snowball stemmer).
    New strings are added to a copy of `vocab`."""
    import bm25s

    ids = {word: i for i, word in enumerate(vocab)}
    vocab = list(vocab)

    def id_of(word: str) -> int:
        if word not in ids:
            ids[word] = len(vocab)
            vocab.append(word)
        return ids[word]

    def tokens(texts: list[str], stopwords: str) -> list[list[int]]:
        if not texts:
            return []
        found = bm25s.tokenize(texts, stopwords=stopwords, stemmer=stemmer, token_pattern=token_pattern,
                               return_ids=False, show_progress=False)
        return [[id_of(word) for word in row] for row in found]

    matched_texts = [matched(node).get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    flat_sentences = [sentence for chunk in sentences for sentence in chunk]
    terms = [[id_of(term) for term in dict.fromkeys(content_terms(node.get_content(metadata_mode=MetadataMode.EMBED)))]
             for node in nodes]
    return ChunkTerms(
        vocab,
        Ragged.of(tokens(matched_texts, "english"), np.int32),
        Ragged.of(tokens([normalized(s) for s in flat_sentences], "en"), np.int32),
        Ragged.of([[text_key(s) for s in chunk] for chunk in sentences], np.uint64),
        Ragged.of(terms, np.int32),
    )


def matched(node: BaseNode) -> BaseNode:
    """A copy of `node` holding the text its words are matched in (see core.text.normalized)."""
    return node.model_copy(update={"text": normalized(node.text), "metadata": {
        key: normalized(value) if key == "header" else value for key, value in node.metadata.items()
    }})


def bm25_index(token_ids: Ragged, vocab: list[str]) -> Any:
    """bm25s over rows of vocabulary ids (only the words they use are its vocabulary), scored as bm25s scores
    them (its idf and term-frequency functions and its CSC builder, so the same numbers to the bit) but over whole
    arrays at once: bm25s's own builder walks the rows in Python, 9 s for 7,585 chunks and their 65,909
    sentences."""
    import bm25s
    from bm25s.scoring import _build_idf_array, _select_idf_scorer, _select_tfc_scorer

    model = bm25s.BM25()
    used = np.unique(token_ids.flat)
    compact = np.zeros(len(vocab) + 1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    lengths = np.diff(token_ids.at)
    n_docs, n_vocab = len(token_ids), len(used)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    pairs, tf = np.unique(doc * n_vocab + compact[token_ids.flat], return_counts=True)
    rows, cols = (pairs // n_vocab).astype(model.int_dtype), (pairs % n_vocab).astype(model.int_dtype)
    frequencies = dict(enumerate(np.bincount(cols, minlength=n_vocab).tolist()))
    idf = _build_idf_array(frequencies, n_docs, _select_idf_scorer(model.idf_method), model.dtype)
    tfc = _select_tfc_scorer(model.method)(tf_array=tf.astype(model.dtype), l_d=lengths[rows], l_avg=lengths.mean(),
                                           k1=model.k1, b=model.b, delta=model.delta)
    data, indices, indptr = model._np_csc(data=idf[cols] * tfc, rows=rows, cols=cols, shape=(n_docs, n_vocab))
    model.scores = {"data": data.astype(model.dtype), "indices": indices, "indptr": indptr, "num_docs": n_docs}
    model.nonoccurrence_array = None  # only BM25L and BM25+ have one; bm25s's default is Lucene's BM25
    model.vocab_dict = {vocab[i]: j for j, i in enumerate(used.tolist())}
    model.vocab_dict.setdefault("", n_vocab)  # as bm25s.index adds it, for documents without a word
    model.unique_token_ids_set = set(model.vocab_dict.values())
    return model

