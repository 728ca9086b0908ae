"""Load a corpus folder into documents: verbatim text, hand-written metadata, stable ids.

Metadata comes from a sidecar `<file>.meta.toml` next to the document (or YAML front matter in
.md/.txt files); nothing is guessed except a title taken from the document's own first line.
The document id is the path relative to the corpus root (JSON article lists: the article's url).
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import json
import logging
import os
import re
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from assistant.corpus.decode import BINARY, NotText, decode_text
from assistant.corpus.safe_read import UnreadableFile, check_inside, megabytes, read_limited

SIDECAR_SUFFIX = ".meta.toml"
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx", ".json"}
FRONT_MATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n", re.DOTALL)
INVISIBLE_TAGS = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")
MAX_FILE_BYTES = 100_000_000  # the default of the max_file_mb setting: larger files are skipped unread
MAX_SIDECAR_BYTES = 1_000_000


class DocumentError(Exception):
    """One file could not be read; the message says why."""


class Metadata(BaseModel):
    """What a user may write in a sidecar or front matter. Every field is optional."""

    model_config = ConfigDict(extra="forbid")

    title: str = ""
    author: str = ""
    published: str = ""  # ISO date, YYYY-MM-DD
    source: str = ""  # the outlet, only when the text names it
    url: str = ""
    category: str = ""

    @field_validator("published", mode="before")
    @classmethod
    def _iso_date(cls, value: object) -> str:
        return normalise_date(value)


def normalise_date(value: object) -> str:
    """'2023-11-27 08:45:59.000000000Z', '2023-11-27T08:45:59+00:00', a date -> '2023-11-27'."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    text = str(value).strip()
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    if not match:
        raise ValueError(f"date {text!r} is not YYYY-MM-DD")
    dt.date(*map(int, match.groups()))  # rejects 2024-13-40
    return match.group(0)


@dataclass
class SourceDocument:
    doc_id: str
    path: str  # relative to the corpus root, POSIX separators
    text: str
    title: str = ""
    author: str = ""
    date: str = ""
    source: str = ""
    url: str = ""
    category: str = ""
    page_starts: list[int] = field(default_factory=list)  # PDFs: where each page begins in `text`

    def metadata(self) -> dict[str, str]:
        data = asdict(self)
        data.pop("text")
        pages = data.pop("page_starts")
        if pages:  # only paged documents carry it, so other documents' hashes (and indexes) stay as they were
            data["page_starts"] = ",".join(map(str, pages))
        return data


@dataclass
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class FileWarning:
    """Something wrong with a file that was still indexed (an unknown sidecar key, a guessed encoding)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class LoadResult:
    documents: list[SourceDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[FileWarning] = field(default_factory=list)


def load_corpus(root: Path, follow_outside_symlinks: bool = False, max_bytes: int = MAX_FILE_BYTES) -> LoadResult:
    """Every supported file below root; a bad file becomes a Problem and the rest still load. Links are read
    only when they resolve to a regular file inside root (or anywhere, with follow_outside_symlinks)."""
    result = LoadResult()
    if not root.is_dir():
        result.problems.append(Problem(str(root), "corpus folder not found; pass --corpus DIR with your documents"))
        return result
    seen: set[str] = set()
    # Everything but real folders: links (to anything), pipes and devices each get a reason rather than silence.
    for path in sorted(p for p in root.rglob("*") if p.is_symlink() or not p.is_dir()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # hidden files and folders (.git, .DS_Store) are not documents
        if rel != rel.encode("utf-8", "replace").decode("utf-8"):
            # A Latin-1 name on a UTF-8 system ("caf\xe9.txt") decodes to lone surrogates, which no id,
            # JSON report or Chroma record can hold.
            shown = os.fsencode(rel).decode("utf-8", "backslashreplace")
            result.problems.append(Problem(shown, "file name is not valid UTF-8 text; rename the file"))
            continue
        if rel.endswith(SIDECAR_SUFFIX):
            if not Path(str(path)[: -len(SIDECAR_SUFFIX)]).exists():
                result.problems.append(Problem(rel, "metadata sidecar without its document; remove it or add the document"))
            continue
        try:
            if path.is_symlink():
                check_inside(path, root, follow_outside_symlinks)
                if path.is_dir():  # rglob does not descend into linked folders, which could loop
                    raise DocumentError("link to a folder, not followed; move or copy the folder into the corpus")
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
                raise DocumentError(f"unsupported file type {path.suffix or '(none)'!r}; use {supported}")
            for doc in load_file(path, rel, max_bytes):
                if isinstance(doc, Problem):
                    result.problems.append(doc)
                elif isinstance(doc, FileWarning):
                    result.warnings.append(doc)
                elif doc.doc_id in seen:
                    raise DocumentError(f"duplicate document id {doc.doc_id!r}; ids must be unique")
                else:
                    seen.add(doc.doc_id)
                    result.documents.append(doc)
        except (DocumentError, UnreadableFile) as exc:
            result.problems.append(Problem(rel, str(exc)))
        except Exception as exc:  # a parser's own failure on a hostile file must not end the whole run
            reason = str(exc).splitlines()[0] if str(exc) else ""
            result.problems.append(
                Problem(rel, f"cannot be read ({type(exc).__name__}{': ' + reason if reason else ''}); check or re-save the file")
            )
    return result


def load_file(path: Path, rel: str, max_bytes: int = MAX_FILE_BYTES) -> Iterator[SourceDocument | Problem | FileWarning]:
    """The file's documents, then a FileWarning for anything it had to guess or leave out; a JSON list also
    yields a Problem for each article it skips."""
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix == ".json":
        yield from _articles(path, rel, max_bytes, notes)
        yield from (FileWarning(rel, note) for note in notes)
        return
    page_starts: list[int] = []
    if suffix == ".pdf":
        text, page_starts = _pdf(path, max_bytes)
        meta = Metadata()
    elif suffix == ".docx":
        text, meta = _docx(path, max_bytes)
    else:
        raw = _read_text(path, max_bytes, notes)
        if suffix in HTML_SUFFIXES:
            text, meta = _html(raw)
        else:
            text, meta = _front_matter(raw, notes)
    meta = _merge(meta, _sidecar(path, notes))
    if not text.strip():
        raise DocumentError("no text in the file; add text or remove it")
    yield SourceDocument(
        doc_id=rel,
        path=rel,
        text=text,
        title=meta.title or _first_line(text) or path.stem,
        author=meta.author,
        date=meta.published,
        source=meta.source,
        url=meta.url,
        category=meta.category,
        page_starts=page_starts,
    )
    yield from (FileWarning(rel, note) for note in notes)


def _read_bytes(path: Path, max_bytes: int, binary: bool = False) -> bytes:
    """The file's bytes, read with a size limit; unless the format is `binary` (.docx, .pdf), NUL bytes mean
    it is not text."""
    try:
        data = read_limited(path, max_bytes)
    except UnreadableFile as exc:
        raise DocumentError(str(exc)) from None
    if not data.strip():
        raise DocumentError("the file is empty; add text or remove it")
    if not binary and b"\x00" in data[:8192]:
        raise DocumentError(BINARY)
    return data


def _read_text(path: Path, max_bytes: int, notes: list[str]) -> str:
    """The text in UTF-8, or in the encoding its bytes show (noted)."""
    try:
        text, note = decode_text(_read_bytes(path, max_bytes, binary=True))
    except NotText as exc:
        raise DocumentError(str(exc)) from None
    if note:
        notes.append(note)
    return text


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:200]
    return ""


def _front_matter(raw: str, notes: list[str]) -> tuple[str, Metadata]:
    match = FRONT_MATTER.match(raw)
    if not match:
        return raw, Metadata()
    try:
        data = yaml.safe_load(match.group(1))
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date (2024-13-40)
        notes.append(f"front matter unreadable ({_first_error(exc)}), its metadata not used; fix the block between the --- lines")
        return raw[match.end() :], Metadata()
    return raw[match.end() :], _metadata(data or {}, "the front matter", notes)


def _sidecar(path: Path, notes: list[str]) -> Metadata:
    """The metadata of `<file>.meta.toml`; a sidecar never keeps its document out of the index: what is
    wrong in it is left out and noted."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return Metadata()
    try:
        data = tomllib.loads(read_limited(sidecar, MAX_SIDECAR_BYTES).decode("utf-8"))
    except (UnreadableFile, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        notes.append(f"{sidecar.name} unreadable ({_first_error(exc)}), its metadata not used; fix that file")
        return Metadata()
    return _metadata(data, sidecar.name, notes)


def _metadata(data: object, where: str, notes: list[str]) -> Metadata:
    """The valid keys of a sidecar or front matter; an unknown key ("titel") or a bad value is left out, noted."""
    if not isinstance(data, dict):
        notes.append(f"{where} is not a list of keys and values, not used; write key = value lines")
        return Metadata()
    fields = list(Metadata.model_fields)
    valid: dict[str, object] = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"the keys are {', '.join(fields)}"
            notes.append(f"unknown key {key!r} in {where} ignored; {hint}")
            continue
        try:
            Metadata.model_validate({key: value})
        except ValidationError as exc:
            notes.append(f"{key!r} in {where} ignored ({exc.errors()[0]['msg']}); fix it")
            continue
        valid[key] = value
    return Metadata.model_validate(valid)


def _merge(base: Metadata, override: Metadata) -> Metadata:
    return base.model_copy(update=override.model_dump(exclude_defaults=True))


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}"
    return str(exc).splitlines()[0]


def _html(raw: str) -> tuple[str, Metadata]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(INVISIBLE_TAGS):
        tag.decompose()
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return text, Metadata(title=title)


def _pdf(path: Path, max_bytes: int) -> tuple[str, list[int]]:
    """The text of the pages with text, joined by blank lines, and where each page (numbered from 1) starts.
    A page without text gets the start of the next one, so page numbers stay those of the file."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    # pypdf logs what it repairs or gives up on; a file it cannot read becomes one Problem line instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    data = _read_bytes(path, max_bytes, binary=True)  # a real PDF's compressed streams hold NUL bytes
    if b"%PDF-" not in data[:1024]:
        raise DocumentError("not a PDF (no %PDF- header at its start); give the file its real type, or save it as PDF again")
    try:
        reader = PdfReader(io.BytesIO(data))  # opens a file with only an owner password ("no copying") as is
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotDecryptedError:
        raise DocumentError("the PDF needs a password to open; save a copy without the password and add that") from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DocumentError(f"broken PDF ({reason}); open it in a PDF viewer and save or print it as a new PDF") from None
    parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for page in pages:
        page_starts.append(offset)
        if page.strip():
            parts.append(page.strip())
            offset += len(parts[-1]) + 2  # the "\n\n" that joins it to the next page
    text = "\n\n".join(parts)
    if not text:
        raise DocumentError("the PDF has no text layer (scanned pages?); OCR it first, e.g. with ocrmypdf, and add the result")
    return text, page_starts


def _docx(path: Path, max_bytes: int) -> tuple[str, Metadata]:
    """Paragraphs and tables in document order (a table row is one line, cells split by tabs); the
    title from the file's properties when set. Headers, footers and comments are left out."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from lxml.etree import LxmlError

    data = _read_bytes(path, max_bytes, binary=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:  # a few kB can unpack to gigabytes (a zip bomb)
            unpacked = sum(member.file_size for member in package.infolist())
        if unpacked > max_bytes:
            raise DocumentError(
                f"the Word file unpacks to {megabytes(unpacked)}, over the limit of {megabytes(max_bytes)} (a zip bomb?); "
                "save it again from Word, or raise max_file_mb"
            )
        document = docx.Document(io.BytesIO(data))
        blocks = [
            "\n".join("\t".join(cell.text.strip() for cell in row.cells) for row in block.rows)
            if isinstance(block, Table)
            else block.text
            for block in document.iter_inner_content()
        ]
        title = (document.core_properties.title or "").strip()
    except (PackageNotFoundError, zipfile.BadZipFile, LxmlError, KeyError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DocumentError(f"broken Word file ({reason}); open and save it again as .docx") from None
    text = "\n\n".join(block.strip() for block in blocks if block.strip())
    return text, Metadata(title=title)


def _articles(path: Path, rel: str, max_bytes: int, notes: list[str]) -> Iterator[SourceDocument | Problem]:
    """A JSON list of {title, body, source?, published_at?, url?, author?, category?} objects."""
    try:
        items = json.loads(_read_text(path, max_bytes, notes))
    except json.JSONDecodeError as exc:
        raise DocumentError(f"broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(items, list):
        raise DocumentError("JSON must be a list of article objects with 'title' and 'body'")
    found = False
    for number, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("body"), str) or not item["body"].strip():
            # Reported under its own name, so the file's other articles count as loaded, not broken.
            yield Problem(f"{rel}#{number}", "article without a text 'body' skipped; add its text or remove it")
            continue
        found = True
        author = str(item.get("author") or "")
        try:
            date = normalise_date(item.get("published_at"))
        except ValueError:
            date = ""
        yield SourceDocument(
            doc_id=str(item.get("url") or f"{rel}#{number}"),
            path=rel,
            text=item["body"],
            title=str(item.get("title") or "").strip() or _first_line(item["body"]),
            author="" if author == "None" else author,
            date=date,
            source=str(item.get("source") or ""),
            url=str(item.get("url") or ""),
            category=str(item.get("category") or ""),
        )
    if not found:
        raise DocumentError("no article with a non-empty 'body' in the JSON list")
