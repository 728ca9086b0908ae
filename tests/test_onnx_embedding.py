"""The ONNX Runtime embed backends: export, quantization, cache, and vectors that match sentence-transformers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.core.config import load_settings
from assistant.index.embeddings import _model_folder, load_embed_model
from assistant.core.errors import ConfigError
from assistant.index.onnx_embedding import OnnxEncoder, read_recipe
from assistant.index.onnx_export import cached_model, folder_hash, session

TEXTS = [
    "The ferry left Dover at noon with forty lorries aboard.",
    "  Grain prices rose for a third week as the harvest came in late.\n\n",
    "Café owners in Lyon say the new tax rules are “unworkable”.",
    "short",
    " ".join(["The committee met again on Thursday to discuss the budget."] * 40),  # past 256 word pieces
]


@pytest.fixture(scope="module")
def folder() -> Path:
    return Path(_model_folder(""))


def tiny_bert(path: Path, classifier: bool = False) -> Path:
    """A small random BERT folder (a stand-in for a cross-encoder or any BERT-like encoder)."""
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    config = BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=1)
    (BertForSequenceClassification if classifier else BertModel)(config).save_pretrained(path)
    return path


def test_export_and_quantize_any_bert_folder_into_a_cache_keyed_by_content(tmp_path: Path) -> None:
    encoder = tiny_bert(tmp_path / "encoder")
    cache = tmp_path / "cache"
    int8 = cached_model(encoder, "int8", cache)
    fp32 = int8.with_name("hidden-fp32.onnx")
    assert fp32.is_file() and int8.stat().st_size < fp32.stat().st_size
    assert int8.parent.name == f"encoder-{folder_hash(encoder)[:16]}-r1"
    made = int8.stat().st_mtime_ns
    assert cached_model(encoder, "int8", cache) == int8 and int8.stat().st_mtime_ns == made  # reused, not redone

    ids = np.array([[1, 7, 8, 9, 2]])
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    assert session(int8).run(None, feeds)[0].shape == (1, 5, 32)

    classifier = tiny_bert(tmp_path / "classifier", classifier=True)
    logits = cached_model(classifier, "fp32", cache, head="logits")
    assert logits.parent != int8.parent
    assert session(logits).run(None, feeds)[0].shape == (1, 1)


def test_unwritable_cache_is_a_one_line_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="ASSISTANT_ONNX_CACHE_DIR"):
        cached_model(tiny_bert(tmp_path / "encoder"), "fp32", blocker / "cache")


def test_recipe_is_read_from_the_folder_and_other_poolings_are_refused(folder: Path, tmp_path: Path) -> None:
    assert read_recipe(folder).max_length == 256 and read_recipe(folder).normalize
    other = tmp_path / "cls-model"
    shutil.copytree(folder, other, ignore=shutil.ignore_patterns("*.safetensors"))
    config = other / "1_Pooling" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    with pytest.raises(ConfigError, match="ASSISTANT_EMBED_BACKEND=torch"):
        read_recipe(other)


@pytest.mark.parametrize(("backend", "least"), [("onnx-fp32", 0.99999), ("onnx-int8", 0.97)])
def test_vectors_match_sentence_transformers(backend: str, least: float) -> None:
    torch_model = load_embed_model(load_settings(embed_backend="torch"))
    model = load_embed_model(load_settings(embed_backend=backend))
    expected = np.asarray(torch_model.get_text_embedding_batch(TEXTS))
    got = np.asarray(model.get_text_embedding_batch(TEXTS))
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert min((got * expected).sum(axis=1)) >= least
    question = np.asarray(model.get_query_embedding(TEXTS[0]))
    assert float(question @ expected[0]) >= least


def test_batches_stay_within_the_token_budget(folder: Path) -> None:
    encoder = OnnxEncoder(folder, cached_model(folder, "int8", load_settings().onnx_cache_dir), threads=2, batch_tokens=600)
    lengths = [256, 12, 40, 256, 30, 12, 100]
    groups = encoder.batches(lengths)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    for group in groups:
        assert len(group) * max(lengths[i] for i in group) <= 600 or len(group) == 1
    vectors, _ = encoder.encode(TEXTS)
    one_by_one = np.stack([encoder.encode([text])[0][0] for text in TEXTS])
    assert min((vectors * one_by_one).sum(axis=1)) > 0.98  # int8 activations are scaled per batch


def test_sentence_spans_pool_the_chunk_pass(folder: Path) -> None:
    encoder = OnnxEncoder(folder, cached_model(folder, "fp32", load_settings().onnx_cache_dir))
    first = "The ferry left Dover at noon with forty lorries aboard."
    second = "Grain prices rose for a third week."
    filler = " ".join(["The committee met again on Thursday to discuss the budget."] * 40)
    text = f"{first} {second} {filler} Late sentence."
    spans = [(0, len(first)), (len(first) + 1, len(first) + 1 + len(second)), (len(text) - len("Late sentence."), len(text))]
    _, (pooled,) = encoder.encode([text], [spans])
    assert pooled[2] is None  # past the 256 word pieces the model reads
    alone, _ = encoder.encode([first, second])
    assert pooled[0] is not None and pooled[1] is not None
    assert abs(np.linalg.norm(pooled[0]) - 1) < 1e-5
    # In context, yet each span stays nearest its own sentence.
    assert float(pooled[0] @ alone[0]) > float(pooled[0] @ alone[1])
    assert float(pooled[1] @ alone[1]) > float(pooled[1] @ alone[0])


def test_int8_embeds_chunks_and_fp32_questions_and_sentences() -> None:
    from assistant.index.embeddings import load_passage_model

    int8 = load_settings(embed_backend="onnx-int8")
    assert load_passage_model(int8).encoder.model.name == "hidden-int8.onnx"
    assert load_embed_model(int8).encoder.model.name == "hidden-fp32.onnx"
    torch = load_settings(embed_backend="torch")
    assert load_passage_model(torch) is load_embed_model(torch)
    assert type(load_embed_model(torch)).__name__ == "HuggingFaceEmbedding"


def test_ingest_with_sentence_vectors_from_the_chunk_pass(tmp_path: Path) -> None:
    """Sentences inside the model's window get the chunk pass's pooled vector; the rest are embedded alone."""
    from assistant.index.ingest import ingest
    from assistant.index.keyword import all_chunks, chunk_sentences
    from assistant.index.store import IndexDir
    from assistant.index.vectors import SentenceVectors
    from conftest import copy_corpus

    # 600-token chunks: the model reads the first 256 word pieces of each, so later sentences are cut off.
    settings = load_settings(corpus_dir=copy_corpus(tmp_path / "corpus"), index_dir=tmp_path / "index", sentence_vectors="chunk",
                             chunk_size=600)
    ingest(settings, progress=False)
    index = IndexDir(settings.index_dir)
    assert index.manifest()["embed_backend"] == "onnx-int8" and index.manifest()["sentence_vectors"] == "chunk"
    stored = SentenceVectors.load(index.current().folder)
    sentences = list(dict.fromkeys(s for node in all_chunks(index) for s in chunk_sentences(node.text)))
    assert stored is not None and len(stored.keys) == len(sentences)
    alone = np.asarray(load_embed_model(settings).get_text_embedding_batch(sentences))
    cosines = np.array([float(stored.get(s) @ v) for s, v in zip(sentences, alone)])
    assert (cosines < 0.99).mean() > 0.3  # from the chunk pass, in context
    assert (cosines > 0.999).any()  # the sentences truncation cut off were embedded by themselves
