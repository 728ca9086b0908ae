"""The index on a real Chroma server (`chroma run` on 127.0.0.1), shared by two app processes: ingest, ask, delete
and re-ingest through it; a second process (`assistant serve`, driven by gradio_client) that follows another's
ingests; an ingest killed half way, which a joining process leaves out and the next ingest redoes; the server
going down and coming back."""

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
from conftest import BRITAIN_DOC, ROOT, UK_DOC, copy_corpus, free_port, stop

from assistant.core.errors import ConfigError, IndexUnreachableError
from assistant.index.phases import PAUSE_AT, PAUSED

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


def cached_chunk_ids(index: Path) -> list[str]:
    """The chunk ids of the generation a process's cache folder has committed."""
    from assistant.index.store import IndexDir
    from assistant.index.vectors import load_chunk_ids

    (cache,) = (index / "servers").iterdir()
    ids = load_chunk_ids(IndexDir(cache).current().folder)
    assert ids is not None
    return ids


def cli(*args: str, chroma: ChromaServer, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args, "--chroma-url", chroma.url], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ | {"NO_COLOR": "1"} | (env or {}),
    )


def one_line_failure(process: subprocess.Popen[str]) -> str:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


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
    """`assistant serve` in its own process, over a Chroma server and a cache folder of its own."""

    def __init__(self, root: Path, corpus: Path, chroma: ChromaServer) -> None:
        self.log = root / "serve.log"
        root.mkdir(parents=True, exist_ok=True)
        self.index = root / "index"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--corpus", str(corpus),
                 "--index", str(self.index), "--chroma-url", chroma.url],
                cwd=root, stdout=out, stderr=subprocess.STDOUT,
                env=os.environ | {"NO_COLOR": "1", "PYTHONPATH": str(ROOT)},
            )
        wait_for(self.url, self.proc, self.log)

    def ask(self, question: str) -> dict[str, Any]:
        import json

        from gradio_client import Client

        return json.loads(Client(self.url, verbose=False).predict(question, 0, api_name="/ask"))

    def cited(self, question: str) -> set[str]:
        return {citation["path"] for citation in self.ask(question)["citations"]}


def test_a_second_process_follows_anothers_ingests_and_survives_the_server(
    chroma: ChromaServer, tmp_path: Path
) -> None:
    """Process A (this one) ingests; process B (`assistant serve`, its own cache folder) answers from each of A's
    commits at its next question, with exactly the server's chunks. With the Chroma server down, B answers from
    the last commit it read and stays up, while an ingest or a new process fails with one line; once the server
    is back (same data folder), nothing is lost and both carry on."""
    from assistant import Assistant
    from assistant.index.ingest import ingest

    corpus = copy_corpus(tmp_path / "corpus")  # the corpus folder both processes see (a shared mount, say)
    settings = settings_for(chroma, tmp_path / "a", corpus)
    ingest(settings, progress=False)
    served = Served(tmp_path / "b", corpus, chroma)
    try:
        assert NOTE not in served.cited(NOTE_QUESTION)

        (corpus / NOTE).write_text(NOTE_TEXT, encoding="utf-8")
        bot = Assistant(settings)
        assert bot.ingest().added == 1
        after = served.ask(NOTE_QUESTION)  # no restart, no rescan: B reloads at its next question
        assert "Vanino" in after["text"] and NOTE in {c["path"] for c in after["citations"]}
        ids = sorted(c["id"] for c in stored_chunks(chroma))
        assert sorted(cached_chunk_ids(served.index)) == ids  # no stale or duplicate chunks

        (corpus / NOTE).unlink()
        assert bot.ingest().removed == 1
        assert NOTE not in served.cited(NOTE_QUESTION)
        ids = sorted(c["id"] for c in stored_chunks(chroma))
        assert sorted(cached_chunk_ids(served.index)) == ids and not [i for i in ids if i.startswith(NOTE)]

        chroma.stop()
        (corpus / NOTE).write_text(NOTE_TEXT, encoding="utf-8")
        with pytest.raises(IndexUnreachableError, match=f"Chroma server at {chroma.url} does not answer"):
            bot.ingest()
        assert "Najin" in served.ask(PORT_QUESTION)["text"]  # B answers from the last commit it read
        assert served.proc.poll() is None
        assert "does not answer" in one_line_failure(
            cli("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "c"), chroma=chroma)
        )
        assert "does not answer" in one_line_failure(
            cli("ask", PORT_QUESTION, "--corpus", str(corpus), "--index", str(tmp_path / "c"), chroma=chroma)
        )

        chroma.start()
        assert sorted(c["id"] for c in stored_chunks(chroma)) == ids  # nothing lost
        assert bot.ingest().added == 1  # the same Assistant reconnects
        assert NOTE in served.cited(NOTE_QUESTION)  # and so does B
        assert sorted(cached_chunk_ids(served.index)) == sorted(c["id"] for c in stored_chunks(chroma))
    finally:
        stop(served.proc)


def test_an_ingest_killed_half_way_is_left_out_by_a_joining_process_and_redone(
    chroma: ChromaServer, tmp_path: Path
) -> None:
    """An ingest through the server is killed once the server holds a changed document's new chunks but not its
    commit. A process joining then answers from the last commit without that document (its chunks are half
    new), never from a mix; the next ingest redoes it and every process sees it again."""
    from assistant import Assistant
    from assistant.index.ingest import ingest

    corpus = copy_corpus(tmp_path / "corpus")
    ingest(settings_for(chroma, tmp_path / "a", corpus, chroma_collection="killed"), progress=False)
    text = (corpus / UK_DOC).read_text(encoding="utf-8")
    (corpus / UK_DOC).write_text(text.replace("Najin", "Chongjin"), encoding="utf-8")
    killed = cli("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "a" / "index"), chroma=chroma,
                 env={"ASSISTANT_CHROMA_COLLECTION": "killed", PAUSE_AT: "chroma"})
    try:
        assert killed.stderr is not None
        for line in killed.stderr:
            if line.startswith(PAUSED):
                break
        else:
            pytest.fail("the ingest ended before its pause")
    finally:
        killed.kill()
        killed.wait()

    joining = Assistant(settings_for(chroma, tmp_path / "b", corpus, chroma_collection="killed"))
    assert UK_DOC not in joining.documents and UK_DOC not in set(joining.retriever.doc_ids)
    assert BRITAIN_DOC in set(joining.retriever.doc_ids)
    assert UK_DOC not in cited_paths(joining.ask(PORT_QUESTION))

    redo = Assistant(settings_for(chroma, tmp_path / "a", corpus, chroma_collection="killed")).ingest()
    assert redo.redone == 1 and redo.updated + redo.added == 1, redo
    ids = [c["id"] for c in stored_chunks(chroma, "killed")]
    assert len(ids) == len(set(ids)) == redo.chunks
    joining.ask(PORT_QUESTION)  # follows the commit
    assert UK_DOC in set(joining.retriever.doc_ids) and "Chongjin" in joining.document_text(UK_DOC)
    assert sorted(cached_chunk_ids(tmp_path / "b" / "index")) == sorted(ids)
