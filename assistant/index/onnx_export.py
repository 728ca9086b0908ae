"""A BERT-like Hugging Face folder as an ONNX model, fp32 or int8, made offline and cached.

    <cache>/<folder name>-<content hash>/<head>-fp32.onnx   torch.onnx.export of the folder's weights
    <cache>/<folder name>-<content hash>/<head>-int8.onnx   the same, dynamically quantized

Made on first use from the folder alone (no hub), keyed by a hash of the folder's files, so an edited or
retrained folder gets a model of its own. Any encoder that takes input_ids, attention_mask and token_type_ids
fits: an embedding model ("hidden": the last layer's token states) or a cross-encoder ("logits").
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from functools import lru_cache
from pathlib import Path
from collections.abc import Callable
from typing import Any, Literal

from filelock import FileLock

from assistant.core.errors import ConfigError

Head = Literal["hidden", "logits"]
Precision = Literal["fp32", "int8"]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
RECIPE = "1"  # part of the cache key: bump when export or quantization settings change
OPSET = 17


@lru_cache(maxsize=8)
def folder_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (the 90 MB MiniLM folder takes about 0.2 s)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode("utf-8") + b"\0")
        with path.open("rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def cached_model(folder: Path, precision: Precision, cache_dir: Path, head: Head = "hidden") -> Path:
    """The ONNX file for `folder`, exported (and quantized) into `cache_dir` on first use; one process
    exports while the others wait."""
    folder = folder.resolve()
    target = cache_dir.expanduser() / f"{folder.name}-{folder_hash(folder)[:16]}-r{RECIPE}"
    path = target / f"{head}-{precision}.onnx"
    if path.is_file():
        return path
    try:
        target.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target / ".lock")):
            fp32 = target / f"{head}-fp32.onnx"
            if not fp32.is_file():
                _atomic(fp32, lambda tmp: export(folder, tmp, head))
            if precision == "int8" and not path.is_file():
                _atomic(path, lambda tmp: quantize_int8(fp32, tmp))
    except OSError as exc:
        raise ConfigError(f"cannot write the ONNX model to {target} ({exc}); set ASSISTANT_ONNX_CACHE_DIR to a writable folder") from None
    return path


def _atomic(path: Path, make: Callable[[Path], None]) -> None:
    """Write beside, then rename: an interrupted export leaves no half file behind."""
    tmp = path.with_name(path.name + ".tmp")
    make(tmp)
    tmp.replace(path)


def export(folder: Path, dest: Path, head: Head = "hidden") -> None:
    """torch.onnx.export with dynamic batch and sequence axes; checked against torch on a small batch."""
    try:
        import torch
        from transformers import AutoModel, AutoModelForSequenceClassification
    except ImportError:
        raise ConfigError("exporting the model to ONNX needs torch and transformers (pip install torch transformers)") from None

    auto = AutoModel if head == "hidden" else AutoModelForSequenceClassification
    # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime fuses and quantizes.
    model = auto.from_pretrained(folder, attn_implementation="eager").eval()

    class Wrapped(torch.nn.Module):
        """Positional inputs and one tensor out, as the exporter wants them."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state if head == "hidden" else out.logits

    ids = torch.tensor([[1, 5, 6, 2, 0], [1, 7, 8, 9, 2]])  # any ids a vocabulary holds; 0 pads
    mask = (ids != 0).long()
    sample = (ids, mask, torch.zeros_like(ids))
    output = "last_hidden_state" if head == "hidden" else "logits"
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS} | {output: {0: "batch"} | ({1: "sequence"} if head == "hidden" else {})}
    wrapped = Wrapped()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape checks that hold for every input (checked below)
        expected = wrapped(*sample).numpy()
        # The TorchScript exporter (dynamo=False) needs no onnxscript and handles BERT's data-dependent mask.
        torch.onnx.export(wrapped, sample, str(dest), input_names=list(INPUTS), output_names=[output],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    got = session(dest).run(None, dict(zip(INPUTS, (t.numpy() for t in sample))))[0]
    compared = abs(got - expected)[mask.bool().numpy()] if head == "hidden" else abs(got - expected)  # pads differ
    if compared.max() > 1e-3:
        raise ConfigError(f"the ONNX export of {folder} disagrees with torch; set ASSISTANT_EMBED_BACKEND=torch")


def quantize_int8(src: Path, dest: Path) -> None:
    """Dynamic int8: weights quantized once per output channel, activations per call.

    Signed 7-bit weights (reduce_range): on AVX2 and AVX-512 without VNNI, MLAS multiplies u8 activations by s8
    weights with vpmaddubsw, whose int16 sums saturate with 8-bit weights; per-tensor weights cost accuracy
    (mean cosine to fp32 .945 against .993 per channel, 64 MultiHop-RAG chunks)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # quantize_dynamic logs a pre-processing hint on the root logger
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(src, dest, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    finally:
        quiet.setLevel(level)


def session(path: Path, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session. `threads` is its intra-op pool; with 1, callers get parallelism by
    running batches from several threads at once (Run is thread-safe and releases the GIL)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initializers after fusion are noise here
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

