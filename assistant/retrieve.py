"""Hybrid retrieval: dense (Chroma) and keyword (BM25) rankings fused by reciprocal rank."""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import VectorStoreQuery

from assistant.config import Settings
from assistant.embeddings import load_embed_model
from assistant.keyword import load_keyword_index
from assistant.store import IndexDir
from assistant.types import Passage

RRF_K = 60
CANDIDATES = 40  # per retriever, before fusion


def to_passage(node: Any, score: float) -> Passage:
    meta = node.metadata
    return Passage(
        node_id=node.node_id,
        doc_id=str(meta.get("doc_id") or node.ref_doc_id),
        title=str(meta.get("title", "")),
        path=str(meta.get("path", "")),
        source=str(meta.get("source", "")),
        date=str(meta.get("date", "")),
        text=node.text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=float(score),
        header=str(meta.get("header", "")),
    )


class HybridRetriever:
    def __init__(self, index: IndexDir, settings: Settings) -> None:
        self.settings = settings
        self.vector_store = index.vector_store()
        self.keyword = load_keyword_index(index)
        self.embed_model = load_embed_model(settings)

    def dense(self, query: str, k: int) -> list[NodeWithScore]:
        embedding = self.embed_model.get_query_embedding(query)
        result = self.vector_store.query(VectorStoreQuery(query_embedding=embedding, similarity_top_k=k))
        return [NodeWithScore(node=n, score=s) for n, s in zip(result.nodes or [], result.similarities or [])]

    def sparse(self, query: str, k: int) -> list[NodeWithScore]:
        self.keyword.similarity_top_k = min(k, len(self.keyword.corpus))
        return self.keyword.retrieve(QueryBundle(query))

    def retrieve(self, query: str, k: int) -> list[Passage]:
        fused: dict[str, float] = {}
        nodes: dict[str, Any] = {}
        for ranking in (self.dense(query, CANDIDATES), self.sparse(query, CANDIDATES)):
            for rank, hit in enumerate(ranking):
                fused[hit.node.node_id] = fused.get(hit.node.node_id, 0.0) + 1.0 / (RRF_K + rank + 1)
                nodes.setdefault(hit.node.node_id, hit.node)
        best = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
        return [to_passage(nodes[node_id], fused[node_id]) for node_id in best]
