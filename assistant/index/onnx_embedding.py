"""Sentence-transformers embeddings on ONNX Runtime (the `onnx-int8` and `onnx-fp32` embed backends).

The same vectors as sentence-transformers gives for the folder: its tokenizer.json through `tokenizers`,
truncated at max_seq_length, mean pooling over the attention mask and L2 normalisation (modules.json and
1_Pooling/config.json say so; any other recipe is refused). Texts are sorted by length and padded per batch;
batches run on all cores at once, one ONNX Runtime thread each, which keeps working when other processes
take a core (an intra-op pool waits for its slowest thread at every layer).

`encode(texts, spans)` also mean-pools the token states inside character spans of each text, so the
sentences of a chunk get vectors from the chunk's own forward pass ("late chunking").
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.core.errors import ConfigError
from assistant.index.onnx_export import Precision, cached_model, session

# Padded tokens per batch: a batch holds as many length-sorted texts as fit (64 chunks of 256 tokens, 400
# sentences of 40). Chosen with bench/ingest.py --sweep on 2 cores.
BATCH_TOKENS = 8192
MAX_BATCH = 512
# Texts llama-index hands over per call (BaseEmbedding splits its input in groups of embed_batch_size):
# large, so that length sorting and the threads have material to work with.
GROUP = 2048

Spans = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Recipe:
    """What a sentence-transformers folder says about turning token states into a vector."""

    max_length: int
    normalize: bool


def read_recipe(folder: Path) -> Recipe:
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
        pooling = next(module for module in modules if module["type"].endswith(".Pooling"))
        config = json.loads((folder / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        length = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"]
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ConfigError(f"{folder} is not a sentence-transformers folder ({exc}); set ASSISTANT_EMBED_BACKEND=torch") from None
    modes = sorted(key for key, on in config.items() if key.startswith("pooling_mode_") and on is True)
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"} or modes != ["pooling_mode_mean_tokens"]:
        raise ConfigError(
            f"{folder} uses {' + '.join(kinds)} with {', '.join(modes) or 'no pooling'}; the ONNX backends run "
            "Transformer + mean Pooling (+ Normalize) only: set ASSISTANT_EMBED_BACKEND=torch"
        )
    return Recipe(max_length=int(length), normalize="Normalize" in kinds)


class OnnxEncoder:
    """Texts -> vectors (and span vectors) with one ONNX Runtime session."""

    def __init__(self, folder: Path, model: Path, threads: int = 0, batch_tokens: int = BATCH_TOKENS) -> None:
        from tokenizers import Tokenizer

        self.recipe = read_recipe(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json carries its own truncation (128) and fixed padding; sentence-transformers uses neither.
        self.tokenizer.enable_truncation(self.recipe.max_length)
        self.tokenizer.no_padding()
        self.model = model
        self.session = session(model)
        self.width = int(self.session.get_outputs()[0].shape[-1])
        self.threads = threads or os.cpu_count() or 1
        self.batch_tokens = batch_tokens

    def batches(self, lengths: Sequence[int]) -> list[np.ndarray]:
        """Positions grouped shortest first, each group within the padded-token budget."""
        order = np.argsort(lengths, kind="stable")
        groups: list[np.ndarray] = []
        start = 0
        for end in range(1, len(order) + 1):
            size = end - start
            if end == len(order) or size >= MAX_BATCH or (size + 1) * lengths[order[end]] > self.batch_tokens:
                groups.append(order[start:end])
                start = end
        return groups

    def encode(self, texts: Sequence[str], spans: Sequence[Spans] | None = None) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """(one unit row per text, and per text one vector per span, None where the span is cut off by
        truncation or holds no token)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        vectors = np.zeros((len(texts), self.width), dtype=np.float32)
        pooled: list[list[np.ndarray | None]] = [[] for _ in texts]

        def run(group: np.ndarray) -> None:
            width = max(len(encodings[i].ids) for i in group)
            ids = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(group):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1
            states = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            vectors[group] = self.pool(states, mask)
            if spans is not None:
                for row, i in enumerate(group):
                    pooled[i] = self.pool_spans(states[row, : len(encodings[i].ids)], encodings[i], texts[i], spans[i])

        groups = self.batches([len(e.ids) for e in encodings])
        if self.threads == 1 or len(groups) == 1:
            for group in groups:
                run(group)
        else:
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(run, groups))
        return vectors, pooled

    def pool(self, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean over the unmasked tokens (special tokens included, as sentence-transformers does)."""
        weights = mask[..., None].astype(np.float32)
        summed = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return _unit(summed) if self.recipe.normalize else summed

    def pool_spans(self, states: np.ndarray, encoding: Any, text: str, spans: Spans) -> list[np.ndarray | None]:
        offsets = np.asarray(encoding.offsets, dtype=np.int64)
        content = np.asarray(encoding.special_tokens_mask) == 0
        starts = np.where(content, offsets[:, 0], -1)
        # Truncated: what follows the last kept token is cut off; a span reaching past it is not whole.
        kept_end = int(offsets[content, 1].max()) if content.any() else 0
        whole_to = len(text) if not encoding.overflowing else kept_end
        found: list[np.ndarray | None] = []
        for a, b in spans:
            inside = (starts >= a) & (starts < b)
            if not inside.any() or (b > whole_to and text[whole_to:b].strip()):
                found.append(None)
                continue
            mean = states[inside].mean(axis=0)
            found.append(_unit(mean) if self.recipe.normalize else mean)
        return found


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.clip(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12, None)


class OnnxEmbedding(BaseEmbedding):
    """llama-index's face of OnnxEncoder: the ingest pipeline's embedding step and the question embedding."""

    _encoder: OnnxEncoder = PrivateAttr()

    def __init__(self, encoder: OnnxEncoder, model_name: str) -> None:
        super().__init__(model_name=model_name, embed_batch_size=GROUP)
        self._encoder = encoder

    @property
    def encoder(self) -> OnnxEncoder:
        return self._encoder

    @classmethod
    def class_name(cls) -> str:
        return "OnnxEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encoder.encode([query])[0][0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encoder.encode([text])[0][0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encoder.encode(texts)[0].tolist()


def load_onnx_embedding(folder: Path, precision: Precision, cache_dir: Path, threads: int = 0) -> OnnxEmbedding:
    """The folder's model exported (and quantized) on first use into `cache_dir`, then opened."""
    model = cached_model(folder, precision, cache_dir)
    return OnnxEmbedding(OnnxEncoder(folder, model, threads), model_name=f"{folder.name} (onnx {precision})")
