"""The web UI through its API (a real Gradio server on 127.0.0.1, driven by gradio_client) and its parts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
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
