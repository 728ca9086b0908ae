"""Reading an index that others write or nobody may write: a read-only mount, a server while the CLI ingests,
a damaged Chroma database. Real CLI and server processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, copy_corpus

PORT_QUESTION = "At which port were the Russian ships loaded?"
NEW_DOC = "tug-report.txt"
NEW_TEXT = "Tug report\n\nThe harbour tug Mandarin towed the dredger Pelican to berth 47 on Tuesday morning.\n"
NEW_QUESTION = "Which dredger did the tug Mandarin tow?"


def run(*args: str, prefix: tuple[str, ...] = (), timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "assistant", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Path, Path]:
    corpus, index = copy_corpus(tmp_path / "corpus"), tmp_path / "index"
    result = run("ingest", "--corpus", str(corpus), "--index", str(index))
    assert result.returncode == 0, result.stderr
    return corpus, index


# --- a read-only index -----------------------------------------------------------------------
def read_only(folder: Path) -> tuple[str, ...]:
    """A command prefix that runs the command with `folder` bind-mounted read-only (in a private mount
    namespace of an unprivileged user namespace), after checking that a write there really fails. Skips when
    this machine cannot make one: as root, a chmod would not stop writes."""
    script = (
        'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" || exit 96; '
        'if touch "$1/.probe" 2>/dev/null; then exit 97; fi; shift; exec "$@"'
    )
    prefix = ("unshare", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(folder))
    if shutil.which("unshare") is None or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a read-only mount here (unshare --map-root-user --mount is not allowed)")
    return prefix


def test_read_only_index_answers_and_ingest_says_read_only(built: tuple[Path, Path]) -> None:
    corpus, index = built
    prefix = read_only(index)
    where = ("--corpus", str(corpus), "--index", str(index))

    asked = run("ask", PORT_QUESTION, *where, "--json", prefix=prefix)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout.strip().splitlines()[-1])
    assert "Najin" in answer["text"] and answer["citations"]

    status = run("status", *where, "--json", prefix=prefix)
    assert status.returncode == 0 and json.loads(status.stdout)["chunks"] > 0

    (corpus / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")  # something to write
    refused = run("ingest", *where, prefix=prefix)
    assert refused.returncode == 2
    message = refused.stderr.strip()
    assert "read-only" in message and "\n" not in message and "rebuild" not in message and "Traceback" not in message


def test_read_only_index_is_served(built: tuple[Path, Path]) -> None:
    corpus, index = built
    with serving(corpus, index, read_only(index)) as (url, server):
        answer = ask(url, PORT_QUESTION)
        assert "Najin" in answer["text"] and answer["citations"]
    log = server.stderr.read() if server.stderr else ""
    assert "read-only" in log and "rebuild" not in log


# --- a server while the CLI ingests ----------------------------------------------------------
class serving:
    """`assistant serve` in a subprocess on a free port, until the block ends."""

    def __init__(self, corpus: Path, index: Path, prefix: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "assistant", "serve", "--corpus", str(corpus), "--index", str(index),
             "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_PROXY": "*"},
        )

    def __enter__(self) -> tuple[str, subprocess.Popen[str]]:
        url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server ended: {self.process.stderr.read() if self.process.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return url, self.process
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        pytest.fail("the server did not start within 300 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def client(url: str):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    return Client(url, verbose=False)


def ask(url: str, question: str) -> dict:  # type: ignore[type-arg]
    return json.loads(client(url).predict(question, api_name="/ask"))


def cited_docs(answer: dict) -> set[str]:  # type: ignore[type-arg]
    return {citation["doc_id"] for citation in answer["citations"]}


@pytest.fixture()
def server(built: tuple[Path, Path]) -> Iterator[tuple[Path, Path, str]]:
    corpus, index = built
    with serving(corpus, index) as (url, _):
        yield corpus, index, url


def test_server_sees_what_the_cli_ingested(server: tuple[Path, Path, str]) -> None:
    corpus, index, url = server
    assert NEW_DOC not in cited_docs(ask(url, NEW_QUESTION))

    # Re-scan after a CLI ingest: the server takes the new generation, nothing to do, no "corrupt".
    (corpus / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    assert run("ingest", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    status = client(url).predict(api_name="/rescan")[0]
    assert "0 added, 0 updated, 0 removed, 3 unchanged" in status and "corrupt" not in status
    answer = ask(url, NEW_QUESTION)
    assert "Pelican" in answer["text"] and NEW_DOC in cited_docs(answer)

    # Without a re-scan: the next answer comes from the generation the CLI committed.
    (corpus / NEW_DOC).write_text(NEW_TEXT.replace("Pelican", "Heron"), encoding="utf-8")
    assert run("ingest", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    answer = ask(url, NEW_QUESTION)
    assert "Heron" in answer["text"] and "Pelican" not in answer["text"]
    status = client(url).predict(api_name="/rescan")[0]
    assert "0 added, 0 updated, 0 removed, 3 unchanged" in status and "corrupt" not in status


# --- a damaged Chroma database ---------------------------------------------------------------
def test_corrupt_chroma_database_during_ingest_is_one_line(built: tuple[Path, Path]) -> None:
    corpus, index = built
    database = index / "chroma" / "chroma.sqlite3"
    database.write_bytes(b"not a database " * 4096)
    (corpus / NEW_DOC).write_text(NEW_TEXT, encoding="utf-8")
    result = run("ingest", "--corpus", str(corpus), "--index", str(index))
    assert result.returncode == 2
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert "Chroma database" in message and "--rebuild" in message
    # Questions never read Chroma: the committed generation still answers.
    asked = run("ask", PORT_QUESTION, "--corpus", str(corpus), "--index", str(index), "--json")
    assert asked.returncode == 0 and "Najin" in json.loads(asked.stdout.strip().splitlines()[-1])["text"]
