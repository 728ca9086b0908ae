"""The web UI through its API (a real Gradio server on 127.0.0.1, driven by gradio_client) and its parts."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import BRITAIN_DOC, UK_DOC, copy_corpus, write_word_file

from assistant.core.types import Answer, Citation

PORT_QUESTION = "At which port were the Russian ships loaded?"
UPLOAD_LIMIT_MB = 0.05
XSS_DOC = "field-notes.txt"
XSS_TEXT = (
    "Field notes <script>window.__xss = 1; alert(1)</script> on the harbour\n"
    'The harbour master logged <img src=x onerror="window.__xss = 2; alert(2)"> arrivals every morning.\n'
    "A **bold claim**, a [link](javascript:alert(3)), ${alert(4)} and {{value}} stay plain text.\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A real UI server over its own copy of the corpus."""

    def __init__(self, root: Path, credentials: tuple[str, str] | None = None) -> None:
        from assistant import Assistant
        from assistant.ui.app import build_app, launch_options

        self.corpus = copy_corpus(root / "corpus")
        (self.corpus / XSS_DOC).write_text(XSS_TEXT, encoding="utf-8")
        self.bot = Assistant.open(corpus_dir=self.corpus, index_dir=root / "index")
        self.demo = build_app(self.bot, max_upload_mb=UPLOAD_LIMIT_MB)
        options = launch_options("127.0.0.1", free_port(), credentials, UPLOAD_LIMIT_MB)
        _, self.url, _ = self.demo.queue().launch(prevent_thread_lock=True, quiet=True, **options)

    def close(self) -> None:
        self.demo.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("ui"))
    yield running
    running.close()


def client(server: Server, **kwargs: Any) -> Any:
    from gradio_client import Client

    return Client(server.url, verbose=False, **kwargs)


def check_citation(server: Server, citation: dict[str, Any]) -> None:
    document = server.bot.document_text(citation["doc_id"])
    assert document[citation["start"] : citation["end"]] == citation["text"]


# --- API round trips -------------------------------------------------------------------------
def test_ask_endpoint_returns_the_cited_answer(server: Server) -> None:
    answer = json.loads(client(server).predict(PORT_QUESTION, api_name="/ask"))
    assert "Najin" in answer["text"] and not answer["abstained"]
    najin = [c for c in answer["citations"] if "Najin" in c["text"]]
    assert najin and {c["doc_id"] for c in najin} <= {UK_DOC, BRITAIN_DOC}
    for citation in answer["citations"]:
        check_citation(server, citation)
        assert f"[{citation['number']}]" in answer["text"]


def test_chat_follows_up_within_a_session_and_sessions_are_separate(server: Server) -> None:
    first, second = client(server), client(server)
    opening = json.loads(first.predict(PORT_QUESTION, api_name="/chat"))
    assert "Najin" in opening["text"] and opening["done"]
    follow_up = json.loads(first.predict("Which company are they tied to?", api_name="/chat"))
    assert "Oboronlogistika" in follow_up["text"]
    assert PORT_QUESTION in follow_up["standalone_question"]  # resolved against this session's history
    for citation in follow_up["citations"]:
        check_citation(server, citation)
    # "When did that happen?" is about what the last answer said: its passages are the context.
    when = json.loads(first.predict("When did that happen?", api_name="/chat"))
    assert "2022" in when["text"] and follow_up["citations"][0]["text"] in when["standalone_question"]
    # The other session has no history: the same follow-up is taken as it stands.
    alone = json.loads(second.predict("Which company are they tied to?", api_name="/chat"))
    assert alone["standalone_question"] == ""


def test_chat_endpoint_streams_text_before_the_answer(server: Server) -> None:
    job = client(server).submit(PORT_QUESTION, api_name="/chat")
    final = json.loads(job.result())
    outputs = [json.loads(output) for output in job.outputs()]
    assert outputs[0]["done"] is False and final["done"] is True
    assert final["text"].startswith(outputs[0]["text"].strip())


def test_api_reports_bad_questions(server: Server) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="question is empty"):
        client(server).predict("   ", api_name="/ask")


def call_api(url: str, api: str, body: str) -> tuple[str, str]:
    """An API event over plain HTTP with a JSON body as written: (last SSE event, its data)."""
    import httpx

    with httpx.Client(base_url=url, timeout=300) as http:
        sent = http.post(f"gradio_api/call/{api}", content=body, headers={"content-type": "application/json"})
        stream = http.get(f"gradio_api/call/{api}/{sent.json()['event_id']}").text
    event, data = stream.strip().split("\n")[-2:]
    return event.removeprefix("event: "), data


def test_api_refuses_invisible_and_broken_questions_and_goes_on(server: Server) -> None:
    from gradio_client.exceptions import AppError

    session = client(server)
    assert "Najin" in json.loads(session.predict(PORT_QUESTION, api_name="/chat"))["text"]
    for api in ["/ask", "/chat"]:
        for question in ["\u200b\u200d", "\x01\x02\x03"]:  # not the previous answer again: an error
            with pytest.raises(AppError, match="only invisible or control characters"):
                session.predict(question, api_name=api)
    # A JSON client may send a lone surrogate ("\udcff"): not text, refused in one line.
    event, data = call_api(server.url, "ask", '{"data": ["Which port \\udcff ships?", 0]}')
    assert event == "error" and "not valid UTF-8" in data
    hidden = json.loads(session.predict("Which com\u200dpany are they tied to?", api_name="/chat"))
    assert "Oboronlogistika" in hidden["text"]  # the server is up and the session's history intact


def test_login_is_required_when_auth_is_set(tmp_path: Path) -> None:
    from gradio_client.exceptions import AuthenticationError

    guarded = Server(tmp_path, credentials=("reader", "s3cret-pass"))
    try:
        with pytest.raises(AuthenticationError):
            client(guarded)
        with pytest.raises(ValueError, match="Could not login"):
            client(guarded, auth=("reader", "wrong"))
        answer = json.loads(client(guarded, auth=("reader", "s3cret-pass")).predict(PORT_QUESTION, api_name="/ask"))
        assert "Najin" in answer["text"]
    finally:
        guarded.close()


# --- corpus changes through the API --------------------------------------------------------------
def test_upload_ask_and_delete_a_document(server: Server, tmp_path: Path) -> None:
    from gradio_client import handle_file

    note = tmp_path / "sorrel ferry notes.md"
    note.write_text("# Sorrel ferry\n\nThe ferry to the island of Sorrel leaves at seven o'clock from pier nine.\n")
    api = client(server)
    status = api.predict([handle_file(str(note))], api_name="/upload")[0]
    assert "added sorrel_ferry_notes.md" in status
    assert (server.corpus / "sorrel_ferry_notes.md").is_file()
    answer = json.loads(api.predict("From which pier does the ferry to Sorrel leave?", api_name="/ask"))
    assert "pier nine" in answer["text"]
    assert answer["citations"][0]["doc_id"] == "sorrel_ferry_notes.md"

    status = api.predict("sorrel_ferry_notes.md", api_name="/delete")[0]
    assert "deleted sorrel_ferry_notes.md" in status
    assert not (server.corpus / "sorrel_ferry_notes.md").exists()
    assert "sorrel_ferry_notes.md" not in {d["path"] for d in server.bot.list_documents()}


def test_word_upload_is_indexed_and_a_broken_one_refused(server: Server, tmp_path: Path) -> None:
    from gradio_client import handle_file

    good, broken = tmp_path / "Port calls.docx", tmp_path / "broken.docx"
    write_word_file(good)
    broken.write_bytes(b"PK\x03\x04 not really a Word file")
    api = client(server)
    status = api.predict([handle_file(str(good)), handle_file(str(broken))], api_name="/upload")[0]
    assert "added Port_calls.docx" in status
    assert "broken.docx" in status and "broken Word file" in status and not (server.corpus / "broken.docx").exists()
    answer = json.loads(api.predict("Where did the Maria sail afterwards?", api_name="/ask"))
    assert "Vostochny" in answer["text"] and answer["citations"][0]["doc_id"] == "Port_calls.docx"
    assert "deleted Port_calls.docx" in api.predict("Port_calls.docx", api_name="/delete")[0]


def test_disallowed_and_broken_uploads_are_refused_with_a_message(server: Server, tmp_path: Path) -> None:
    from gradio_client import handle_file

    before = sorted(p.name for p in server.corpus.iterdir())
    evil = tmp_path / "evil.exe"
    evil.write_bytes(b"MZ not a document")
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    status = client(server).predict([handle_file(str(evil)), handle_file(str(empty))], api_name="/upload")[0]
    assert "type .exe is not allowed" in status
    assert "empty.txt" in status and "empty" in status
    assert sorted(p.name for p in server.corpus.iterdir()) == before


def test_documents_table_counts_chunks(server: Server) -> None:
    from assistant.ui.corpus import chunk_counts
    from assistant.ui.render import documents_table

    counts = chunk_counts(server.bot)
    assert sum(counts.values()) == server.bot.index.manifest()["chunks"]
    assert set(counts) == {doc["doc_id"] for doc in server.bot.list_documents()}
    table = documents_table(server.bot.list_documents(), counts)
    assert "2024-01-22" in table and f'<td class="num">{counts[UK_DOC]}</td>' in table
    assert "&lt;script&gt;" in table and "<script>" not in table


def test_delete_refuses_unknown_paths(server: Server) -> None:
    status = client(server).predict("../../etc/passwd", api_name="/delete")[0]
    assert "is not a document of this corpus" in status
    assert len(server.bot.list_documents()) == 3


# --- where uploads may come from -----------------------------------------------------------------
SECRET = "# Vault notes\n\nThe vault under the old customs house opens with the code 4417.\n"


def post_upload(server: Server, name: str, data: bytes) -> Any:
    """POST /gradio_api/upload, as the browser does before it names the file in an event."""
    import httpx

    return httpx.post(f"{server.url}gradio_api/upload", files=[("files", (name, data))], timeout=60)


def call_upload(url: str, paths: list[str], cookies: Any = None) -> tuple[str, str]:
    """The /upload event over plain HTTP, naming files by path: (last SSE event, its data)."""
    import httpx

    files = [{"path": path, "meta": {"_type": "gradio.FileData"}} for path in paths]
    with httpx.Client(base_url=url, cookies=cookies, timeout=300) as http:
        event_id = http.post("gradio_api/call/upload", json={"data": [files]}).json()["event_id"]
        stream = http.get(f"gradio_api/call/upload/{event_id}").text
    event, data = stream.strip().split("\n")[-2:]
    return event.removeprefix("event: "), data


@pytest.fixture
def stray(server: Server) -> Iterator[Path]:
    """A folder inside Gradio's upload cache that no upload made, as another app sharing the cache would."""
    folder = Path(server.demo.GRADIO_CACHE) / f"not-an-upload-{os.getpid()}"
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder)


def test_api_upload_takes_only_files_sent_to_this_server(server: Server, tmp_path: Path, stray: Path) -> None:
    secret = tmp_path / "vault-notes.md"
    secret.write_text(SECRET)
    (stray / "planted.md").write_text(SECRET)
    (stray / "link.md").symlink_to(secret)
    genuine = post_upload(server, "harbour notes.md", b"# Harbour\n\nThe harbour office closes at noon on Fridays.\n")
    genuine_path = genuine.json()[0]
    cache = Path(server.demo.GRADIO_CACHE)
    before = sorted(p.name for p in server.corpus.iterdir())

    # Gradio refuses what does not resolve inside its upload folder, `..` and symlinks resolved first.
    for outside in (str(secret), os.path.relpath(secret), f"{cache}/../../{secret}", str(stray / "link.md")):
        event, data = call_upload(server.url, [outside])
        assert event == "error" and "it was not uploaded by a user" in data, (outside, data)
    # Inside it, only what this server received through its upload route is taken.
    for unsent in (str(stray / "planted.md"), f"{Path(genuine_path).parent}/../{stray.name}/planted.md"):
        event, data = call_upload(server.url, [unsent])
        assert event == "complete" and "did not arrive through this server&#x27;s upload" in data, (unsent, data)
        assert 'status ok' not in data  # no "added" line
    assert sorted(p.name for p in server.corpus.iterdir()) == before
    assert "4417" not in json.dumps([server.bot.document_text(d["doc_id"]) for d in server.bot.list_documents()])

    # A genuine upload, named beside a refused one, goes in; the other is reported.
    event, data = call_upload(server.url, [str(stray / "planted.md"), genuine_path])
    assert event == "complete" and "added harbour_notes.md" in data and "did not arrive" in data
    assert (server.corpus / "harbour_notes.md").read_bytes() == Path(genuine_path).read_bytes()
    assert Path(genuine_path).is_relative_to(cache)
    assert "deleted harbour_notes.md" in client(server).predict("harbour_notes.md", api_name="/delete")[0]


def test_gradio_client_uploads_the_file_it_names(server: Server, tmp_path: Path) -> None:
    """The issue's repro: gradio_client reads a path it is given on *its* side and POSTs the bytes.

    The server reads nothing of its own: what reaches the corpus is a copy of what arrived over HTTP.
    """
    secret = tmp_path / "vault-notes.md"
    secret.write_text(SECRET)
    api = client(server)
    status = api.predict([{"path": str(secret), "meta": {"_type": "gradio.FileData"}}], api_name="/upload")[0]
    assert "added vault-notes.md" in status
    arrived = [Path(p) for p in server.demo.upload_file_set if Path(p).name == "vault-notes.md"]
    assert arrived and arrived[0].is_relative_to(Path(server.demo.GRADIO_CACHE).resolve())
    assert arrived[0].read_text() == SECRET
    assert "deleted vault-notes.md" in api.predict("vault-notes.md", api_name="/delete")[0]

    # A URL is the one path gradio_client does not upload: the server does not fetch local addresses.
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="failed validation"):
        api.predict([{"path": f"{server.url}gradio_api/file={arrived[0]}", "meta": {"_type": "gradio.FileData"}}],
                    api_name="/upload")


def test_upload_named_with_folders_lands_inside_the_corpus(server: Server) -> None:
    sent = post_upload(server, "../../evil.txt", b"The evil note says the harbour lights fail at dusk.\n")
    assert sent.status_code == 200
    event, data = call_upload(server.url, sent.json())
    assert event == "complete" and "added evil.txt" in data
    assert (server.corpus / "evil.txt").is_file()
    assert not (server.corpus.parent.parent / "evil.txt").exists()
    assert not (Path(server.demo.GRADIO_CACHE).parent / "evil.txt").exists()
    assert "deleted evil.txt" in client(server).predict("evil.txt", api_name="/delete")[0]


def test_oversized_upload_is_refused_over_http(server: Server) -> None:
    before = sorted(p.name for p in server.corpus.iterdir())
    sent = post_upload(server, "big.txt", b"word " * int(UPLOAD_LIMIT_MB * 1024 * 1024 / 4))
    assert sent.status_code == 413 and "maximum allowed size" in sent.text
    assert sorted(p.name for p in server.corpus.iterdir()) == before


def test_upload_guard_resolves_links_and_dots(tmp_path: Path) -> None:
    from assistant.ui.corpus import UploadError
    from assistant.ui.uploads import UploadGuard

    cache, outside = tmp_path / "cache", tmp_path / "outside.md"
    (cache / "abc").mkdir(parents=True)
    outside.write_text(SECRET)
    upload = cache / "abc" / "notes.md"
    upload.write_text("# Notes\n")
    fifo = cache / "abc" / "pipe.md"
    os.mkfifo(fifo)
    guard = UploadGuard({str(upload), str(fifo)}, cache)
    assert guard.check(f"{cache}/abc/../abc/notes.md") == upload.resolve()
    with pytest.raises(UploadError, match="did not arrive"):
        guard.check(str(fifo))  # not a regular file
    upload.unlink()
    upload.symlink_to(outside)  # a received upload swapped for a link out of the cache
    uploads, refused = guard.sort([str(upload), str(outside)])
    assert uploads == [] and len(refused) == 2


# --- a real `assistant serve --auth` --------------------------------------------------------------
CREDENTIALS = ("reader", "s3cret-pass")


@dataclass
class Served:
    url: str
    cwd: Path  # the server process's working folder
    corpus: Path


@pytest.fixture(scope="module")
def served(shipped: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`assistant serve --auth USER:PASS` in its own process and working folder, over a copy of the shipped index."""
    import httpx

    root = tmp_path_factory.mktemp("served")
    corpus, index, cwd = root / "corpus", root / "index", root / "server"
    shutil.copytree(shipped["corpus_dir"], corpus)
    shutil.copytree(shipped["index_dir"], index)
    cwd.mkdir()
    port = free_port()
    with open(root / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--corpus", str(corpus), "--index",
             str(index), "--auth", ":".join(CREDENTIALS)],
            cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"NO_COLOR": "1"},
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):  # a bound, not a speed claim
            assert proc.poll() is None, (root / "server.log").read_text()
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"the server did not answer: {(root / 'server.log').read_text()}")
        yield Served(url, cwd, corpus)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_relative_paths_are_read_on_the_callers_side(served: Served, tmp_path: Path, monkeypatch: Any) -> None:
    """`notes.md` means the caller's file to gradio_client, which uploads it; the server never opens its own."""
    import httpx
    from gradio_client import Client

    (served.cwd / "notes.md").write_text("# Notes\n\nThe server's own copy says the ferry leaves from pier two.\n")
    (tmp_path / "notes.md").write_text("# Notes\n\nThe caller's copy says the ferry leaves from pier one.\n")
    monkeypatch.chdir(tmp_path)
    api = Client(served.url, auth=CREDENTIALS, verbose=False)
    status = api.predict([{"path": "notes.md", "meta": {"_type": "gradio.FileData"}}], api_name="/upload")[0]
    assert "added notes.md" in status
    assert "pier one" in (served.corpus / "notes.md").read_text()
    assert "deleted notes.md" in api.predict("notes.md", api_name="/delete")[0]

    cookies = httpx.post(f"{served.url}login", data=dict(zip(("username", "password"), CREDENTIALS))).cookies
    for path in ("notes.md", "../server/notes.md", str(served.cwd / "notes.md")):
        event, data = call_upload(served.url, [path], cookies)
        assert event == "error" and "not uploaded by a user" in data, (path, data)
    assert not (served.corpus / "notes.md").exists()


def test_failed_logins_back_off_per_client_address(served: Served) -> None:
    import httpx

    from assistant.ui.login import FIRST_WAIT_S, FREE_FAILURES

    right = dict(zip(("username", "password"), CREDENTIALS))
    wrong = right | {"password": "wrong"}
    other_address = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=served.url) as here, httpx.Client(base_url=served.url, transport=other_address) as there:
        started = time.monotonic()
        replies = [(here.post("login", data=wrong), time.monotonic()) for _ in range(30)]
        elapsed = time.monotonic() - started
        codes = [reply.status_code for reply, _ in replies]
        assert codes[:FREE_FAILURES] == [400] * FREE_FAILURES and set(codes) == {400, 429}
        # Each further password check needs the previous wait (1 s, 2 s, 4 s, …) to have passed.
        assert codes.count(400) <= FREE_FAILURES + 1 + math.log2(elapsed / FIRST_WAIT_S + 1), (codes, elapsed)
        fifth, sixth = replies[FREE_FAILURES - 1][1], replies[FREE_FAILURES][1]
        assert codes[FREE_FAILURES] == 429 or sixth - fifth >= FIRST_WAIT_S
        refused = next(reply for reply, _ in replies if reply.status_code == 429)
        assert "too many failed sign-ins from this address" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1

        # Another address is not held back, and keeps its own count.
        assert there.post("login", data=right).status_code == 200
        assert there.post("login", data=wrong).status_code == 400

        # The held-back address gets in with the right password once its wait is over; that resets its count.
        for _ in range(20):
            reply = here.post("login", data=right)
            if reply.status_code != 429:
                break
            time.sleep(int(reply.headers["retry-after"]))
        assert reply.status_code == 200
        assert here.post("login", data=wrong).status_code == 400


def test_login_throttle_waits_double_up_to_a_cap() -> None:
    from assistant.ui.login import FIRST_WAIT_S, FREE_FAILURES, MAX_WAIT_S, LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(app=None, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(FREE_FAILURES - 1):
        throttle.attempt("10.0.0.1")
        assert throttle.wait("10.0.0.1") == 0
    waits = []
    for _ in range(12):
        throttle.attempt("10.0.0.1")
        waits.append(throttle.wait("10.0.0.1"))
        now[0] += waits[-1]
    assert waits[:4] == [FIRST_WAIT_S, 2 * FIRST_WAIT_S, 4 * FIRST_WAIT_S, 8 * FIRST_WAIT_S]
    assert max(waits) == MAX_WAIT_S
    assert throttle.wait("10.0.0.2") == 0


# --- upload checks ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/cron.d/evil.txt", "evil.txt"),
        ("..\\..\\windows\\report.md", "report.md"),
        (".hidden.html", "hidden.html"),
        ("Résumé (final) <v2>.PDF", "Resume_final_v2.pdf"),
        ("notes.htm", "notes.htm"),
    ],
)
def test_upload_names_are_sanitised(sent: str, kept: str) -> None:
    from assistant.ui.corpus import safe_name

    assert safe_name(sent) == kept


@pytest.mark.parametrize("sent", ["evil.exe", "archive.tar.gz", "notes.meta.toml", "...", "noext", "../.txt"])
def test_unusable_upload_names_are_refused(sent: str) -> None:
    from assistant.ui.corpus import UploadError, safe_name

    with pytest.raises(UploadError):
        safe_name(sent)


def test_oversized_upload_is_refused(tmp_path: Path) -> None:
    from assistant.ui.corpus import UploadError, check_upload

    big = tmp_path / "big.txt"
    big.write_text("word " * 30_000)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(UploadError, match="over the 0.1 MB limit"):
        check_upload(big, "big.txt", corpus, max_bytes=int(0.1 * 1024 * 1024))
    assert not any(corpus.iterdir())


# --- binding -------------------------------------------------------------------------------------
def test_non_loopback_bind_without_auth_is_refused(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--host", "0.0.0.0", "--corpus", str(tmp_path), "--index",
         str(tmp_path / "index")],
        capture_output=True, text=True, timeout=120, env=os.environ | {"NO_COLOR": "1"},
    )
    assert run.returncode == 2
    assert "refusing to serve on 0.0.0.0 without a login" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "index").exists()  # refused before any work


def test_serve_syncs_the_corpus_folder_at_start(tmp_path: Path) -> None:
    """A file added to the folder while the server was down is indexed when `assistant serve` starts."""
    from assistant.core.config import load_settings
    from assistant.index.ingest import ingest

    corpus = copy_corpus(tmp_path / "corpus")
    ingest(load_settings(corpus_dir=corpus, index_dir=tmp_path / "index"), progress=False)
    (corpus / "note.md").write_text("# Port note\n\nThe ferry Amur called at the port of Vanino in March.\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--corpus", str(corpus), "--index",
         str(tmp_path / "index")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=os.environ | {"NO_COLOR": "1"},
    )
    try:
        assert proc.stderr is not None
        lines = [proc.stderr.readline()]
        while lines[-1] and " added, " not in lines[-1] and len(lines) < 100:
            lines.append(proc.stderr.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert lines[0].startswith("Syncing the index"), lines
    assert lines[-1].startswith("1 added, 0 updated, 0 removed, 2 unchanged"), lines


def test_bind_rules() -> None:
    from assistant.core.errors import ConfigError
    from assistant.ui.bind import check_bind

    warnings: list[str] = []
    assert check_bind("127.0.0.1", None, False, warnings.append) is None
    assert check_bind("::1", None, False, warnings.append) is None
    assert check_bind("localhost", None, False, warnings.append) is None
    assert check_bind("0.0.0.0", "ann:pw", False, warnings.append) == ("ann", "pw")
    assert not warnings
    for host in ("0.0.0.0", "192.168.1.5", "example.org"):
        with pytest.raises(ConfigError, match="--auth USER:PASS"):
            check_bind(host, None, False, warnings.append)
    assert check_bind("0.0.0.0", None, True, warnings.append) is None
    assert warnings and "WITHOUT a login" in warnings[0]
    with pytest.raises(ConfigError, match="USER:PASS"):
        check_bind("127.0.0.1", "no-colon", False, warnings.append)


# --- rendering -----------------------------------------------------------------------------------
def citation(number: int, text: str, start: int) -> Citation:
    return Citation(number, "doc.txt", "<b>Title</b>", "doc.txt", "", "2024-01-22", text, start, start + len(text))


def test_answer_html_escapes_text_and_links_markers() -> None:
    from assistant.ui.render import answer_html

    answer = Answer(
        question="q",
        text="It was <img src=x onerror=alert(1)> at Najin [1]. An invented claim. Also [2].",
        unsupported=["[7]: no such source (the prompt had 2)", "no citation: An invented claim.", "no citation: invented"],
    )
    html = answer_html(answer.text, 3, answer)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'class="cite cite-3-1"' in html and 'class="cite cite-3-2"' in html
    assert '<span class="unsupported" title="No source supports this">⚠ An invented claim.</span>' in html
    assert html.count("class=\"unsupported\"") == 1  # a piece of a flagged sentence is not flagged again
    assert "cite no source" in html and "Citation check: [7]: no such source" in html


def test_sources_show_the_cited_sentence_inside_its_paragraph() -> None:
    from assistant.ui.render import document_html, sources_html, span_for

    document = "Intro line.\nFirst sentence here. The <cited> one at Najin. Last one.\nNext paragraph."
    cited = "The <cited> one at Najin."
    start = document.index(cited)
    answer = Answer(question="Where?", text=f"{cited} [1].", citations=[citation(1, cited, start)])
    panel = sources_html(answer, 0, {"doc.txt": document}, ("cite", 1))
    assert "First sentence here. <mark>The &lt;cited&gt; one at Najin.</mark> Last one." in panel
    assert "Next paragraph" not in panel and "Intro line" not in panel
    assert "&lt;b&gt;Title&lt;/b&gt;" in panel and "2024-01-22" in panel and "doc.txt" in panel
    assert 'class="src active"' in panel
    view = document_html(span_for(answer, "cite", 1), document, 1)
    assert '<mark id="passage">The &lt;cited&gt; one at Najin.</mark>' in view and "Next paragraph." in view
    assert "p. " not in panel  # a text file has no pages; a PDF's citation says which
    paged = Answer(question="Where?", text=f"{cited} [1].", citations=[replace(citation(1, cited, start), page=4)])
    assert "doc.txt · p. 4" in sources_html(paged, 0, {"doc.txt": document}, ("cite", 1))


def test_abstentions_offer_related_reading_not_citations() -> None:
    from assistant.core.types import Passage
    from assistant.ui.render import answer_html, sources_html

    passage = Passage("n1", "doc.txt", "Title", "doc.txt", "", "", "Some related text.", 0, 18)
    answer = Answer(question="Capital of France?", text="The corpus does not answer this question.", abstained=True,
                    retrieved=[passage])
    panel = sources_html(answer, 0, {"doc.txt": "Some related text."})
    assert "Related reading (not citations)" in panel and "related" in panel and "<mark>" not in panel
    assert "not as citations" in answer_html(answer.text, 0, answer)


def test_answer_mode_per_question(server: Server) -> None:
    """The UI's mode choice goes to the one Assistant: an unavailable mode is a clear error, extractive always runs."""
    from assistant.core.errors import QuestionError

    bot = server.bot
    assert bot.ask("At which port were the ships loaded?", mode="extractive").mode == "extractive"
    with pytest.raises(QuestionError, match="not available"):
        bot.ask("At which port were the ships loaded?", mode="telepathy")
