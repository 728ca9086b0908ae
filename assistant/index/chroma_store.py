"""Chroma through llama-index, in batches Chroma accepts."""

from __future__ import annotations

from typing import Any

from llama_index.vector_stores.chroma import ChromaVectorStore


class BatchedChromaVectorStore(ChromaVectorStore):
    """llama-index sends every chunk in one call (41,665 for a large corpus); Chroma's SQLite takes about
    5,461 at a time (`max_batch`, from the client)."""

    max_batch: int = 5000

    def __init__(self, chroma_collection: Any, max_batch: int, **kwargs: Any) -> None:
        super().__init__(chroma_collection=chroma_collection, **kwargs)
        self.max_batch = max_batch  # ChromaVectorStore.__init__ drops fields it does not know

    def add(self, nodes: list[Any], **kwargs: Any) -> list[str]:
        ids: list[str] = []
        for at in range(0, len(nodes), self.max_batch):
            ids += super().add(nodes[at : at + self.max_batch], **kwargs)
        return ids
