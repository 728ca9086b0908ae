"""Files as users and hostile folders bring them: real PDFs (LaTeX, LibreOffice, groff, scanned), links out of
the corpus and into devices and pipes, legacy encodings, sidecars with typos, huge texts. Each is ingested with
the real CLI or API into a real index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.config import load_settings
from assistant.documents import SourceDocument, load_corpus
from assistant.ingest import BLOCK_CHARS, OffsetChunker, ingest, to_llama_document
from assistant.tokens import count_tokens
from conftest import BRITAIN_DOC, ROOT, UK_DOC, copy_corpus
from test_ingest import chunks_by_doc, cli

BOTH = {UK_DOC, BRITAIN_DOC}
MULTIHOP = ROOT.parent / "shared" / "benchmarks" / "multihop-rag" / "corpus.json"


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (.ci/run installs it: apt-get install texlive-latex-base libreoffice-writer-nogui groff)")


def run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=300)


# --- PDFs made by real generators, one fact per page ---------------------------------------------------------

LATEX_PAGES = [
    r"\section{Harbour log} The harbour office at Alderney filed its weekly traffic report on Monday. "
    r"Efficient fishing fleets fled the affluent fjord before the storm. Three yachts stayed in the marina.",
    r"The ferry Kestrel left Troms\o{} for Bod\o{} on 3 March, carrying 41 passengers. "
    r"The crossing took eleven hours in heavy seas. Two crew members were treated for minor injuries.",
    r"The tanker Meridian unloaded 12,000 tonnes of diesel at Hammerfest on 18 April. "
    r"Its next port of call was Murmansk. The harbour fees were paid in advance.",
]
OFFICE_PAGES = [
    "Port calls in the Baltic. The freighter Wanda loaded timber at Klaipėda on 2 June. The timber was bound for Rotterdam.",
    "The cargo ship Albatross docked at Gdańsk on 9 July with 300 containers. Customs officers inspected twelve of them.",
    "The icebreaker Polaris escorted two barges to Oulu on 20 January. The ice in the gulf was 40 centimetres thick.",
]
GROFF_PAGES = [
    "The survey vessel Corvina mapped the seabed near Islay. Its sonar found two wrecks from the last century.",
    "The trawler Marlin landed 80 tonnes of cod at Peterhead on 5 May. The fish market sold the catch within a day.",
]


def latex_pdf(folder: Path, name: str) -> Path:
    needs("pdflatex")
    work = folder.parent / "latex"
    work.mkdir(exist_ok=True)
    body = "\n\\newpage\n".join(LATEX_PAGES)
    (work / "doc.tex").write_text(f"\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n", encoding="utf-8")
    run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex", cwd=work)
    return Path(shutil.copyfile(work / "doc.pdf", folder / name))


def office_pdf(folder: Path, name: str) -> Path:
    """A Word document with a page per fact, converted by LibreOffice (its own profile: parallel runs clash)."""
    import docx

    needs("soffice")
    work = folder.parent / "office"
    work.mkdir(exist_ok=True)
    document = docx.Document()
    for number, text in enumerate(OFFICE_PAGES):
        if number:
            document.add_page_break()
        document.add_paragraph(text)
    document.save(work / "calls.docx")
    run("soffice", f"-env:UserInstallation=file://{work}/profile", "--headless", "--convert-to", "pdf", "calls.docx", cwd=work)
    return Path(shutil.copyfile(work / "calls.pdf", folder / name))


def groff_pdf(folder: Path, name: str) -> Path:
    needs("groff")
    source = "\n.bp\n".join(f".PP\n{text}" for text in GROFF_PAGES)
    pdf = subprocess.run(["groff", "-ms", "-Tpdf"], input=source.encode(), capture_output=True, check=True, timeout=120).stdout
    (folder / name).write_bytes(pdf)
    return folder / name


def scanned_pdf(folder: Path, name: str) -> Path:
    """Two pages that are only pictures of text, as a scanner makes them."""
    from PIL import Image, ImageDraw

    pages = []
    for text in ("Scanned page one: the Wanda at Klaipeda.", "Scanned page two."):
        page = Image.new("RGB", (1240, 1754), "white")
        ImageDraw.Draw(page).text((100, 100), text, fill="black")
        pages.append(page)
    pages[0].save(folder / name, save_all=True, append_images=pages[1:], resolution=150)
    return folder / name


def test_real_pdfs_are_indexed_with_their_pages(tmp_path: Path) -> None:
    """Every real PDF holds NUL bytes in its first 8 kB; the text-file check refused them all as binary."""
    corpus = copy_corpus(tmp_path / "corpus")  # beside news articles, as a corpus is
    pdfs = {"latex.pdf": latex_pdf(corpus, "latex.pdf"), "office.pdf": office_pdf(corpus, "office.pdf"),
            "groff.pdf": groff_pdf(corpus, "groff.pdf")}
    scanned_pdf(corpus, "scan.pdf")
    for path in pdfs.values():
        assert b"\x00" in path.read_bytes()[:8192]  # what made the old check call them binary
    index = tmp_path / "index"
    result = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["added"] == 5
    (scan,) = report["skipped"]
    assert scan["path"] == "scan.pdf" and "no text layer" in scan["reason"] and "OCR it first" in scan["reason"]

    bot = Assistant.open(corpus, index)
    # Each page's own words sit on that page, in the retrieved passage and in the document's text.
    for doc_id, words in {"latex.pdf": ["Alderney", "Kestrel", "Hammerfest"], "office.pdf": ["Wanda", "Albatross", "Polaris"],
                          "groff.pdf": ["Corvina", "Marlin"]}.items():
        text = bot.document_text(doc_id)
        for page, word in enumerate(words, 1):
            offset = text.index(word)
            (passage,) = [p for p in bot.retrieve(word, k=20) if p.doc_id == doc_id and p.start <= offset < p.end][:1]
            assert passage.page_at(offset) == page, (doc_id, word)
            assert text[passage.start : passage.end] == passage.text
    for question, doc_id, page, expected in [
        ("Where did the tanker Meridian unload diesel?", "latex.pdf", 3, "Hammerfest"),
        ("Which ferry left Tromsø for Bodø on 3 March?", "latex.pdf", 2, "Kestrel"),
        ("Where did the Albatross dock on 9 July?", "office.pdf", 2, "Gdańsk"),
        ("Where did the trawler Marlin land its cod?", "groff.pdf", 2, "Peterhead"),
    ]:
        answer = bot.ask(question)
        assert not answer.abstained and expected in answer.text, (question, answer.text)
        cited = [c for c in answer.citations if c.doc_id == doc_id and expected in c.text]
        assert cited and all(c.page == page for c in cited), (question, answer.citations)
        assert all(bot.document_text(c.doc_id)[c.start : c.end] == c.text for c in answer.citations)
    shown = cli("ask", "Where did the Albatross dock on 9 July?", "--corpus", str(corpus), "--index", str(index))
    assert "office.pdf, p. 2 @" in shown.stdout, shown.stdout


def test_broken_and_locked_pdfs_get_advice_that_fits(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = latex_pdf(corpus, "good.pdf").read_bytes()
    (corpus / "truncated.pdf").write_bytes(good[: len(good) // 2])
    (corpus / "page.pdf").write_bytes(b"<html><body>404 Not Found</body></html>")
    for name, user_password in (("no-copying.pdf", ""), ("locked.pdf", "secret")):
        writer = PdfWriter(clone_from=corpus / "good.pdf")
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
        writer.write(corpus / name)
    result = load_corpus(corpus)
    reasons = {problem.path: problem.reason for problem in result.problems}
    assert sorted(doc.doc_id for doc in result.documents) == ["good.pdf", "no-copying.pdf"]
    assert reasons["truncated.pdf"].startswith("broken PDF") and "save or print it as a new PDF" in reasons["truncated.pdf"]
    assert reasons["page.pdf"].startswith("not a PDF")
    assert reasons["locked.pdf"].startswith("the PDF needs a password")
    assert not any("convert it to" in reason for reason in reasons.values())  # the text-file advice, wrong for a PDF


# --- links, devices, pipes, sizes ------------------------------------------------------------------------------


def test_links_leave_the_corpus_only_when_allowed_and_reads_are_bounded(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    outside = tmp_path / "private.txt"
    outside.write_text("The vault code is 7741; nobody outside the office may read this.", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(outside)
    (corpus / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe")
    (corpus / "pipe-link.txt").symlink_to(tmp_path / "pipe")
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    (corpus / "folder").symlink_to(corpus / "notes")
    (corpus / "notes").mkdir()
    (corpus / "notes" / "ship.txt").write_text("The tug Boreas towed the barge Ilse into Bremerhaven.", encoding="utf-8")
    (corpus / "alias.txt").symlink_to(corpus / "notes" / "ship.txt")  # inside the corpus: read
    (corpus / "big.txt").write_text("Ballast water. " * 2000, encoding="utf-8")
    index = tmp_path / "index"

    result = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json", "--strict",
                 env={"ASSISTANT_MAX_FILE_MB": "0.02"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    skipped = {item["path"]: item["reason"] for item in report["skipped"]}
    assert skipped == {
        "passwd.txt": "link to a file outside the corpus folder, not read; copy the file into the corpus, or set follow_outside_symlinks = true",
        "zero.txt": "link to a file outside the corpus folder, not read; copy the file into the corpus, or set follow_outside_symlinks = true",
        "pipe-link.txt": "link to a file outside the corpus folder, not read; copy the file into the corpus, or set follow_outside_symlinks = true",
        "pipe.txt": "a named pipe (FIFO), not a document; only regular files are read, remove it from the corpus",
        "loop.txt": "symbolic link loop; point the link at a file or remove it",
        "dangling.txt": "broken link: its target does not exist; fix the link or remove it",
        "folder": "link to a folder, not followed; move or copy the folder into the corpus",
        "big.txt": "too large (30.0 kB, over the limit of 20.0 kB); split the file, or raise max_file_mb",
    }, skipped
    for line in result.stderr.splitlines()[:-2]:
        assert line.startswith("skipped ") and line.removeprefix("skipped ").split(":")[0] in skipped
    assert "7741" not in json.dumps(chunks_by_doc(index))
    assert set(chunks_by_doc(index)) == {*BOTH, "alias.txt", "notes/ship.txt"}

    # Allowed: the outside file is read; a device or a pipe is still no document, and nothing blocks.
    allowed = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json",
                  env={"ASSISTANT_FOLLOW_OUTSIDE_SYMLINKS": "true"})
    assert allowed.returncode == 0, allowed.stderr
    skipped = {item["path"]: item["reason"] for item in json.loads(allowed.stdout.strip().splitlines()[-1])["skipped"]}
    assert "passwd.txt" not in skipped and "big.txt" not in skipped
    assert skipped["zero.txt"].startswith("a character device, not a document")
    assert skipped["pipe-link.txt"].startswith("a named pipe (FIFO)")
    assert "7741" in json.dumps(chunks_by_doc(index))


def test_strict_exits_zero_when_nothing_was_skipped(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    result = cli("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--json", "--strict")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["skipped"] == [] and report["kept"] == [] and report["warnings"] == [] and report["added"] == 2


# --- encodings and metadata: indexed, with a warning -------------------------------------------------------------


def test_legacy_encodings_and_sidecar_typos_are_indexed_with_a_warning(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "brest.txt").write_bytes(
        "Port news from Brittany\n\nThe trawler Séverine docked at Saint-Malo on 12 May. Its crew of nine unloaded 30 "
        "tonnes of hake, sold at 5 € a kilo. The harbour master said the catch was the largest this spring.\n".encode("cp1252")
    )
    (corpus / "lisbon.txt").write_bytes("The schooner Conceição sailed from Setúbal to Faro.\n".encode("latin-1"))
    (corpus / "notepad.txt").write_bytes("The barge Ørsted moored at Aarhus.\n".encode("utf-16"))
    (corpus / "cut.txt").write_bytes("The coaster Åland reached Mariehamn at dawn, as planned.\n".encode() + b"\xe2\x82")
    (corpus / "typo.txt").write_text("The dredger Mole worked in the Elbe estuary.\n", encoding="utf-8")
    (corpus / "typo.txt.meta.toml").write_text('titel = "Elbe works"\npublished = "2024-02-30"\nsource = "Port Gazette"\n', encoding="utf-8")
    (corpus / "hugo.md").write_text("---\ntitle: Tugs\nlayout: post\n---\nThe tug Vigor assisted three ships.\n", encoding="utf-8")
    index = tmp_path / "index"
    result = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json", "--strict")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["added"] == 8 and report["skipped"] == []
    warnings = {(item["path"], item["message"]) for item in report["warnings"]}
    assert warnings == {
        ("brest.txt", "not UTF-8; read as Windows-1252 (detected); save it as UTF-8 to be sure"),
        ("lisbon.txt", "not UTF-8; read as Windows-1252 (detected); save it as UTF-8 to be sure"),
        ("notepad.txt", "read as UTF-16 (byte-order mark); save it as UTF-8 to be sure"),
        ("cut.txt", "1 byte(s) are not valid UTF-8 (the first at byte 58) and read as \ufffd; save the file as UTF-8 to fix them"),
        ("typo.txt", "unknown key 'titel' in typo.txt.meta.toml ignored; did you mean 'title'?"),
        ("typo.txt", "'published' in typo.txt.meta.toml ignored (Value error, day is out of range for month); fix it"),
        ("hugo.md", "unknown key 'layout' in the front matter ignored; the keys are title, author, published, source, url, category"),
    }, warnings
    assert "warning typo.txt: unknown key 'titel'" in result.stderr

    bot = Assistant.open(corpus, index)
    assert bot.document_text("brest.txt").startswith("Port news from Brittany\n\nThe trawler Séverine docked at Saint-Malo")
    assert "sold at 5 € a kilo" in bot.document_text("brest.txt")
    assert bot.document_text("lisbon.txt") == "The schooner Conceição sailed from Setúbal to Faro.\n"
    typo = next(doc for doc in bot.list_documents() if doc["doc_id"] == "typo.txt")
    assert (typo["source"], typo["date"]) == ("Port Gazette", "")
    answer = bot.ask("Where did the trawler Séverine dock?")
    assert "Saint-Malo" in answer.text
    (citation,) = [c for c in answer.citations if c.doc_id == "brest.txt"]
    assert bot.document_text("brest.txt")[citation.start : citation.end] == citation.text and "Séverine" in citation.text


# --- huge and unsplittable texts ---------------------------------------------------------------------------------


def prose(size: int, newlines: bool) -> str:
    """`size` characters of news prose (MultiHop-RAG, else the shipped corpus), with or without line breaks."""
    if MULTIHOP.exists():
        texts = [article["body"] for article in json.loads(MULTIHOP.read_text(encoding="utf-8"))[:60]]
    else:
        texts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "corpus").glob("*.txt"))]
    text = "\n\n".join(texts) if newlines else " ".join(" ".join(t.split()) for t in texts)
    return (text * (size // len(text) + 1))[:size]


def check_chunks(text: str, chunks: list) -> None:
    """Verbatim, in order, numbered without gaps, covering the text from its first to its last character."""
    assert [chunk.id_ for chunk in chunks] == [f"doc::{i}" for i in range(len(chunks))]
    starts = [chunk.metadata["start"] for chunk in chunks]
    assert starts == sorted(starts) and starts[0] == 0 and chunks[-1].metadata["end"] == len(text.rstrip())
    for chunk, after in zip(chunks, chunks[1:]):
        assert text[chunk.metadata["start"] : chunk.metadata["end"]] == chunk.text
        assert after.metadata["start"] <= chunk.metadata["end"] + 2  # no text left out between chunks


@pytest.mark.parametrize("newlines", [False, True], ids=["one-line", "paragraphs"])
def test_a_10_mb_text_is_chunked_in_blocks(newlines: bool) -> None:
    """10 MB in one paragraph took the splitter's sentence tokenizer over NLTK's 5 s regex limit: `ingest` ended
    with "cannot write the index ... (regular-expression match exceeded its 5.0s time limit ...)"."""
    text = prose(10_000_000, newlines)
    doc = to_llama_document(SourceDocument(doc_id="doc", path="doc.txt", text=text, title="Long file"))
    chunks = OffsetChunker(chunk_size=256, chunk_overlap=32)([doc])
    check_chunks(text, chunks)
    assert len(chunks) > 9_000


def test_a_run_without_spaces_is_cut_into_pieces() -> None:
    """One 1 MB "word" (a base64 blob) was cut into single characters, each tokenized: minutes of work."""
    text = "QUJD" * 250_000
    doc = to_llama_document(SourceDocument(doc_id="doc", path="doc.txt", text=text, title="blob"))
    chunks = OffsetChunker(chunk_size=256, chunk_overlap=32)([doc])
    assert all(chunk.text and text[chunk.metadata["start"] : chunk.metadata["end"]] == chunk.text for chunk in chunks)
    assert sum(len(chunk.text) for chunk in chunks) >= len(text)  # all of it, with some overlap
    # Filled by tokens in pieces of 16 characters; one character at a time, each counted as a token, a chunk held
    # 256 characters, about 100 tokens of this text.
    tokens = [count_tokens(chunk.text) for chunk in chunks]
    assert sum(tokens) / len(tokens) > 200


def test_a_file_that_cannot_be_chunked_is_skipped_and_the_rest_goes_on(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A title longer than a chunk made the splitter raise ValueError: a traceback, nothing else indexed."""
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    long_title = 'title = "' + " ".join(["Harbour"] * 300) + '"\n'
    (corpus / "long-title.txt").write_text("The pilot boat Orca met the tanker at the breakwater.\n", encoding="utf-8")
    (corpus / "long-title.txt.meta.toml").write_text(long_title, encoding="utf-8")
    big = prose(250_000, newlines=False) + " The dredger Hansa finished the channel at Cuxhaven on 4 June."
    (corpus / "long.txt").write_text(big, encoding="utf-8")

    report = ingest(load_settings(corpus_dir=corpus, index_dir=index), progress=True)
    assert "Chunking" in capfd.readouterr().err  # progress by characters, on stderr
    assert [(p.path, p.reason) for p in report.problems] == [
        ("long-title.txt", "its title, source and date take more than the 256 tokens of a chunk; shorten the title in its sidecar")
    ]
    assert report.added == 3
    stored = chunks_by_doc(index)
    assert set(stored) == {*BOTH, "long.txt"}
    bot = Assistant.open(corpus, index)
    answer = bot.ask("Where did the dredger Hansa finish the channel?")
    (citation,) = [c for c in answer.citations if c.doc_id == "long.txt"]
    assert "Cuxhaven" in citation.text and citation.start > 2 * BLOCK_CHARS  # in the third block
    assert bot.document_text("long.txt")[citation.start : citation.end] == citation.text

    # The same failure on a document indexed before keeps its indexed version.
    (corpus / (UK_DOC + ".meta.toml")).write_text(long_title, encoding="utf-8")
    result = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    again = json.loads(result.stdout.strip().splitlines()[-1])
    assert [item["path"] for item in again["skipped"]] == ["long-title.txt", UK_DOC] and again["kept"] == [UK_DOC]
    assert chunks_by_doc(index) == stored
