"""One commit point for the whole index: a real `assistant ingest` is killed (SIGKILL) at each phase boundary of
a first build and of an update. In between, the index answers from its last complete generation (or says there
is none); the next ingest then leaves exactly what a clean build of the corpus leaves."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from assistant.core.config import load_settings
from assistant.core.errors import IndexStateError
from assistant.index.phases import PAUSE_AT, PAUSED, PHASES

# Small documents, one fact each: a made-up ship, the pier it docked at, its cargo.
SHIPS = [
    "Albatross", "Bittern", "Cormorant", "Dunlin", "Egret", "Fulmar", "Gannet", "Heron", "Ibis", "Jacana", "Kestrel",
    "Lapwing", "Merganser", "Nightjar", "Osprey", "Petrel", "Quail", "Redshank", "Shearwater", "Turnstone", "Upupa",
    "Vireo", "Whimbrel", "Xenops", "Yellowlegs", "Zitting", "Avocet",
]
FIRST = range(20)  # the documents of the first build
REMOVED, EDITED, ADDED = range(0, 6), range(6, 13), range(20, 27)  # what the update does


def pier(i: int, edited: bool) -> int:
    return 300 + i if edited else 10 + i


def write_doc(corpus: Path, i: int, edited: bool = False) -> None:
    ship = SHIPS[i]
    (corpus / f"bulletin-{i:02d}.txt").write_text(
        f"Harbour bulletin {i}\n\n"
        f"The cargo ship {ship} docked at pier {pier(i, edited)} after a slow crossing. "
        f"Its crew unloaded {40 + i} containers of timber before noon. "
        f"The harbour master described the {ship} as the cleanest ship of the week.\n",
        encoding="utf-8",
    )


def first_corpus(corpus: Path) -> set[str]:
    corpus.mkdir(parents=True, exist_ok=True)
    for i in FIRST:
        write_doc(corpus, i)
    return {f"bulletin-{i:02d}.txt" for i in FIRST}


def update_corpus(corpus: Path) -> set[str]:
    """Delete 6 documents, edit 7, add 7."""
    for i in REMOVED:
        (corpus / f"bulletin-{i:02d}.txt").unlink()
    for i in [*EDITED, *ADDED]:
        write_doc(corpus, i, edited=True)
    return {p.name for p in corpus.iterdir()}


def ingest_cli(corpus: Path, index: Path, pause_at: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, PAUSE_AT: pause_at} if pause_at else dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest", "--corpus", str(corpus), "--index", str(index), "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def kill_at(corpus: Path, index: Path, phase: str) -> None:
    """Run an ingest until it reaches `phase`, then SIGKILL it."""
    process = ingest_cli(corpus, index, phase)
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith(PAUSED + phase):
                break
        else:
            pytest.fail(f"the ingest ended before {phase}: {''.join(seen[-5:])}")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def finish(corpus: Path, index: Path) -> dict[str, Any]:
    """The next ingest, in this process (it has the model loaded already)."""
    from assistant.index.ingest import ingest

    return ingest(load_settings(corpus_dir=corpus, index_dir=index), progress=False).as_dict()


def state(index_dir: Path) -> dict[str, Any]:
    """What a clean build must equal: chunks in Chroma (ids and text), the chunks and sentences the keyword
    indexes hold, the sentence vectors, the manifest's counts, and nothing left over."""
    from llama_index.core.vector_stores.utils import metadata_dict_to_node

    from assistant.index.keyword import load_keyword_index, load_sentence_index
    from assistant.index.store import IndexDir
    from assistant.index.vectors import SentenceVectors, load_chunk_vectors

    index = IndexDir(index_dir)
    generation = index.current()
    got = index.collection().get(include=["documents"])
    keyword = load_keyword_index(generation)
    bm25 = sorted((item["node_id"], metadata_dict_to_node(item).text) for item in keyword.corpus)
    sentences, starts = load_sentence_index(generation)
    saved = load_chunk_vectors(generation.folder)
    vectors = SentenceVectors.load(generation.folder)
    assert saved is not None and vectors is not None
    index.close()
    return {
        "chroma": sorted(zip(got["ids"], got["documents"])),
        "bm25": bm25,
        "chunk_vectors": sorted(saved[0]),
        "sentences": (int(sentences.scores["num_docs"]), len(starts)),
        "sentence_keys": sorted(int(key) for key in vectors.keys),
        "counts": {key: generation.manifest[key] for key in ("documents", "chunks")},
        "folders": sorted(p.name for p in index_dir.iterdir() if p.name not in (".lock",) and not p.name.startswith("gen-"))
        + [f"{sum(1 for p in index_dir.glob('gen-*'))} generation"],
    }


def clean_build(corpus: Path, index: Path) -> dict[str, Any]:
    finish(corpus, index)
    return state(index)


def check_answers(corpus_versions: dict[str, set[str]], index: Path, corpus: Path) -> str:
    """Open the index as `ask` does: it must hold one whole version of the corpus (or none yet), and answer
    from it. Returns the version it holds ("none" when no build is complete)."""
    from assistant.app.assistant import Assistant

    settings = load_settings(corpus_dir=corpus, index_dir=index)
    try:
        bot = Assistant(settings)
    except IndexStateError as exc:
        assert "run `assistant ingest`" in str(exc) and "\n" not in str(exc)
        return "none"
    documents = set(bot.documents)
    version = next((name for name, ids in corpus_versions.items() if ids == documents), None)
    assert version is not None, f"the index holds a mix of versions: {sorted(documents)}"
    assert set(bot.retriever.doc_ids) == documents
    for i in [EDITED[0], REMOVED[0], ADDED[0]]:
        answer = bot.ask(f"At which pier did the {SHIPS[i]} dock?")
        doc_id = f"bulletin-{i:02d}.txt"
        for citation in answer.citations:
            assert bot.document_text(citation.doc_id)[citation.start : citation.end] == citation.text
        if doc_id not in documents:
            assert all(c.doc_id != doc_id for c in answer.citations)
            continue
        edited = version == "updated" and i in EDITED or i in ADDED
        assert f"pier {pier(i, edited)}" in answer.text, answer.text
        assert f"pier {pier(i, not edited)}" not in answer.text
    return version


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Clean builds of both versions of the corpus, and the first one's index to start updates from."""
    base = tmp_path_factory.mktemp("commit")
    first_ids = first_corpus(base / "first")
    first = clean_build(base / "first", base / "first-index")
    shutil.copytree(base / "first", base / "updated")
    updated_ids = update_corpus(base / "updated")
    updated = clean_build(base / "updated", base / "updated-index")
    return {"base": base, "first": first, "updated": updated, "versions": {"first": first_ids, "updated": updated_ids}}


@pytest.mark.parametrize("phase", PHASES)
def test_killed_first_build(builds: dict[str, Any], tmp_path: Path, phase: str) -> None:
    corpus, index = builds["base"] / "first", tmp_path / "index"
    kill_at(corpus, index, phase)
    held = check_answers(builds["versions"], index, corpus)
    assert held == ("first" if PHASES.index(phase) >= PHASES.index("manifest") else "none")
    summary = finish(corpus, index)
    assert state(index) == builds["first"]
    assert summary["chunks"] == builds["first"]["counts"]["chunks"]


@pytest.mark.parametrize("phase", PHASES)
def test_killed_update(builds: dict[str, Any], tmp_path: Path, phase: str) -> None:
    corpus, index = builds["base"] / "updated", tmp_path / "index"
    shutil.copytree(builds["base"] / "first-index", index)
    kill_at(corpus, index, phase)
    held = check_answers(builds["versions"], index, corpus)
    assert held == ("updated" if PHASES.index(phase) >= PHASES.index("manifest") else "first")
    summary = finish(corpus, index)
    assert state(index) == builds["updated"]
    if held == "first":  # the next ingest does the update (again), never "unchanged"
        assert summary["unchanged"] < len(builds["versions"]["updated"])


@pytest.mark.parametrize("second", ["locked", "embedded", "sentence-vectors"])
def test_update_killed_twice(builds: dict[str, Any], tmp_path: Path, second: str) -> None:
    """The ingest that repairs an interrupted update is itself killed; the one after still gets it right."""
    corpus, index = builds["base"] / "updated", tmp_path / "index"
    shutil.copytree(builds["base"] / "first-index", index)
    kill_at(corpus, index, "embedded")
    kill_at(corpus, index, second)
    assert check_answers(builds["versions"], index, corpus) == "first"
    summary = finish(corpus, index)
    assert summary["redone"] > 0
    assert state(index) == builds["updated"]
