"""What the index holds, for `assistant status`."""

from __future__ import annotations

from typing import Any

from assistant.core.config import Settings
from assistant.index.ingest import build_settings
from assistant.index.chroma_server import open_index


def index_status(settings: Settings) -> dict[str, Any]:
    index = open_index(settings)
    generation = index.committed()
    manifest = generation.manifest
    return {
        "index": str(index.path.resolve()),
        "chroma_url": settings.chroma_url or None,  # None: the embedded store in the index folder
        "corpus": str(settings.corpus_dir.resolve()),
        "documents": manifest.get("documents", 0),
        "chunks": manifest.get("chunks", 0),
        "embed_model": manifest.get("embed_model"),
        "chunk_size": manifest.get("chunk_size"),
        "chunk_overlap": manifest.get("chunk_overlap"),
        "tokenizer": manifest.get("tokenizer"),
        "updated": manifest.get("updated"),
        "generation": generation.number,
        # Documents an ingest is changing now, or was when it stopped (the next ingest redoes them).
        "pending": len(index.pending(generation)),
        "size_bytes": index.size_bytes(),
        "matches_settings": manifest_matches(manifest, settings),
    }


def manifest_matches(manifest: dict[str, Any], settings: Settings) -> bool:
    return all(manifest.get(key) == value for key, value in build_settings(settings).as_dict().items())
