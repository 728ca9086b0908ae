"""Keyword (BM25) index over every chunk in the collection, rebuilt after each ingest."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from llama_index.core.schema import MetadataMode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from assistant.errors import IndexStateError
from assistant.store import IndexDir
from assistant.text import content_terms

PAGE = 5000
TERMS = "terms.json"


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


def build_keyword_index(index: IndexDir) -> int:
    """Rebuild and persist the BM25 index; returns the number of chunks."""
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = all_chunks(index)
    if not nodes:
        return 0
    retriever = BM25Retriever.from_defaults(nodes=nodes, stemmer=Stemmer.Stemmer("english"), language="english")
    retriever.persist(str(index.bm25_dir))
    write_term_stats(index, nodes)
    return len(nodes)


def write_term_stats(index: IndexDir, nodes: list[TextNode]) -> None:
    """Chunk frequency of every content term, for weighting question words when answering."""
    df: Counter[str] = Counter()
    for node in nodes:
        df.update(set(content_terms(node.get_content(metadata_mode=MetadataMode.EMBED))))
    path = index.path / TERMS
    path.write_text(json.dumps({"chunks": len(nodes), "df": df}), encoding="utf-8")


def load_term_stats(index: IndexDir) -> tuple[dict[str, int], int]:
    try:
        data = json.loads((index.path / TERMS).read_text(encoding="utf-8"))
        return data["df"], data["chunks"]
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"term statistics at {index.path / TERMS} are unreadable ({exc}); run `assistant ingest --rebuild`") from None


def load_keyword_index(index: IndexDir) -> Any:
    from llama_index.retrievers.bm25 import BM25Retriever

    try:
        return BM25Retriever.from_persist_dir(str(index.bm25_dir))
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"keyword index at {index.bm25_dir} is unreadable ({exc}); run `assistant ingest --rebuild`") from None
