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

from assistant.app.assistant import Assistant
from assistant.core.config import load_settings
from assistant.corpus.documents import SourceDocument, load_corpus
from assistant.index.ingest import BLOCK_CHARS, OffsetChunker, ingest, to_llama_document
from assistant.core.tokens import count_tokens
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


# --- links, devices, pipes, sizes ------------------------------------------------------------------------------


OUTSIDE = "link to a file outside the corpus folder, not read; copy the file into the corpus, or set follow_outside_symlinks = true"
BINARY = "binary content, not text; convert it to .txt, .md, .html, .pdf or .docx"
SUPPORTED = ".docx, .htm, .html, .json, .markdown, .md, .pdf, .txt"
ORPHAN = "metadata sidecar without its document; remove it or add the document"
EMPTY = "the file is empty; add text or remove it"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
# Each bad file in the corpus, and the reason `ingest` skips it with (the README's table lists the same).
SKIPPED = {
    "empty.txt": EMPTY,
    "blank.md": EMPTY,
    "image.txt": BINARY,
    "notepad-no-bom.txt": BINARY,
    "photo.png": f"unsupported file type '.png'; use {SUPPORTED}",
    "legacy.doc": f"unsupported file type '.doc'; use {SUPPORTED}",
    "README": f"unsupported file type '(none)'; use {SUPPORTED}",
    "draft.docx": "broken Word file (File is not a zip file); open and save it again as .docx",
    "bomb.docx": "the Word file unpacks to 101.0 MB, over the limit of 100.0 MB (a zip bomb?); save it again from Word, or raise max_file_mb",
    "scan.pdf": "the PDF has no text layer (scanned pages?); OCR it first, e.g. with ocrmypdf, and add the result",
    "cut.pdf": "broken PDF (Stream has ended unexpectedly); open it in a PDF viewer and save or print it as a new PDF",
    "error-page.pdf": "not a PDF (no %PDF- header at its start); give the file its real type, or save it as PDF again",
    "locked.pdf": "the PDF needs a password to open; save a copy without the password and add that",
    "broken.json": "broken JSON at line 1 column 25: Expecting value",
    "object.json": "JSON must be a list of article objects with 'title' and 'body'",
    "no-body.json#0": "article without a text 'body' skipped; add its text or remove it",
    "no-body.json": "no article with a non-empty 'body' in the JSON list",
    "twice.json": "duplicate document id 'https://example.org/angara'; ids must be unique",
    "orphan.txt.meta.toml": ORPHAN,
    "huge.txt": "too large (101.0 MB, over the limit of 100.0 MB); split the file, or raise max_file_mb",
    "long-title.txt": "its title, source and date take more than the 256 tokens of a chunk; shorten the title in its sidecar",
    "passwd.txt": OUTSIDE,
    "zero.txt": OUTSIDE,
    "pipe-link.txt": OUTSIDE,
    "pipe.txt": "a named pipe (FIFO), not a document; only regular files are read, remove it from the corpus",
    "socket.txt": "a socket, not a document; only regular files are read, remove it from the corpus",
    "loop.txt": "symbolic link loop; point the link at a file or remove it",
    "dangling.txt": "broken link: its target does not exist; fix the link or remove it",
    "folder": "link to a folder, not followed; move or copy the folder into the corpus",
}
# Files indexed all the same, and the warning each gets.
WARNED = {
    ("windows-1252.txt", 'not UTF-8; read as Windows-1252 (detected), e.g. "he trawler Séverine dock"; save it as UTF-8 to be sure'),
    ("latin-1.txt", 'not UTF-8; read as Windows-1252 (detected), e.g. "ooner Conceição sailed f"; save it as UTF-8 to be sure'),
    ("windows-1251.txt", 'not UTF-8; read as Windows-1251 (detected), e.g. "Судно «Аврор"; save it as UTF-8 to be sure'),
    ("notepad.txt", "read as UTF-16 (byte-order mark); save it as UTF-8 to be sure"),
    ("cut-utf8.txt", "1 byte(s) are not valid UTF-8 (the first at byte 57) and read as \ufffd; save the file as UTF-8 to fix them"),
    ("typo.txt", "unknown key 'titel' in typo.txt.meta.toml ignored; did you mean 'title'?"),
    ("typo.txt", "'published' in typo.txt.meta.toml ignored (Value error, day is out of range for month); fix it"),
    ("bad-toml.txt", "bad-toml.txt.meta.toml unreadable (Expected '=' after a key in a key/value pair (at line 1, column 6)), its metadata not used; fix that file"),
    ("hugo.md", "unknown key 'layout' in the front matter ignored; the keys are title, author, published, source, url, category"),
    ("bad-yaml.md", "front matter unreadable (mapping values are not allowed here), its metadata not used; fix the block between the --- lines"),
    ("list.md", "the front matter is not a list of keys and values, not used; write key = value lines"),
}


def bad_files(corpus: Path, outside: Path) -> None:
    """Write every file of SKIPPED and WARNED into `corpus` (links point into `outside` too)."""
    import socket
    import zipfile

    from pypdf import PdfWriter

    from test_ingest import _tiny_pdf

    def put(name: str, data: bytes | str) -> None:
        (corpus / name).write_bytes(data.encode() if isinstance(data, str) else data)

    for name, data in [
        ("empty.txt", b""), ("blank.md", " \n\t\n"), ("image.txt", PNG), ("photo.png", PNG),
        ("notepad-no-bom.txt", "The barge Ilse moored.".encode("utf-16-le")), ("legacy.doc", b"\xd0\xcf\x11\xe0 Word 97"),
        ("README", "Notes."), ("draft.docx", b"PK\x03\x04"), ("error-page.pdf", "<html><body>404 Not Found</body></html>"),
        ("broken.json", '[{"title": "x", "body": '), ("object.json", '{"title": "x", "body": "y"}'), ("no-body.json", '[{"title": "x"}]'),
        ("orphan.txt.meta.toml", 'title = "Orphan"\n'),
        ("windows-1252.txt", "Port news. The trawler Séverine docked at Saint-Malo; hake sold at 5 € a kilo.".encode("cp1252")),
        ("latin-1.txt", "The schooner Conceição sailed from Setúbal to Faro.".encode("latin-1")),
        ("windows-1251.txt", "Судно «Аврора» пришло в порт Мурманск утром, с грузом леса.".encode("cp1251")),
        ("notepad.txt", "The barge Ørsted moored at Aarhus.".encode("utf-16")),
        ("cut-utf8.txt", "The coaster Åland reached Mariehamn at dawn, as planned.".encode() + b"\xe2\x82"),
        ("typo.txt", "The dredger Mole worked in the Elbe estuary."),
        ("typo.txt.meta.toml", 'titel = "Elbe works"\npublished = "2024-02-30"\nsource = "Port Gazette"\n'),
        ("bad-toml.txt", "The pilot boat Orca met the tanker."), ("bad-toml.txt.meta.toml", "title: Orca\n"),
        ("hugo.md", "---\ntitle: Tugs\nlayout: post\n---\nThe tug Vigor assisted three ships.\n"),
        ("bad-yaml.md", "---\ntitle: a: b\n---\nThe ferry Stella crossed the sound.\n"),
        ("list.md", "---\n- one\n- two\n---\nThe launch Petrel carried the pilot.\n"),
        ("long-title.txt", "The pilot boat Orca met the tanker at the breakwater."),
        ("long-title.txt.meta.toml", 'title = "' + " ".join(["Harbour"] * 300) + '"\n'),
    ]:
        put(name, data)
    pdf = _tiny_pdf("The Angara left Najin for Vostochny on 5 October.")
    put("cut.pdf", pdf[: len(pdf) // 2])
    (corpus / "no-copying.pdf").write_bytes(pdf)
    for name, user_password in (("no-copying.pdf", ""), ("locked.pdf", "secret")):
        writer = PdfWriter(clone_from=corpus / "no-copying.pdf")
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
        writer.write(corpus / name)
    scanned_pdf(corpus, "scan.pdf")
    with zipfile.ZipFile(corpus / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as package:  # 100 kB that unpack to 101 MB
        package.writestr("word/document.xml", b"<" + b" " * 101_000_000 + b">")
    article = {"title": "Angara", "body": "The Angara loaded containers.", "url": "https://example.org/angara"}
    put("once.json", json.dumps([article]))
    put("twice.json", json.dumps([article]))
    with (corpus / "huge.txt").open("wb") as sparse:  # 101 MB on paper, no disk used: refused before any read
        sparse.truncate(101_000_000)
    (outside / "private.txt").write_text("The vault code is 7741; nobody outside the office may read this.", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to(outside / "private.txt")
    (corpus / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(outside / "pipe")
    (corpus / "pipe-link.txt").symlink_to(outside / "pipe")
    os.mkfifo(corpus / "pipe.txt")
    socket.socket(socket.AF_UNIX).bind(str(corpus / "socket.txt"))
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    (corpus / "notes").mkdir()
    (corpus / "notes" / "ship.txt").write_text("The tug Boreas towed the barge Ilse into Bremerhaven.", encoding="utf-8")
    (corpus / "folder").symlink_to(corpus / "notes")
    (corpus / "alias.txt").symlink_to(corpus / "notes" / "ship.txt")  # inside the corpus: read


def test_every_bad_file_is_skipped_or_indexed_with_its_reason(tmp_path: Path) -> None:
    """Before: links to /etc/passwd were indexed, /dev/zero ended the run with a MemoryError, a pipe hung it,
    a title longer than a chunk raised ValueError, a loop was told to check its permissions, Latin-1 text and
    any sidecar with a typo were refused. Now each is skipped or warned about by name, and the rest indexed."""
    corpus = copy_corpus(tmp_path / "corpus")
    outside = tmp_path / "outside"
    outside.mkdir()
    bad_files(corpus, outside)
    index = tmp_path / "index"
    result = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json", "--strict")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {item["path"]: item["reason"] for item in report["skipped"]} == SKIPPED
    assert {(item["path"], item["message"]) for item in report["warnings"]} == WARNED
    lines = result.stderr.splitlines()
    assert lines[-1] == f"strict: {len(SKIPPED)} file(s) skipped"
    assert sorted(lines[:-2]) == sorted([f"skipped {path}: {reason}" for path, reason in SKIPPED.items()]
                                        + [f"warning {path}: {message}" for path, message in WARNED])
    indexed = {*BOTH, *(path for path, _ in WARNED), "no-copying.pdf", "https://example.org/angara", "notes/ship.txt", "alias.txt"}
    stored = chunks_by_doc(index)
    assert set(stored) == indexed and "7741" not in json.dumps(stored)
    bot = Assistant.open(corpus, index)
    typo = next(doc for doc in bot.list_documents() if doc["doc_id"] == "typo.txt")
    assert (typo["title"], typo["source"], typo["date"]) == ("The dredger Mole worked in the Elbe estuary.", "Port Gazette", "")
    assert bot.document_text("latin-1.txt") == "The schooner Conceição sailed from Setúbal to Faro."
    assert bot.document_text("notepad.txt") == "The barge Ørsted moored at Aarhus."
    assert bot.document_text("cut-utf8.txt").endswith("as planned.\ufffd")

    # Allowed out: the private file is read; a device or a pipe is still no document, and nothing blocks.
    allowed = cli("ingest", "--corpus", str(corpus), "--index", str(index), "--json",
                  env={"ASSISTANT_FOLLOW_OUTSIDE_SYMLINKS": "true"})
    assert allowed.returncode == 0, allowed.stderr
    skipped = {item["path"]: item["reason"] for item in json.loads(allowed.stdout.strip().splitlines()[-1])["skipped"]}
    assert skipped == {
        **{path: reason for path, reason in SKIPPED.items() if path != "passwd.txt"},
        "zero.txt": "a character device, not a document; only regular files are read, remove it from the corpus",
        "pipe-link.txt": SKIPPED["pipe.txt"],
    }
    assert "7741" in json.dumps(chunks_by_doc(index))


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_rest_indexed(tmp_path: Path) -> None:
    """Before: a Latin-1 name (bytes b"caf\\xe9.txt") ended the ingest with a UnicodeEncodeError traceback in Chroma."""
    corpus = copy_corpus(tmp_path / "corpus")
    (Path(os.fsdecode(bytes(corpus) + b"/caf\xe9.txt"))).write_text("The tug Vigor assisted three ships.\n")
    result = cli("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["added"] == 2
    assert report["skipped"] == [{"path": "caf\\xe9.txt", "reason": "file name is not valid UTF-8 text; rename the file"}]


def test_strict_exits_zero_when_nothing_was_skipped(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    result = cli("ingest", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--json", "--strict")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["skipped"] == [] and report["kept"] == [] and report["warnings"] == [] and report["added"] == 2


# --- encodings and metadata: indexed, with a warning -------------------------------------------------------------


def test_a_windows_1252_document_is_cited_in_its_own_characters(tmp_path: Path) -> None:
    """It was refused ("not UTF-8 (byte 39); save the file as UTF-8"); now it is read and cited exactly."""
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / "brest.txt").write_bytes(
        "Port news from Brittany\n\nThe trawler Séverine docked at Saint-Malo on 12 May. Its crew of nine unloaded 30 "
        "tonnes of hake, sold at 5 € a kilo. The harbour master said the catch was the largest this spring.\n".encode("cp1252")
    )
    index = tmp_path / "index"
    report = ingest(load_settings(corpus_dir=corpus, index_dir=index), progress=False)
    assert report.added == 3 and not report.problems
    assert [str(w) for w in report.warnings] == [
        'brest.txt: not UTF-8; read as Windows-1252 (detected), e.g. "he trawler Séverine dock"; save it as UTF-8 to be sure'
    ]
    bot = Assistant.open(corpus, index)
    assert "sold at 5 € a kilo" in bot.document_text("brest.txt")
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
        assert not text[chunk.metadata["end"] : after.metadata["start"]].strip()  # no text left out between chunks


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
