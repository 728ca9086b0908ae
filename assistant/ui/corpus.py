"""Corpus changes from the web UI: checked uploads and deletions, each followed by an incremental ingest.

A file only enters the corpus folder under a sanitised name of an allowed type and size, after it
has loaded cleanly; a failed ingest puts the folder back as it was, so nothing indexed is lost.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from assistant.core.errors import AssistantError
from assistant.corpus.documents import SIDECAR_SUFFIX, SUPPORTED_SUFFIXES, DocumentError, load_file

if TYPE_CHECKING:
    from assistant.app.assistant import Assistant
    from assistant.index.ingest import IngestReport

ALLOWED_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))
MAX_NAME_CHARS = 120
MB = 1024 * 1024  # as Gradio counts in its own upload size check
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

Progress = Callable[[float, str], None]  # (share done, what is happening)

# One corpus change at a time per process (the index lock guards against other processes).
corpus_lock = threading.Lock()


class UploadError(AssistantError):
    """An uploaded file or a delete request was refused; the message says why and what to do."""


@dataclass
class Change:
    """What one upload or delete did, for the status box."""

    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    report: IngestReport | None = None


def safe_name(original: str) -> str:
    """A plain file name from whatever the browser sent: no folders, no dots in front, ASCII only."""
    base = PurePosixPath(original.replace("\\", "/")).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem, dot, suffix = base.rpartition(".")
    stem = UNSAFE.sub("_", stem).strip("._-")
    if not dot or not stem:
        raise UploadError(f"{original!r} has no usable file name; rename it (e.g. report.pdf)")
    suffix = "." + suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadError(f"{original!r}: type {suffix} is not allowed; upload {' '.join(ALLOWED_SUFFIXES)} files")
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


def check_upload(path: Path, original: str, corpus: Path, max_bytes: int) -> str:
    """The name the file will have in the corpus; raises UploadError when it may not go there."""
    name = safe_name(original)
    size = path.stat().st_size
    if size > max_bytes:
        raise UploadError(
            f"{original!r} is {size / MB:.2f} MB, over the {max_bytes / MB:.3g} MB limit; split or shrink it"
        )
    if (corpus / name).exists():
        raise UploadError(f"{name!r} is already in the corpus; delete it first to replace it")
    # Load it under its final name (the suffix picks the loader) before it can reach the corpus.
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / name
        shutil.copyfile(path, probe)
        try:
            if not list(load_file(probe, name)):
                raise UploadError(f"{original!r} holds no document; add text to it")
        except DocumentError as exc:
            raise UploadError(f"{original!r}: {exc}") from None
    return name


def add_files(
    bot: Assistant, uploads: list[tuple[Path, str]], max_bytes: int, progress: Progress = lambda share, step: None
) -> Change:
    """Copy the acceptable uploads into the corpus and ingest them; the rest are refused with a reason."""
    corpus = bot.settings.corpus_dir
    change = Change()
    with corpus_lock:
        added: list[Path] = []
        for number, (path, original) in enumerate(uploads):
            progress(0.3 * number / len(uploads), f"checking {number + 1} of {len(uploads)}: {original}")
            try:
                name = check_upload(path, original, corpus, max_bytes)
            except (UploadError, OSError) as exc:
                change.refused.append(str(exc) if isinstance(exc, UploadError) else f"{original!r}: {exc}")
                continue
            target = corpus / name
            partial = corpus / f".{name}.part"  # hidden: ingest skips it until it is complete
            shutil.copyfile(path, partial)
            partial.replace(target)
            added.append(target)
        if not added:
            return change
        progress(0.3, f"indexing {len(added)} new file(s)")
        try:
            change.report = bot.ingest()
        except AssistantError:
            for target in added:
                target.unlink(missing_ok=True)
            raise
        skipped = {problem.path: problem.reason for problem in change.report.problems}
        for target in added:
            rel = target.relative_to(corpus).as_posix()
            if rel in skipped:  # e.g. a JSON article whose id is already taken
                target.unlink(missing_ok=True)
                change.refused.append(f"{rel!r}: {skipped[rel]}")
            else:
                change.done.append(rel)
    return change


def delete_file(bot: Assistant, rel: str) -> Change:
    """Remove a document file and its metadata sidecar from the corpus, then ingest."""
    corpus = bot.settings.corpus_dir.resolve()
    with corpus_lock:
        paths = {str(doc["path"]) for doc in bot.list_documents()}
        if rel not in paths:
            raise UploadError(f"{rel!r} is not a document of this corpus; pick one from the list")
        if len(paths) == 1:
            raise UploadError("this is the last document; add another before deleting it")
        target = (corpus / rel).resolve()
        if corpus not in target.parents:
            raise UploadError(f"{rel!r} is outside the corpus folder; it cannot be deleted from here")
        moved = _set_aside([target, target.with_name(target.name + SIDECAR_SUFFIX)], corpus)
        try:
            report = bot.ingest()
        except AssistantError:
            for original, aside in moved:
                aside.replace(original)
            raise
        for _, aside in moved:
            aside.unlink(missing_ok=True)
        return Change(done=[rel], report=report)


def _set_aside(paths: list[Path], corpus: Path) -> list[tuple[Path, Path]]:
    """Move files to hidden names (ingest ignores them) so that a failed ingest can put them back."""
    moved = []
    for path in paths:
        if path.exists():
            aside = path.with_name(f".{path.name}.deleting")
            path.replace(aside)
            moved.append((path, aside))
    return moved


def chunk_counts(bot: Assistant) -> Counter[str]:
    """Chunks per document id in the loaded generation of the index (the server never reads Chroma)."""
    return Counter(bot.retriever.doc_ids)
