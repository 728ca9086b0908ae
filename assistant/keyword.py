"""Keyword (BM25) index over every chunk in the collection, rebuilt after each ingest."""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from assistant.errors import IndexStateError
from assistant.store import IndexDir

PAGE = 5000


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
    return len(nodes)


def load_keyword_index(index: IndexDir) -> Any:
    from llama_index.retrievers.bm25 import BM25Retriever

    try:
        return BM25Retriever.from_persist_dir(str(index.bm25_dir))
    except (OSError, ValueError, KeyError) as exc:
        raise IndexStateError(f"keyword index at {index.bm25_dir} is unreadable ({exc}); run `assistant ingest --rebuild`") from None
