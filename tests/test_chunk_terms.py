"""The keyword side kept per chunk (index/chunk_terms.py): the BM25 index built from it equals bm25s's own."""

from __future__ import annotations

import bm25s
import numpy as np
import Stemmer

from assistant.index.chunk_terms import Ragged, bm25_index

# Made-up passages: repeated words, a passage of stopwords only (no tokens), different lengths.
TEXTS = [
    "The ferry from Halvik to Oster Bay carried forty cars and a brass band.",
    "The band played twice; the ferry was late twice, and the cars waited.",
    "It is what it is.",
    "Oster Bay harbour dredging begins in spring, the harbour board said on Tuesday.",
    "Brass, brass and more brass: the band's instruments filled the ferry's lower deck.",
]


def test_the_bm25_index_from_ids_equals_bm25s_own() -> None:
    tokens = bm25s.tokenize(TEXTS, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False, show_progress=False)
    vocab = sorted({word for row in tokens for word in row}, reverse=True)  # any order: ids are remapped
    ids = Ragged.of([[vocab.index(word) for word in row] for row in tokens], np.int32)
    ours = bm25_index(ids, vocab)
    theirs = bm25s.BM25()
    theirs.index(tokens, show_progress=False)
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(TEXTS)
    for question in (["ferri"], ["brass", "band"], ["harbour", "spring", "nowher"]):
        assert np.array_equal(ours.get_scores(question), theirs.get_scores(question))
    assert set(ours.vocab_dict) == set(theirs.vocab_dict)


def rows_of(ragged: Ragged) -> list[list[int]]:
    return [ragged.flat[a:b].tolist() for a, b in zip(ragged.at, ragged.at[1:])]


def test_rows_are_taken_and_joined_in_order() -> None:
    rows = Ragged.of([[1, 2], [], [3], [4, 5, 6]], np.int32)
    assert rows_of(rows.take(np.array([3, 0, 1]))) == [[4, 5, 6], [1, 2], []]
    assert rows_of(Ragged.join([rows, Ragged.of([[7]], np.int32)])) == [[1, 2], [], [3], [4, 5, 6], [7]]
