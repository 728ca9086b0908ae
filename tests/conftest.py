"""Shared fixtures: a copy of the shipped corpus and a real index built from it (Chroma on disk)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
UK_DOC = "uk-reveals-satellite-images-russian-ships-north-korea.txt"
BRITAIN_DOC = "britain-gave-un-photos-north-korean-supplies-to-russia.txt"


def copy_corpus(target: Path) -> Path:
    shutil.copytree(CORPUS, target)
    for path in target.iterdir():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped corpus, copied, with an index built once for the whole session."""
    from assistant.config import load_settings
    from assistant.ingest import ingest

    base = tmp_path_factory.mktemp("shipped")
    paths = {"corpus_dir": copy_corpus(base / "corpus"), "index_dir": base / "index"}
    ingest(load_settings(**paths), progress=False)
    return paths


@pytest.fixture(scope="session")
def bot(shipped: dict[str, Path]):
    from assistant import Assistant

    return Assistant.open(**shipped)
