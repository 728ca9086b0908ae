"""Ingest with the real embedding model into a real Chroma store on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import BRITAIN_DOC, ROOT, UK_DOC, copy_corpus, write_word_file

from assistant.app.assistant import Assistant
from assistant.core.config import load_settings
from assistant.core.errors import CorpusError, IndexBusyError, IndexMismatchError
from assistant.corpus.documents import load_corpus
from assistant.index.ingest import ingest
from assistant.index.keyword import TERMS, all_chunks, load_term_stats
from assistant.index.store import IndexDir

MULTIHOP = ROOT.parent / "shared" / "benchmarks" / "multihop-rag" / "corpus.json"


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=600,
    )


def chunks_by_doc(index_dir: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in all_chunks(IndexDir(index_dir)):
        out.setdefault(node.metadata["doc_id"], []).append(node.text)
    return out


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return copy_corpus(tmp_path / "corpus")


def test_shipped_corpus_then_rerun_embeds_nothing(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["added"] == 2 and summary["unchanged"] == 0 and summary["chunks"] > 2

    stored = chunks_by_doc(index)
    assert set(stored) == {UK_DOC, BRITAIN_DOC}
    for node in all_chunks(IndexDir(index)):
        text = (corpus / node.metadata["path"]).read_text(encoding="utf-8")
        assert text[node.metadata["start"] : node.metadata["end"]] == node.text
        assert "Najin" not in node.metadata["header"] or "Najin" in node.metadata["title"]

    changed = cli("ingest", "--corpus", str(corpus), "--index", str(index), env={"ASSISTANT_EMBED_MODEL": "other-model"})
    assert changed.returncode == 2 and "assistant ingest --rebuild" in changed.stderr

    again = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json")
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert (summary["added"], summary["updated"], summary["removed"], summary["unchanged"]) == (0, 0, 0, 2)
    assert summary["chunks"] == sum(len(v) for v in stored.values())


def test_rerun_does_not_embed(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.index.ingest as ingest_module

    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    ingest(settings, progress=False)

    def no_embedding(*args: object) -> None:
        raise AssertionError("an unchanged corpus must not be embedded again")

    monkeypatch.setattr(ingest_module, "load_embed_model", no_embedding)
    monkeypatch.setattr(ingest_module, "load_passage_model", no_embedding)
    report = ingest(settings, progress=False)
    assert (report.added, report.unchanged) == (0, 2)

    # Term counts from an older tokenizer (before "grew" counted as "grow") are counted again, not embedded.
    terms = IndexDir(settings.index_dir).current().folder / TERMS
    fresh = json.loads(terms.read_text(encoding="utf-8"))
    old = {"chunks": fresh["chunks"], "df": {**fresh["df"], "stale": 1}}
    terms.write_text(json.dumps(old), encoding="utf-8")
    index = IndexDir(settings.index_dir)
    assert "stale" not in load_term_stats(index, index.current())[0]  # counted again when read
    ingest(settings, progress=False)
    assert json.loads(terms.read_text(encoding="utf-8")) == fresh  # and written again by the next ingest


def test_edit_and_delete_are_synced(corpus: Path, tmp_path: Path) -> None:
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    ingest(settings, progress=False)
    uk = corpus / UK_DOC
    uk.write_text(uk.read_text(encoding="utf-8") + "\nA new closing paragraph about the port of Vladivostok.\n", encoding="utf-8")
    report = ingest(settings, progress=False)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 1, 0)
    uk_chunks = chunks_by_doc(settings.index_dir)[UK_DOC]
    assert any("Vladivostok" in text for text in uk_chunks)
    assert len(uk_chunks) == len(set(uk_chunks)), "old chunks of the edited document must be replaced"

    (corpus / BRITAIN_DOC).unlink()
    (corpus / (BRITAIN_DOC + ".meta.toml")).unlink()
    report = ingest(settings, progress=False)
    assert (report.removed, report.unchanged) == (1, 1)
    assert set(chunks_by_doc(settings.index_dir)) == {UK_DOC}
    from assistant import Assistant

    hits = Assistant.open(corpus, settings.index_dir).retrieve("Tikhoretsk ammunition depot Streletskaya Bay", k=20)
    assert hits and {p.doc_id for p in hits} == {UK_DOC}


def _tiny_pdf(*pages: str) -> bytes:
    """A minimal valid PDF with one page per argument, each showing its text (Helvetica); "" is a blank page."""
    font = 3 + 2 * len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(len(pages))), len(pages)),
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * i, font))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_citations_give_the_page(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pages = ("Port report of the harbour office.", "", "The Angara left Najin for Vostochny on 5 October.")
    (corpus / "report.pdf").write_bytes(_tiny_pdf(*pages))
    (doc,) = load_corpus(corpus).documents
    assert doc.text == f"{pages[0]}\n\n{pages[2]}"
    assert doc.page_starts == [0, len(pages[0]) + 2, len(pages[0]) + 2]  # the blank page 2 starts where page 3 does
    index = tmp_path / "index"
    result = cli("ask", "Where did the Angara go on 5 October?", "--corpus", str(corpus), "--index", str(index), "--json")
    assert result.returncode == 0, result.stderr
    (citation,) = json.loads(result.stdout)["citations"]
    assert "Vostochny" in citation["text"] and citation["page"] == 3
    shown = cli("ask", "Where did the Angara go on 5 October?", "--corpus", str(corpus), "--index", str(index))
    assert "report.pdf, p. 3 @" in shown.stdout
    # Documents without pages have none.
    assert Assistant.open(ROOT / "corpus", tmp_path / "shipped").ask("At which port were the ships loaded?").citations[0].page is None


def test_loaders_and_metadata(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "page.html").write_text(
        "<html><head><title>Port report</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><p>Ships loaded at Najin.</p><noscript>hidden</noscript></body></html>",
        encoding="utf-8",
    )
    (root / "sub" / "notes.md").write_text("---\ntitle: Notes\npublished: 2024-01-22\nsource: Example Wire\n---\n# Heading\nBody text.\n", encoding="utf-8")
    (root / "scan.pdf").write_bytes(_tiny_pdf("Angara loaded containers"))
    (root / "articles.json").write_text(json.dumps([
        {"title": "A", "body": "Alpha body.", "url": "https://example.org/a", "source": "Wire", "published_at": "2023-11-27 08:45:59.000000000Z"},
        {"title": "B", "body": "Beta body.", "published_at": "2023-10-01T10:00:00+00:00"},
        {"title": "C, no body"},
    ]), encoding="utf-8")
    result = load_corpus(root)
    assert [str(p) for p in result.problems] == [
        "articles.json#2: article without a text 'body' skipped; add its text or remove it"
    ]
    docs = {d.doc_id: d for d in result.documents}
    assert docs["page.html"].text == "Ships loaded at Najin." and docs["page.html"].title == "Port report"
    md = docs["sub/notes.md"]
    assert (md.title, md.date, md.source, md.text) == ("Notes", "2024-01-22", "Example Wire", "# Heading\nBody text.\n")
    assert "Angara loaded containers" in docs["scan.pdf"].text
    assert docs["https://example.org/a"].date == "2023-11-27" and docs["https://example.org/a"].path == "articles.json"
    assert docs["articles.json#1"].date == "2023-10-01"


def test_word_files_are_read_and_cited_at_their_offsets(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_word_file(corpus / "calls.docx")
    (doc,) = load_corpus(corpus).documents
    assert doc.title == "Port calls"
    assert doc.text == (
        "Ships at Najin\n\nThe Angara loaded containers at Najin in October.\n\n"
        "Ship\tCargo\nMaria\tcontainers\n\nThe Maria sailed to Vostochny afterwards."
    )
    built = cli("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    # Only the summary line: a one-chunk index gets no library warnings either.
    assert built.returncode == 0 and built.stderr.strip().startswith("1 added") and len(built.stderr.splitlines()) == 1, built.stderr
    bot = Assistant.open(corpus, tmp_path / "index")
    answer = bot.ask("Where did the Maria sail afterwards?")
    assert "Vostochny" in answer.text and not answer.abstained
    (citation,) = answer.citations
    assert citation.path == "calls.docx" and citation.title == "Port calls"
    assert bot.document_text("calls.docx")[citation.start : citation.end] == citation.text


def test_shipped_metadata_is_only_what_the_text_states() -> None:
    docs = {d.doc_id: d for d in load_corpus(ROOT / "corpus").documents}
    assert docs[UK_DOC].date == "2024-01-22" and docs[UK_DOC].author == "" and docs[UK_DOC].source == ""
    assert docs[BRITAIN_DOC].author == "Liza Brovko" and docs[BRITAIN_DOC].date == "" and docs[BRITAIN_DOC].source == ""
    for doc in docs.values():  # verbatim: the document text is the file
        assert doc.text == (ROOT / "corpus" / doc.path).read_text(encoding="utf-8")


@pytest.mark.skipif(not MULTIHOP.exists(), reason="MultiHop-RAG corpus not present")
def test_multihop_corpus_json_loads_as_is(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "corpus.json").symlink_to(MULTIHOP)  # outside the corpus folder: read only when allowed
    assert [p.reason.split(",")[0] for p in load_corpus(root).problems] == ["link to a file outside the corpus folder"]
    result = load_corpus(root, follow_outside_symlinks=True)
    assert not result.problems
    assert len(result.documents) == 609
    assert all(d.doc_id.startswith("http") for d in result.documents)


def test_bad_files_are_reported_and_skipped_and_nothing_indexed_is_lost(corpus: Path, tmp_path: Path) -> None:
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    ingest(settings, progress=False)
    before = chunks_by_doc(settings.index_dir)
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    (corpus / "report.docx").write_bytes(b"PK\x03\x04")
    (corpus / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy Word")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "broken.json").write_text('[{"title": "x", "body": ', encoding="utf-8")
    (corpus / "gone.txt").symlink_to(tmp_path / "missing-target.txt")
    # An indexed document whose file turns bad keeps its indexed version.
    (corpus / UK_DOC).write_bytes(b"\x00\x01\x02 corrupted")

    result = cli("ingest", "--corpus", str(corpus), "--index", str(settings.index_dir), "--json")
    assert result.returncode == 0, result.stderr
    for name, reason in [("empty.txt", "empty"), ("binary.txt", "binary"),
                         ("report.docx", "broken Word file"), ("old.doc", "unsupported"), ("broken.pdf", "broken PDF"), ("broken.json", "JSON"),
                         ("gone.txt", "broken link"), (UK_DOC, "binary")]:
        line = next((l for l in result.stderr.splitlines() if name in l and "skipped" in l), "")
        assert reason in line, (name, result.stderr)
    assert f"kept the indexed version of {UK_DOC}" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["unchanged"] == 2 and summary["removed"] == 0
    assert chunks_by_doc(settings.index_dir) == before


def test_first_ask_builds_the_index_and_says_what_it_skipped(corpus: Path, tmp_path: Path) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    index = tmp_path / "index"
    first = cli("ask", "At which port were the ships loaded?", "--corpus", str(corpus), "--index", str(index))
    assert first.returncode == 0 and "Najin" in first.stdout, first.stderr
    # Only the assistant's own lines: no library progress bars or pypdf log records.
    assert [line.split()[0] for line in first.stderr.strip().splitlines()] == ["skipped", "skipped", "2"], first.stderr
    assert "broken PDF" in first.stderr and "empty.txt" in first.stderr and "2 file(s) skipped" in first.stderr
    again = cli("ask", "At which port were the ships loaded?", "--corpus", str(corpus), "--index", str(index))
    assert again.returncode == 0 and again.stderr == ""
    assert Assistant.open(corpus, index).build_report is None


def test_nothing_usable_and_missing_corpus_exit_non_zero(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.docx").write_bytes(b"PK")
    result = cli("ingest", "--corpus", str(empty), "--index", str(tmp_path / "index"))
    assert result.returncode == 2 and "nothing usable" in result.stderr and "Traceback" not in result.stderr
    missing = cli("ingest", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "index"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    with pytest.raises(CorpusError):
        ingest(load_settings(corpus_dir=tmp_path / "nope", index_dir=tmp_path / "index"))


def test_model_or_chunking_mismatch_says_rebuild(shipped: dict[str, Path]) -> None:
    with pytest.raises(IndexMismatchError, match="assistant ingest --rebuild"):
        ingest(load_settings(**shipped, chunk_size=128))
    from assistant import Assistant

    with pytest.raises(IndexMismatchError, match="chunk_overlap"):
        Assistant.open(**shipped, chunk_overlap=7)
    status = cli("status", "--corpus", str(shipped["corpus_dir"]), "--index", str(shipped["index_dir"]), "--json")
    info = json.loads(status.stdout.strip().splitlines()[-1])
    assert info["documents"] == 2 and info["chunks"] > 2 and info["matches_settings"] is True


def test_second_ingest_waits_or_says_one_is_running(corpus: Path, tmp_path: Path) -> None:
    index = IndexDir(tmp_path / "index")
    lock = index.acquire(timeout=1)
    try:
        with pytest.raises(IndexBusyError, match="another ingest"):
            ingest(load_settings(corpus_dir=corpus, index_dir=index.path, lock_timeout=0.5))
        result = cli("ingest", "--corpus", str(corpus), "--index", str(index.path), env={"ASSISTANT_LOCK_TIMEOUT": "0.5"})
        assert result.returncode == 2 and "another ingest" in result.stderr
    finally:
        lock.release()


def test_settings_precedence_env_then_toml_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSISTANT_TOP_K", "3")
    monkeypatch.setenv("ASSISTANT_CHUNK_OVERLAP", "5")
    assert load_settings().top_k == 3
    (tmp_path / "assistant.toml").write_text("top_k = 4\n", encoding="utf-8")
    assert load_settings().top_k == 4 and load_settings().chunk_overlap == 5
    assert load_settings(top_k=6).top_k == 6
    (tmp_path / "assistant.toml").write_text("top_k = 'many'\n", encoding="utf-8")
    from assistant.core.errors import ConfigError

    with pytest.raises(ConfigError, match="top_k"):
        load_settings()


NO_NETWORK = textwrap.dedent(
    """
    import socket, sys
    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    sys.argv = ["assistant", *sys.argv[1:]]
    from assistant.cli import app
    app(prog_name="assistant")
    """
)


def test_ingest_with_sockets_blocked(corpus: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TIKTOKEN", "TRANSFORMERS"))}
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, "ingest", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "network blocked" not in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["added"] == 2


def test_sentence_vectors_are_precomputed_and_reused(corpus: Path, tmp_path: Path) -> None:
    """Every sentence is embedded at ingest; an edit embeds only the sentences that are new."""
    import numpy as np

    from assistant.index.embeddings import load_embed_model
    from assistant.index.vectors import SentenceVectors, text_key

    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    ingest(settings, progress=False)
    index = IndexDir(settings.index_dir)
    before = SentenceVectors.load(index.current().folder)
    assert before is not None and len(before.keys) > 20
    model = load_embed_model(settings)
    sentence = "What exactly was loaded on them — Britain cannot say for sure."
    assert sentence in (corpus / BRITAIN_DOC).read_text(encoding="utf-8")
    stored = before.get(sentence)
    assert stored is not None
    assert float(stored @ np.asarray(model.get_text_embedding(sentence))) > 0.999

    embedded: list[str] = []

    def counting(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return np.asarray(model.get_text_embedding_batch(texts), dtype=np.float32)

    new = "A new closing paragraph about the port of Vladivostok."
    folder = index.current().folder
    texts = {text_key(text): text for text in (sentence, new)}
    SentenceVectors.build(folder, np.array(list(texts), dtype=np.uint64), texts, counting)
    assert embedded == [new]
    after = SentenceVectors.load(folder)
    assert after is not None and len(after.keys) == 2
    assert np.array_equal(after.get(sentence), stored)


def test_chroma_gets_chunks_in_batches(tmp_path: Path) -> None:
    """More chunks than Chroma takes in one call (5,461) arrive in batches; here the batch is 2."""
    from llama_index.core.schema import TextNode

    from assistant.index.chroma_store import BatchedChromaVectorStore

    index = IndexDir(tmp_path / "index")
    store = BatchedChromaVectorStore(chroma_collection=index.collection(), max_batch=2)
    nodes = [TextNode(id_=f"n{i}", text=f"chunk {i}", embedding=[float(i), 1.0, 0.0]) for i in range(5)]
    assert store.add(nodes) == [f"n{i}" for i in range(5)]
    assert index.collection().count() == 5
