"""The index on a real Chroma server (`chroma run` on 127.0.0.1), shared by two app processes: ingest, ask, delete
and re-ingest through it, a second process (`assistant serve`, driven by gradio_client) that follows another's
ingest, the server going down and coming back."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BRITAIN_DOC, ROOT, copy_corpus, free_port, stop

from assistant.core.errors import ConfigError, IndexUnreachableError

NOTE = "ferry-note.md"
NOTE_TEXT = "# Port note\n\nThe ferry Amur called at the port of Vanino in March, a harbour official said.\n"
NOTE_QUESTION = "Which port did the ferry Amur call at?"
PORT_QUESTION = "At which port were the Russian ships loaded?"


def wait_for(url: str, proc: subprocess.Popen[Any], log: Path, path: str = "") -> None:
    import httpx

    for _ in range(600):  # a bound, not a speed claim
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + path, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer: {log.read_text()}")


class ChromaServer:
    """`chroma run --path DIR` on a free port; stop and start it again over the same folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> None:
        log = self.root / "chroma.log"
        with open(log, "a") as out:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(self.root / "data"),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        wait_for(self.url, self.proc, log, "/api/v2/heartbeat")

    def stop(self) -> None:
        assert self.proc is not None
        stop(self.proc)
        self.proc = None


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma"))
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


def settings_for(chroma: ChromaServer, root: Path, corpus: Path, **extra: Any) -> Any:
    from assistant.core.config import load_settings

    return load_settings(corpus_dir=corpus, index_dir=root / "index", chroma_url=chroma.url, **extra)


def stored_chunks(chroma: ChromaServer, collection: str = "chunks") -> list[dict[str, Any]]:
    """What the server holds, read with Chroma's own client."""
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma.port)
    got = client.get_collection(collection).get(include=["metadatas"])
    return [meta | {"id": chunk_id} for chunk_id, meta in zip(got["ids"], got["metadatas"])]


def cited_paths(answer: Any) -> set[str]:
    return {citation.path for citation in answer.citations}


def test_chroma_url_is_checked_before_any_request(tmp_path: Path) -> None:
    from assistant.core.config import load_settings

    for bad in ("localhost:8000", "ftp://127.0.0.1:8000", "http://127.0.0.1", "http://127.0.0.1:8000/db"):
        with pytest.raises(ConfigError, match="http://host:port") as caught:
            load_settings(chroma_url=bad)
        assert "\n" not in str(caught.value)
    assert load_settings(chroma_url="http://127.0.0.1:8000/").chroma_url == "http://127.0.0.1:8000"
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "Who?", "--chroma-url", "127.0.0.1:8000", "--index", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, env=os.environ | {"NO_COLOR": "1"},
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "--chroma-url" not in run.stdout, run.stderr


def test_ingest_ask_delete_and_reingest_through_the_server(chroma: ChromaServer, tmp_path: Path) -> None:
    from assistant import Assistant
    from assistant.index.ingest import ingest

    corpus = copy_corpus(tmp_path / "corpus")
    settings = settings_for(chroma, tmp_path, corpus, chroma_collection="roundtrip")
    first = ingest(settings, progress=False)
    assert (first.added, first.chunks) == (2, len(stored_chunks(chroma, "roundtrip")))
    assert not (tmp_path / "index" / "chroma").exists()  # the embedded store is not used

    bot = Assistant(settings)
    answer = bot.ask(PORT_QUESTION)
    assert "Najin" in answer.text and not answer.abstained

    moved = tmp_path / BRITAIN_DOC
    shutil.move(corpus / BRITAIN_DOC, moved)
    removed = bot.ingest()
    assert (removed.removed, removed.unchanged) == (1, 1)
    assert not [c for c in stored_chunks(chroma, "roundtrip") if c["doc_id"] == BRITAIN_DOC]
    assert BRITAIN_DOC not in cited_paths(bot.ask(PORT_QUESTION))

    shutil.move(moved, corpus / BRITAIN_DOC)
    again = bot.ingest()
    assert (again.added, again.chunks) == (1, first.chunks)
    ids = [c["id"] for c in stored_chunks(chroma, "roundtrip")]
    assert len(ids) == len(set(ids)) == first.chunks  # no stale or duplicate chunks
    assert BRITAIN_DOC in cited_paths(bot.ask(PORT_QUESTION))


class Served:
    """`assistant serve` in its own process, over a Chroma server and a local cache of its own."""

    def __init__(self, root: Path, corpus: Path, chroma: ChromaServer) -> None:
        self.log = root / "serve.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--corpus", str(corpus),
                 "--index", str(root / "index"), "--chroma-url", chroma.url],
                cwd=root, stdout=out, stderr=subprocess.STDOUT,
                env=os.environ | {"NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
            )
        wait_for(self.url, self.proc, self.log)

    def ask(self, question: str) -> dict[str, Any]:
        import json

        from gradio_client import Client

        return json.loads(Client(self.url, verbose=False).predict(question, 0, api_name="/ask"))


def test_a_second_process_answers_from_anothers_ingest_and_survives_the_server(
    chroma: ChromaServer, tmp_path: Path
) -> None:
    """Process A (this one) ingests; process B (`assistant serve`, its own cache folder) answers from it on its
    next question. With the Chroma server down, questions fail with a one-line message and B stays up; once the
    server is back (same data folder) both answer again, with every chunk still there."""
    from gradio_client.exceptions import AppError

    from assistant import Assistant
    from assistant.index.ingest import ingest

    corpus = copy_corpus(tmp_path / "corpus")  # the corpus folder both processes see (a shared mount, say)
    settings = settings_for(chroma, tmp_path / "a", corpus)
    ingest(settings, progress=False)
    served = Served(tmp_path, corpus, chroma)
    try:
        before = served.ask(NOTE_QUESTION)
        assert "Vanino" not in before["text"]

        (corpus / NOTE).write_text(NOTE_TEXT, encoding="utf-8")
        bot = Assistant(settings)
        assert bot.ingest().added == 1
        after = served.ask(NOTE_QUESTION)  # no restart, no rescan: B reloads on its next question
        assert "Vanino" in after["text"] and NOTE in {c["path"] for c in after["citations"]}
        chunks = stored_chunks(chroma)

        chroma.stop()
        with pytest.raises(IndexUnreachableError, match=f"Chroma server at {chroma.url} does not answer"):
            bot.ask(PORT_QUESTION)
        with pytest.raises(AppError, match="does not answer"):
            served.ask(PORT_QUESTION)
        assert served.proc.poll() is None
        run = subprocess.run(
            [sys.executable, "-m", "assistant", "ingest", "--corpus", str(corpus), "--index", str(tmp_path / "c"),
             "--chroma-url", chroma.url],
            capture_output=True, text=True, cwd=ROOT, env=os.environ | {"NO_COLOR": "1"},
        )
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert "does not answer" in run.stderr and "Traceback" not in run.stderr

        chroma.start()
        assert stored_chunks(chroma) == chunks  # nothing lost
        assert "Najin" in bot.ask(PORT_QUESTION).text  # the same Assistant reconnects
        assert "Vanino" in served.ask(NOTE_QUESTION)["text"]
    finally:
        stop(served.proc)
