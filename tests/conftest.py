"""Shared fixtures: a copy of the shipped corpus and a real index built from it (Chroma on disk)."""

from __future__ import annotations

import shutil
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
UK_DOC = "uk-reveals-satellite-images-russian-ships-north-korea.txt"
BRITAIN_DOC = "britain-gave-un-photos-north-korean-supplies-to-russia.txt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    """Terminate a process this test started; kill it when it does not stop."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def copy_corpus(target: Path) -> Path:
    shutil.copytree(CORPUS, target)
    for path in target.iterdir():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture(scope="session")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped corpus, copied, with an index built once for the whole session."""
    from assistant.core.config import load_settings
    from assistant.index.ingest import ingest

    base = tmp_path_factory.mktemp("shipped")
    paths = {"corpus_dir": copy_corpus(base / "corpus"), "index_dir": base / "index"}
    ingest(load_settings(**paths), progress=False)
    return paths


@pytest.fixture(scope="session")
def bot(shipped: dict[str, Path]):
    from assistant import Assistant

    return Assistant.open(**shipped)


def write_word_file(path: Path) -> None:
    """A real .docx: title property, a heading, a paragraph, a table, and a header left out of the text."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Port calls"
    document.sections[0].header.paragraphs[0].text = "CONFIDENTIAL draft"
    document.add_heading("Ships at Najin", level=1)
    document.add_paragraph("The Angara loaded containers at Najin in October.")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Ship", "Cargo"), ("Maria", "containers")]):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    document.add_paragraph("The Maria sailed to Vostochny afterwards.")
    document.save(path)
