"""Keyword (BM25) indexes over every chunk in the collection, built into each new generation from the words
kept per chunk (chunk_terms.py): an ingest tokenizes only the chunks it adds and carries the rest, with their
corpus lines and vectors, from the generation before.

bm25/            chunks (header + passage), llama-index's BM25Retriever, whose corpus holds each chunk's node
bm25-sentences/  every sentence of every chunk, in chunk order, so a chunk can also be scored by its best
                 sentence (a question usually paraphrases one sentence of the passage it needs)
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from assistant.core.errors import IndexStateError
from assistant.core.text import WORD_PATTERN, content_terms, sentence_spans
from assistant.index.chunk_terms import ChunkTerms, analyse, bm25_index
from assistant.index.phases import reached
from assistant.index.store import Generation, IndexDir, document_of, unreadable
from assistant.index.vectors import Embed, SentenceVectors, load_chunk_ids, save_chunk_vectors, text_key

TERMS = "terms.json"
TERMS_VERSION = 7  # 2: irregular verb forms counted under their base ("grew" as "grow"); 3: "Russiaʼs" as "Russia";
# 4: a full word under its clipping's term ("photographs" as "photos"); 5: a phrasal verb as one term ("carried out");
# 6: "each" and "every" are stopwords, as "both" and "all" are; 7: words counted in normalized text (core.text)
# The words both BM25 indexes hold, kept beside them (llama-index does not persist it) so that an index is
# queried with the pattern it was built with; older indexes were built with bm25s's default.
TOKEN_PATTERN = "(?u)" + WORD_PATTERN
TOKENIZER = "tokenizer.json"
OLD_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
SENTENCES_DIR = "bm25-sentences"
SENTENCE_CHUNKS = "chunk_starts.npy"  # index of each chunk's first sentence
CORPUS = "corpus.jsonl"  # bm25s keeps each chunk's node there, one JSON line each


def all_chunks(index: IndexDir) -> list[TextNode]:
    """Every chunk stored in Chroma, as llama-index nodes (text, metadata, offsets)."""
    return [node for page in index.pages(["documents", "metadatas"]) for node in _nodes(page)]


def chunks_and_vectors(index: IndexDir) -> tuple[list[TextNode], np.ndarray]:
    """Every chunk stored in Chroma and its vector (row i is chunk i's)."""
    nodes: list[TextNode] = []
    vectors: list[np.ndarray] = []
    for page in index.pages(["documents", "metadatas", "embeddings"]):
        nodes += _nodes(page)
        vectors.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(len(page["ids"]), -1))
    return nodes, np.concatenate(vectors)


def _nodes(page: dict[str, Any]) -> list[TextNode]:
    nodes = []
    for node_id, text, metadata in zip(page["ids"], page["documents"], page["metadatas"]):
        node = metadata_dict_to_node(metadata, text=text)
        node.id_ = node_id
        nodes.append(node)
    return nodes


@dataclass
class Carried:
    """The chunks an ingest keeps from the previous generation, in keyword-index order: their rows there, BM25
    corpus lines (JSON, as bm25s wrote them: carried as text, never parsed), ids and keyword side."""

    rows: np.ndarray
    corpus: list[str]
    ids: list[str]
    terms: ChunkTerms


def carried_chunks(previous: Generation | None, replaced: set[str]) -> Carried | None:
    """Every chunk of `previous` but those of the `replaced` documents; None when `previous` lacks what to carry
    them with (it was written before chunk terms were kept)."""
    if previous is None:
        return Carried(np.zeros(0, dtype=np.int64), [], [], ChunkTerms.empty())
    terms, ids = ChunkTerms.load(previous.folder), load_chunk_ids(previous.folder)
    corpus_path = previous.bm25_dir / CORPUS
    if terms is None or ids is None or not corpus_path.is_file():
        return None
    with corpus_path.open(encoding="utf-8") as lines:
        corpus = lines.readlines()
    if not len(corpus) == len(ids) == len(terms):
        return None
    rows = np.flatnonzero([document_of(chunk_id) not in replaced for chunk_id in ids])
    return Carried(rows, [corpus[i] for i in rows], [ids[i] for i in rows], terms.take(rows))


def write_corpus(folder: Path, lines: list[str]) -> None:
    """The BM25 corpus file and its line index, as bm25s writes and reads them."""
    from bm25s.utils.corpus import find_newline_positions, save_mmindex

    path = folder / CORPUS
    with path.open("w", encoding="utf-8") as f:
        f.writelines(lines)
    save_mmindex(find_newline_positions(path, show_progress=False), path=path)


def build_keyword_index(index: IndexDir, target: Generation, previous: Generation | None, embed: Embed,
                        added: list[BaseNode] | None = None, replaced: set[str] | None = None) -> int:
    """Build the BM25 indexes, sentence vectors, chunk vectors and term statistics of every chunk in Chroma
    into the `target` generation's folder; returns the number of chunks. Given the chunks this ingest `added`
    (embedded) and the documents whose chunks it `replaced` (changed or removed), every other chunk is carried
    from `previous` with its tokens, so the work is in proportion to the change; else (or when `previous`
    cannot carry them) every chunk is read from Chroma. Sentence vectors are re-used from `previous`."""
    import Stemmer
    from bm25s.utils.json_functions import dumps
    from llama_index.retrievers.bm25 import BM25Retriever

    carried = carried_chunks(previous, replaced or set()) if added is not None else None
    if carried is None:
        carried = carried_chunks(None, set())
        nodes, new_vectors = chunks_and_vectors(index)
    else:
        nodes = list(added)  # none when the ingest only removed documents
        new_vectors = np.asarray([node.embedding for node in nodes] or np.zeros((0, 0)), dtype=np.float32)
    ids = carried.ids + [node.node_id for node in nodes]
    if not ids:
        return 0
    stemmer = Stemmer.Stemmer("english")
    sentences = [chunk_sentences(node.text) for node in nodes]
    terms = ChunkTerms.join(carried.terms, analyse(nodes, sentences, stemmer, TOKEN_PATTERN, carried.terms.vocab))
    # Every chunk is scored (retrieve/hybrid.py ranks them all); a top k above the chunk count only makes it log a warning.
    # Words are matched in normalized text ("fi\u00adnance" is found by "finance") but the corpus keeps each chunk
    # as it is: passages and their offsets come from it.
    retriever = BM25Retriever(existing_bm25=bm25_index(terms.words, terms.vocab), stemmer=stemmer,
                              similarity_top_k=min(len(ids), 10), token_pattern=TOKEN_PATTERN)
    retriever.persist(str(target.bm25_dir), show_progress=False)  # its corpus is None: written below
    write_corpus(target.bm25_dir, carried.corpus + [
        dumps(node_to_metadata_dict(node) | {"node_id": node.node_id}, ensure_ascii=False) + "\n" for node in nodes
    ])
    (target.bm25_dir / TOKENIZER).write_text(json.dumps({"token_pattern": TOKEN_PATTERN}), encoding="utf-8")
    reached("bm25")
    taken = np.concatenate([carried.rows, np.full(len(nodes), -1)])
    save_chunk_vectors(target.folder, ids, new_vectors, previous.folder if previous else None, taken)
    save_sentence_index(target.folder, terms)
    reached("sentence-index")
    texts = {text_key(sentence): sentence for chunk in sentences for sentence in chunk}
    SentenceVectors.build(target.folder, terms.sentences.flat, texts, embed, previous.folder if previous else None)
    reached("sentence-vectors")
    terms.save(target.folder)
    _write_terms(target.folder, {"version": TERMS_VERSION, "chunks": len(ids), "df": terms.term_counts()})
    return len(ids)


def chunk_sentences(text: str) -> list[str]:
    """A chunk's sentences as the sentence index holds them (a chunk without a sentence is one)."""
    return [text[a:b] for a, b in chunk_sentence_spans(text)]


def chunk_sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Where chunk_sentences finds them, shifted by `offset`."""
    return sentence_spans(text, offset) or [(offset, offset + len(text))]


def save_sentence_index(target: Path, terms: ChunkTerms) -> None:
    """BM25 over the sentences of the chunks, in the BM25 corpus order; chunk i owns sentences
    starts[i]:starts[i+1]."""
    folder = target / SENTENCES_DIR
    bm25_index(terms.sentence_words, terms.vocab).save(str(folder))
    np.save(folder / SENTENCE_CHUNKS, np.asarray(terms.sentence_starts(), dtype=np.int64))


def load_sentence_index(generation: Generation) -> tuple[Any, Any]:
    """(BM25 over sentences, first sentence of each chunk)."""
    import bm25s

    folder = generation.folder / SENTENCES_DIR
    if not folder.is_dir():
        raise IndexStateError(f"the index at {generation.folder} has no sentence index; run `assistant ingest`")
    try:
        return bm25s.BM25.load(str(folder)), np.load(folder / SENTENCE_CHUNKS)
    except (OSError, ValueError, KeyError) as exc:
        raise unreadable("sentence index", folder, exc) from None


def term_stats(nodes: list[TextNode]) -> dict[str, Any]:
    """Chunk frequency of every content term, for weighting question words when answering."""
    df: Counter[str] = Counter()
    for node in nodes:
        df.update(set(content_terms(node.get_content(metadata_mode=MetadataMode.EMBED))))
    return {"version": TERMS_VERSION, "chunks": len(nodes), "df": df}


def write_term_stats(folder: Path, nodes: list[TextNode]) -> None:
    _write_terms(folder, term_stats(nodes))


def _write_terms(folder: Path, stats: dict[str, Any]) -> None:
    """Write then rename: an unchanged ingest may count them again inside the committed generation."""
    tmp = folder / (TERMS + ".tmp")
    tmp.write_text(json.dumps(stats), encoding="utf-8")
    tmp.replace(folder / TERMS)


def current_term_stats(folder: Path) -> dict[str, Any] | None:
    """The stored statistics; None when an older tokenizer counted them."""
    data = json.loads((folder / TERMS).read_text(encoding="utf-8"))
    return data if data.get("version") == TERMS_VERSION else None


def term_stats_current(folder: Path) -> bool:
    try:
        return current_term_stats(folder) is not None
    except (OSError, ValueError):
        return False


def load_term_stats(index: IndexDir, generation: Generation) -> tuple[dict[str, int], int]:
    try:
        # Counted by an older tokenizer: count again from the chunks (the next ingest writes them).
        data = current_term_stats(generation.folder) or term_stats(all_chunks(index))
        return data["df"], data["chunks"]
    except (OSError, ValueError, KeyError) as exc:
        raise unreadable("term statistics", generation.folder / TERMS, exc) from None


def load_keyword_index(generation: Generation) -> Any:
    from llama_index.retrievers.bm25 import BM25Retriever

    try:
        retriever = BM25Retriever.from_persist_dir(str(generation.bm25_dir), show_progress=False)
        tokenizer = generation.bm25_dir / TOKENIZER
        built = json.loads(tokenizer.read_text(encoding="utf-8")) if tokenizer.exists() else {}
        retriever.token_pattern = built.get("token_pattern", OLD_TOKEN_PATTERN)
        return retriever
    except (OSError, ValueError, KeyError) as exc:
        raise unreadable("keyword index", generation.bm25_dir, exc) from None
