"""Keyword (BM25) indexes over every chunk in the collection, rebuilt after each ingest.

bm25/            chunks (header + passage), llama-index's BM25Retriever, whose corpus holds each chunk's node
bm25-sentences/  every sentence of every chunk, in chunk order, so a chunk can also be scored by its best
                 sentence (a question usually paraphrases one sentence of the passage it needs)
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from assistant.core.errors import IndexStateError
from assistant.core.text import WORD_PATTERN, content_terms, normalized, sentence_spans
from assistant.index.store import IndexDir
from assistant.index.vectors import Embed, SentenceVectors

PAGE = 5000
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


def all_chunks(index: IndexDir) -> list[TextNode]:
    """Every chunk stored in Chroma, as llama-index nodes (text, metadata, offsets)."""
    collection = index.collection()
    nodes: list[TextNode] = []
    offset = 0
    while True:
        page = collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
        for node_id, text, metadata in zip(page["ids"], page["documents"], page["metadatas"]):
            node = metadata_dict_to_node(metadata, text=text)
            node.id_ = node_id
            nodes.append(node)
        if len(page["ids"]) < PAGE:
            return nodes
        offset += PAGE


def build_keyword_index(index: IndexDir, embed: Embed) -> int:
    """Rebuild and persist the BM25 indexes and sentence vectors; returns the number of chunks."""
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = all_chunks(index)
    if not nodes:
        return 0
    # Every chunk is scored (retrieve/hybrid.py ranks them all); a top k above the chunk count only makes it log a warning.
    # Words are matched in normalized text ("fi\u00adnance" is found by "finance") but the corpus keeps each chunk
    # as it is: passages and their offsets come from it.
    retriever = BM25Retriever.from_defaults(
        nodes=[matched(node) for node in nodes], stemmer=Stemmer.Stemmer("english"), language="english",
        similarity_top_k=min(len(nodes), 10), token_pattern=TOKEN_PATTERN,
    )
    retriever.corpus = [node_to_metadata_dict(node) | {"node_id": node.node_id} for node in nodes]
    retriever.persist(str(index.bm25_dir), show_progress=False)
    (index.bm25_dir / TOKENIZER).write_text(json.dumps({"token_pattern": TOKEN_PATTERN}), encoding="utf-8")
    sentences = build_sentence_index(index, nodes, retriever.stemmer)
    SentenceVectors.build(index.path, sentences, embed)
    write_term_stats(index, nodes)
    return len(nodes)


def matched(node: TextNode) -> TextNode:
    """A copy of `node` holding the text its words are matched in (see core.text.normalized)."""
    return node.model_copy(update={"text": normalized(node.text), "metadata": {
        key: normalized(value) if key == "header" else value for key, value in node.metadata.items()
    }})


def chunk_sentences(text: str) -> list[str]:
    """A chunk's sentences as the sentence index holds them (a chunk without a sentence is one)."""
    return [text[a:b] for a, b in chunk_sentence_spans(text)]


def chunk_sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Where chunk_sentences finds them, shifted by `offset`."""
    return sentence_spans(text, offset) or [(offset, offset + len(text))]


def build_sentence_index(index: IndexDir, nodes: list[TextNode], stemmer: Any) -> list[str]:
    """BM25 over the sentences of the chunks, in the BM25 corpus order; chunk i owns sentences
    starts[i]:starts[i+1]. Returns the sentences."""
    import bm25s
    import numpy as np

    sentences: list[str] = []
    starts: list[int] = []
    for node in nodes:
        starts.append(len(sentences))
        sentences += chunk_sentences(node.text)
    model = bm25s.BM25()
    tokens = bm25s.tokenize(
        [normalized(sentence) for sentence in sentences], stopwords="en", stemmer=stemmer, token_pattern=TOKEN_PATTERN,
        show_progress=False,
    )
    model.index(tokens, show_progress=False)
    folder = index.path / SENTENCES_DIR
    model.save(str(folder))
    np.save(folder / SENTENCE_CHUNKS, np.asarray(starts, dtype=np.int64))
    return sentences


def load_sentence_index(index: IndexDir) -> tuple[Any, Any]:
    """(BM25 over sentences, first sentence of each chunk)."""
    import bm25s
    import numpy as np

    folder = index.path / SENTENCES_DIR
    if not folder.is_dir():
        raise IndexStateError(f"the index at {index.path} has no sentence index; run `assistant ingest`")
    try:
        return bm25s.BM25.load(str(folder)), np.load(folder / SENTENCE_CHUNKS)
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"sentence index at {folder} is unreadable ({exc}); run `assistant ingest --rebuild`") from None


def term_stats(nodes: list[TextNode]) -> dict[str, Any]:
    """Chunk frequency of every content term, for weighting question words when answering."""
    df: Counter[str] = Counter()
    for node in nodes:
        df.update(set(content_terms(node.get_content(metadata_mode=MetadataMode.EMBED))))
    return {"version": TERMS_VERSION, "chunks": len(nodes), "df": df}


def write_term_stats(index: IndexDir, nodes: list[TextNode]) -> None:
    (index.path / TERMS).write_text(json.dumps(term_stats(nodes)), encoding="utf-8")


def current_term_stats(index: IndexDir) -> dict[str, Any] | None:
    """The stored statistics; None when an older tokenizer counted them."""
    data = json.loads((index.path / TERMS).read_text(encoding="utf-8"))
    return data if data.get("version") == TERMS_VERSION else None


def term_stats_current(index: IndexDir) -> bool:
    try:
        return current_term_stats(index) is not None
    except (OSError, ValueError):
        return False


def load_term_stats(index: IndexDir) -> tuple[dict[str, int], int]:
    try:
        # Counted by an older tokenizer: count again from the chunks (the next ingest writes them).
        data = current_term_stats(index) or term_stats(all_chunks(index))
        return data["df"], data["chunks"]
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"term statistics at {index.path / TERMS} are unreadable ({exc}); run `assistant ingest --rebuild`") from None


def load_keyword_index(index: IndexDir) -> Any:
    from llama_index.retrievers.bm25 import BM25Retriever

    try:
        retriever = BM25Retriever.from_persist_dir(str(index.bm25_dir), show_progress=False)
        tokenizer = index.bm25_dir / TOKENIZER
        built = json.loads(tokenizer.read_text(encoding="utf-8")) if tokenizer.exists() else {}
        retriever.token_pattern = built.get("token_pattern", OLD_TOKEN_PATTERN)
        return retriever
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"keyword index at {index.bm25_dir} is unreadable ({exc}); run `assistant ingest --rebuild`") from None
