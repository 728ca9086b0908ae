"""Sentence vectors from the chunk's own forward pass (setting sentence_vectors = "chunk", ONNX backends).

The ingest pipeline's embedding step: each chunk is embedded as the model would embed it, and every sentence
wholly inside the model's window (256 word pieces) gets the mean of its token states in that pass, in the
context of its chunk. `embed` then serves the sentence index those vectors and runs the model only on the
sentences that truncation cut off, instead of on every sentence again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode, TransformComponent
from pydantic import Field

from assistant.index.keyword import chunk_sentence_spans
from assistant.index.onnx_embedding import OnnxEmbedding


class ChunkSentenceEmbedder(TransformComponent):
    model: OnnxEmbedding  # embeds the chunks
    rest: OnnxEmbedding  # embeds the sentences the chunk pass cut off
    pooled: dict[str, np.ndarray] = Field(default_factory=dict)  # sentence text -> float16 unit vector

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
        spans = []
        for node, text in zip(nodes, texts):
            body = node.get_content()
            # The embedded text is "header\n\npassage": the passage's sentences sit at its end.
            spans.append(chunk_sentence_spans(body, len(text) - len(body)) if text.endswith(body) else [])
        vectors, pooled = self.model.encoder.encode(texts, spans)
        for node, vector, text, found, where in zip(nodes, vectors, texts, pooled, spans):
            node.embedding = vector.tolist()
            for (a, b), sentence_vector in zip(where, found):
                if sentence_vector is not None:
                    self.pooled.setdefault(text[a:b], sentence_vector.astype(np.float16))
        return list(nodes)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit rows for `texts`: pooled where the chunk pass gave one, the model's own for the rest."""
        missing = [text for text in texts if text not in self.pooled]
        fresh = dict(zip(missing, self.rest.encoder.encode(missing)[0])) if missing else {}
        return np.stack([self.pooled[t].astype(np.float32) if t in self.pooled else fresh[t] for t in texts])
